//! Reading the next batch while the caller works on this one: a
//! consumer that applies a batch to a database then reads the log spends
//! the read's time idle; with one batch read ahead, the two overlap.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use crate::{LogCursor, LogError, StoredEvent};

/// A batch and the cursor's next offsets just after it.
pub type ReadBatch = (Vec<StoredEvent>, BTreeMap<u32, u64>);

/// A cursor read one batch ahead, on a task of its own (stopped when this
/// is dropped).
pub struct ReadAhead {
    batches: mpsc::Receiver<Result<ReadBatch, LogError>>,
    _reader: AbortOnDropHandle<()>,
}

impl ReadAhead {
    pub fn new(mut cursor: Box<dyn LogCursor>, max: usize, wait: Duration) -> Self {
        let (tx, batches) = mpsc::channel(1);
        let reader = tokio::spawn(async move {
            loop {
                let read = cursor
                    .next_batch(max, wait)
                    .await
                    .map(|batch| (batch, cursor.next_offsets()));
                let failed = read.is_err();
                if tx.send(read).await.is_err() || failed {
                    return;
                }
            }
        });
        Self {
            batches,
            _reader: AbortOnDropHandle::new(reader),
        }
    }

    /// As `LogCursor::next_batch`, with the offsets after the batch.
    pub async fn next(&mut self) -> Result<ReadBatch, LogError> {
        self.batches
            .recv()
            .await
            .unwrap_or_else(|| Err(LogError::Unavailable("the log reader stopped".into())))
    }
}
