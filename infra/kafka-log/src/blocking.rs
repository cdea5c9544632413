//! Blocking calls made from librdkafka's callbacks, which run inside
//! `recv` on an async worker thread.

/// Runs `work` so that the worker thread first hands its other tasks on
/// (on a multi-threaded runtime; elsewhere it just runs).
pub(crate) fn off_the_executor<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
