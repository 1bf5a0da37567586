//! list commands (COMMAND DOCS group `list`). Scaffold: filled in by the
//! collections work.

use super::Command;

pub static COMMANDS: &[Command] = &[];
