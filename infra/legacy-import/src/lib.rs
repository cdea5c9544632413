//! The way in from the legacy application: its SQLite file read as it is
//! (`source`), values kept exactly (`value`, `time`), each row planned as
//! the command that brings it over (`plan`), and a row compared with what
//! the platform holds (`verify`). `studio import-legacy` is the shell that
//! runs the plans and prints the report.

#[cfg(feature = "fixture")]
pub mod fixture;
pub mod plan;
pub mod source;
pub mod time;
pub mod value;
pub mod verify;
