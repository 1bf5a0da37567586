//! sorted_set commands (COMMAND DOCS group `sorted-set`). Scaffold: filled in by the
//! collections work.

use super::Command;

pub static COMMANDS: &[Command] = &[];
