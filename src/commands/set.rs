//! set commands (COMMAND DOCS group `set`). Scaffold: filled in by the
//! collections work.

use super::Command;

pub static COMMANDS: &[Command] = &[];
