//! A cursor over some partitions of a log: what a projector reads when it
//! shares the log's partitions with others.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;

use crate::{LogCursor, LogError, StoredEvent};

/// Passes on the events of `partitions` only. (Adapters that can read
/// just those partitions do so instead.)
pub struct SubsetCursor {
    inner: Box<dyn LogCursor>,
    partitions: BTreeSet<u32>,
}

impl SubsetCursor {
    pub fn new(inner: Box<dyn LogCursor>, partitions: BTreeSet<u32>) -> Self {
        Self { inner, partitions }
    }
}

#[async_trait]
impl LogCursor for SubsetCursor {
    async fn next_batch(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<StoredEvent>, LogError> {
        let mut batch = self.inner.next_batch(max, wait).await?;
        batch.retain(|e| self.partitions.contains(&e.position.partition));
        Ok(batch)
    }

    fn next_offsets(&self) -> BTreeMap<u32, u64> {
        let mut next = self.inner.next_offsets();
        next.retain(|p, _| self.partitions.contains(p));
        next
    }
}
