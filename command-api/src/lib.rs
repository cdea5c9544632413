//! The write side. [`CommandService`] is the application layer of every
//! command: load the aggregate from the log, decide, append with the
//! expected version, retry a lost race. [`http`] turns REST requests into
//! commands for it.

mod forget;
pub mod http;
mod service;

pub use forget::{ForgetReport, ForgottenWork, forget_user};
pub use service::{CommandError, CommandMeta, CommandService, Executed, Loaded};
