//! Reading the log up to ends taken beforehand (replays, audits, scans).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::{LogCursor, LogError, StoredEvent};

/// How long a read towards known ends waits for its next event before it
/// fails.
const STALL_LIMIT: Duration = Duration::from_secs(60);
/// A batch of `next_batch`, and how long the cursor waits for one.
const BATCH_EVENTS: usize = 10_000;
const BATCH_WAIT: Duration = Duration::from_millis(200);

/// Watches a read towards ends known to hold events. An empty batch there
/// means the log was slow, not that the rest is gone: a Kafka cursor's
/// first fetch on a loaded machine can take longer than a batch's wait,
/// and a replay that stopped at it reported "0 of 0 events" as a success.
/// So the read goes on, and fails after `STALL_LIMIT` without an event
/// rather than passing part of the log off as all of it.
pub struct ToTheEnd {
    ends: BTreeMap<u32, u64>,
    last_event: Instant,
    limit: Duration,
}

impl ToTheEnd {
    pub fn new(ends: BTreeMap<u32, u64>) -> Self {
        Self::with_limit(ends, STALL_LIMIT)
    }

    fn with_limit(ends: BTreeMap<u32, u64>, limit: Duration) -> Self {
        Self {
            ends,
            last_event: Instant::now(),
            limit,
        }
    }

    /// The cursor's next batch, `None` once it has reached the ends. Empty
    /// batches on the way are waited past, up to the limit.
    pub async fn next_batch(
        &mut self,
        cursor: &mut dyn LogCursor,
    ) -> Result<Option<Vec<StoredEvent>>, LogError> {
        while self.behind(&cursor.next_offsets()) {
            let batch = cursor.next_batch(BATCH_EVENTS, BATCH_WAIT).await?;
            self.after_batch(batch.len(), &cursor.next_offsets())?;
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
        }
        Ok(None)
    }

    /// Whether `next` (each partition's next offset) is short of an end.
    pub fn behind(&self, next: &BTreeMap<u32, u64>) -> bool {
        self.ends
            .iter()
            .any(|(p, end)| next.get(p).copied().unwrap_or(0) < *end)
    }

    /// Called after each batch of `events` events, with the offsets after
    /// it: an error once no event has come for the limit while behind.
    pub fn after_batch(
        &mut self,
        events: usize,
        next: &BTreeMap<u32, u64>,
    ) -> Result<(), LogError> {
        if events > 0 {
            self.last_event = Instant::now();
            return Ok(());
        }
        if self.last_event.elapsed() < self.limit {
            return Ok(());
        }
        let short: Vec<String> = self
            .ends
            .iter()
            .filter_map(|(p, end)| {
                let at = next.get(p).copied().unwrap_or(0);
                (at < *end).then(|| format!("partition {p} at offset {at} of {end}"))
            })
            .collect();
        Err(LogError::Unavailable(format!(
            "the log gave no event for {:?} before its end ({})",
            self.limit,
            short.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(pairs: &[(u32, u64)]) -> BTreeMap<u32, u64> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn an_empty_batch_within_the_limit_is_waited_out() {
        let mut read = ToTheEnd::with_limit(offsets(&[(0, 5)]), Duration::from_secs(60));
        assert!(read.behind(&offsets(&[])));
        assert!(read.after_batch(0, &offsets(&[])).is_ok());
        assert!(read.after_batch(3, &offsets(&[(0, 3)])).is_ok());
        assert!(read.behind(&offsets(&[(0, 3)])));
        assert!(!read.behind(&offsets(&[(0, 5)])));
    }

    #[test]
    fn no_event_for_the_limit_is_an_error_naming_what_is_short() {
        let mut read = ToTheEnd::with_limit(offsets(&[(0, 5), (1, 2)]), Duration::ZERO);
        let Err(LogError::Unavailable(message)) = read.after_batch(0, &offsets(&[(1, 2)])) else {
            panic!("a stalled read must fail");
        };
        assert!(
            message.contains("partition 0 at offset 0 of 5"),
            "{message}"
        );
        assert!(!message.contains("partition 1"), "{message}");
    }

    #[test]
    fn an_event_restarts_the_wait() {
        let mut read = ToTheEnd::with_limit(offsets(&[(0, 5)]), Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(60));
        assert!(read.after_batch(1, &offsets(&[(0, 1)])).is_ok());
        assert!(read.after_batch(0, &offsets(&[(0, 1)])).is_ok());
    }
}
