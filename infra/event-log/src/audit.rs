//! Tamper evidence over the whole log: a walk that checks every event's
//! own hash, every link of every stream's chain, contiguous sequences and
//! contiguous (on Kafka: increasing) offsets; and a digest (a Merkle root over all stream heads)
//! that an operator keeps elsewhere to catch a truncated or rewritten tail
//! later.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::envelope::GENESIS_HASH;
use crate::{Position, PositionToken, StoredEvent};

/// One broken link, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    pub position: Position,
    pub stream: Uuid,
    pub sequence: u64,
    pub kind: BreakKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BreakKind {
    /// The event's content does not match its own hash: it was edited.
    ContentChanged,
    /// The event does not chain to the one before it in its stream: an
    /// event before it was edited, removed or moved.
    ChainBroken,
    /// The stream skips or repeats a sequence number.
    SequenceOutOfOrder { expected: u64 },
    /// Offsets in the partition skip: events were removed.
    OffsetsMissing { expected: u64 },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format!(
            "{}:{} (stream {}, sequence {})",
            self.position.partition, self.position.offset, self.stream, self.sequence
        );
        match &self.kind {
            BreakKind::ContentChanged => write!(f, "{at}: the content does not match its hash"),
            BreakKind::ChainBroken => write!(
                f,
                "{at}: does not chain to the previous event of its stream"
            ),
            BreakKind::SequenceOutOfOrder { expected } => {
                write!(
                    f,
                    "{at}: sequence {} where {expected} was due",
                    self.sequence
                )
            }
            BreakKind::OffsetsMissing { expected } => write!(
                f,
                "{at}: offsets {expected} to {} are missing from partition {}",
                self.position.offset.saturating_sub(1),
                self.position.partition
            ),
        }
    }
}

/// Where a stream stands after the walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamHead {
    pub sequence: u64,
    pub hash: String,
}

/// Walks events partition by partition, in offset order.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    heads: HashMap<Uuid, StreamHead>,
    next_offsets: BTreeMap<u32, u64>,
    breaks: Vec<Break>,
    events: u64,
    /// Offsets may skip (Kafka's transaction markers take offsets): then
    /// only their order is checked.
    offset_gaps: bool,
}

impl ChainVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// For a log whose offsets are not dense (see `EventLog::dense_offsets`).
    pub fn allowing_offset_gaps() -> Self {
        Self {
            offset_gaps: true,
            ..Self::default()
        }
    }

    pub fn check(&mut self, stored: &StoredEvent) {
        let computed = stored.envelope.computed_hash();
        self.check_hashed(stored, &computed);
    }

    /// Checks an event whose hash was computed already (in parallel).
    pub fn check_hashed(&mut self, stored: &StoredEvent, computed_hash: &str) {
        let envelope = &stored.envelope;
        let position = stored.position;
        let mut broken = |kind| {
            self.breaks.push(Break {
                position,
                stream: envelope.subject,
                sequence: envelope.aggregatesequence,
                kind,
            })
        };
        let expected_offset = self
            .next_offsets
            .get(&position.partition)
            .copied()
            .unwrap_or(0);
        let in_place = if self.offset_gaps {
            position.offset >= expected_offset
        } else {
            position.offset == expected_offset
        };
        if !in_place {
            broken(BreakKind::OffsetsMissing {
                expected: expected_offset,
            });
        }
        self.next_offsets
            .insert(position.partition, position.offset + 1);

        if computed_hash != envelope.hash {
            broken(BreakKind::ContentChanged);
        }
        let (expected_sequence, expected_prev) = match self.heads.get(&envelope.subject) {
            Some(head) => (head.sequence + 1, head.hash.as_str()),
            None => (1, GENESIS_HASH),
        };
        if envelope.aggregatesequence != expected_sequence {
            broken(BreakKind::SequenceOutOfOrder {
                expected: expected_sequence,
            });
        }
        if envelope.prevhash != expected_prev {
            broken(BreakKind::ChainBroken);
        }
        self.heads.insert(
            envelope.subject,
            StreamHead {
                sequence: envelope.aggregatesequence,
                hash: envelope.hash.clone(),
            },
        );
        self.events += 1;
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn breaks(&self) -> &[Break] {
        &self.breaks
    }

    /// The next offset per partition: how far the walk went.
    pub fn next_offsets(&self) -> &BTreeMap<u32, u64> {
        &self.next_offsets
    }

    /// The digest of every stream head the walk saw.
    pub fn digest(&self) -> LogDigest {
        LogDigest {
            root: merkle_root(&self.heads),
            streams: self.heads.len() as u64,
            upto: PositionToken::from_positions(
                self.next_offsets
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(&partition, &next)| Position {
                        partition,
                        offset: next - 1,
                    }),
            ),
        }
    }
}

/// A digest of the log up to some position: `sha256:<root>@<positions>`.
/// Verifying against it later walks the log up to those positions only, so
/// events appended since do not count, but a removed or rewritten event up
/// to there does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogDigest {
    pub root: String,
    pub streams: u64,
    pub upto: PositionToken,
}

impl fmt::Display for LogDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}@{}", self.root, self.upto)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a log digest (expected sha256:<64 hex>@<partition:offset,...>): {0}")]
pub struct DigestParseError(String);

impl std::str::FromStr for LogDigest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DigestParseError(s.chars().take(80).collect());
        let rest = s.strip_prefix("sha256:").ok_or_else(err)?;
        let (root, upto) = rest.split_once('@').ok_or_else(err)?;
        if root.len() != 64 || !root.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        let upto = if upto.is_empty() {
            PositionToken::default()
        } else {
            upto.parse().map_err(|_| err())?
        };
        Ok(Self {
            root: root.to_ascii_lowercase(),
            streams: 0,
            upto,
        })
    }
}

/// A binary Merkle tree over the heads, sorted by stream id; each leaf is
/// `SHA-256(stream id ":" sequence ":" hash)`, an odd node is promoted.
fn merkle_root(heads: &HashMap<Uuid, StreamHead>) -> String {
    let mut sorted: Vec<(&Uuid, &StreamHead)> = heads.iter().collect();
    sorted.sort_by_key(|(id, _)| **id);
    let mut level: Vec<[u8; 32]> = sorted
        .into_iter()
        .map(|(id, head)| {
            Sha256::digest(format!("{id}:{}:{}", head.sequence, head.hash).as_bytes()).into()
        })
        .collect();
    if level.is_empty() {
        return hex::encode(Sha256::digest(b""));
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    let mut hasher = Sha256::new();
                    hasher.update(left);
                    hasher.update(right);
                    hasher.finalize().into()
                }
                [single] => *single,
                _ => [0; 32],
            })
            .collect();
    }
    hex::encode(level[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_and_refuse_garbage() {
        let digest: LogDigest = format!("sha256:{}@0:4,3:7", "a".repeat(64))
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            digest.to_string(),
            format!("sha256:{}@0:4,3:7", "a".repeat(64))
        );
        for bad in [
            "",
            "sha256:",
            "md5:abc@0:1",
            &format!("sha256:{}@x", "a".repeat(64)),
            &format!("sha256:{}", "a".repeat(64)),
        ] {
            assert!(bad.parse::<LogDigest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_root_depends_on_every_head() {
        let mut heads = HashMap::new();
        for i in 0..5u128 {
            heads.insert(
                Uuid::from_u128(i),
                StreamHead {
                    sequence: 1,
                    hash: format!("{i:064}"),
                },
            );
        }
        let root = merkle_root(&heads);
        assert_eq!(root, merkle_root(&heads.clone()));
        for i in 0..5u128 {
            let mut changed = heads.clone();
            if let Some(head) = changed.get_mut(&Uuid::from_u128(i)) {
                head.sequence = 2;
            }
            assert_ne!(merkle_root(&changed), root, "head {i} does not count");
        }
        let mut fewer = heads.clone();
        fewer.remove(&Uuid::from_u128(4));
        assert_ne!(merkle_root(&fewer), root);
    }
}

/// The hash each event should carry, computed on every core off the
/// async executor; the chain itself is then checked in order.
async fn hash_in_parallel(
    batch: Vec<StoredEvent>,
) -> Result<(Vec<StoredEvent>, Vec<String>), crate::LogError> {
    tokio::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = batch.len().div_ceil(threads).max(1);
        let hashes = std::thread::scope(|scope| {
            let workers: Vec<_> = batch
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|e| e.envelope.computed_hash())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect::<Vec<_>>()
        });
        (batch, hashes)
    })
    .await
    .map_err(|e| crate::LogError::Unavailable(format!("hashing failed: {e}")))
}

/// What a walk of the log found.
#[derive(Debug)]
pub struct AuditReport {
    pub events: u64,
    pub breaks: Vec<Break>,
    /// Partitions that end before the bound of the walk: their tail was cut.
    pub truncated: Vec<Truncation>,
    /// The digest of the log as walked.
    pub digest: LogDigest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub partition: u32,
    pub ends_at: u64,
    pub expected: u64,
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "partition {} ends at offset {}, but the digest covers it up to {}",
            self.partition,
            self.ends_at,
            self.expected.saturating_sub(1)
        )
    }
}

impl AuditReport {
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty() && self.truncated.is_empty()
    }
}

/// Walks the log from the start up to `upto` (inclusive; partitions it
/// does not name are not walked), or up to its end as it stands when the
/// walk starts. `on_batch` sees the running count of events.
pub async fn walk(
    log: &dyn crate::EventLog,
    upto: Option<&PositionToken>,
    mut on_batch: impl FnMut(u64),
) -> Result<AuditReport, crate::LogError> {
    let ends = log.end_offsets().await?;
    let targets: BTreeMap<u32, u64> = match upto {
        Some(token) => token
            .positions()
            .map(|p| (p.partition, p.offset + 1))
            .collect(),
        None => ends.clone(),
    };
    let truncated: Vec<Truncation> = targets
        .iter()
        .filter_map(|(&partition, &expected)| {
            let ends_at = ends.get(&partition).copied().unwrap_or(0);
            (ends_at < expected).then_some(Truncation {
                partition,
                ends_at,
                expected,
            })
        })
        .collect();
    // Walk each partition to the bound, or to its actual end if that is
    // shorter (a truncated tail).
    let reachable: BTreeMap<u32, u64> = targets
        .iter()
        .map(|(&p, &target)| (p, target.min(ends.get(&p).copied().unwrap_or(0))))
        .collect();
    let mut verifier = if log.dense_offsets() {
        ChainVerifier::new()
    } else {
        ChainVerifier::allowing_offset_gaps()
    };
    let mut cursor = log.cursor(BTreeMap::new()).await?;
    let mut to_the_end = crate::ToTheEnd::new(reachable.clone());
    while let Some(batch) = to_the_end.next_batch(cursor.as_mut()).await? {
        let batch: Vec<StoredEvent> = batch
            .into_iter()
            .filter(|e| {
                e.position.offset < reachable.get(&e.position.partition).copied().unwrap_or(0)
            })
            .collect();
        let (batch, hashes) = hash_in_parallel(batch).await?;
        for (event, hash) in batch.iter().zip(&hashes) {
            verifier.check_hashed(event, hash);
        }
        on_batch(verifier.events());
    }
    Ok(AuditReport {
        events: verifier.events(),
        breaks: verifier.breaks().to_vec(),
        truncated,
        digest: verifier.digest(),
    })
}
