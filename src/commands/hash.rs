//! hash commands (COMMAND DOCS group `hash`). Scaffold: filled in by the
//! collections work.

use super::Command;

pub static COMMANDS: &[Command] = &[];
