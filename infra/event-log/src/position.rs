use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an event sits in the log: its partition and its offset there,
/// counting from 0 as Kafka does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub partition: u32,
    pub offset: u64,
}

/// A read-your-writes token: for each partition, the offset a reader must
/// have passed. Written as `partition:offset` pairs joined by commas, e.g.
/// `3:17` or `0:5,3:17`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PositionToken(BTreeMap<u32, u64>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid position token {0:?}: expected partition:offset pairs such as 3:17")]
pub struct PositionTokenError(String);

const MAX_TOKEN_PARTITIONS: usize = 4096;

impl PositionToken {
    pub fn from_positions(positions: impl IntoIterator<Item = Position>) -> Self {
        let mut map = BTreeMap::new();
        for p in positions {
            let entry = map.entry(p.partition).or_insert(p.offset);
            *entry = (*entry).max(p.offset);
        }
        Self(map)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn positions(&self) -> impl Iterator<Item = Position> + '_ {
        self.0
            .iter()
            .map(|(&partition, &offset)| Position { partition, offset })
    }

    /// Whether a reader whose next offsets are `next` has applied every
    /// position of the token.
    pub fn is_reached_by(&self, next: &BTreeMap<u32, u64>) -> bool {
        self.0
            .iter()
            .all(|(p, offset)| next.get(p).is_some_and(|n| n > offset))
    }
}

impl fmt::Display for PositionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (p, o) in &self.0 {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{p}:{o}")?;
        }
        Ok(())
    }
}

impl FromStr for PositionToken {
    type Err = PositionTokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PositionTokenError(s.chars().take(64).collect());
        if s.is_empty() || s.len() > MAX_TOKEN_PARTITIONS * 8 {
            return Err(err());
        }
        let mut positions = Vec::new();
        for pair in s.split(',') {
            let (p, o) = pair.split_once(':').ok_or_else(err)?;
            let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
            if !digits(p) || !digits(o) {
                return Err(err());
            }
            positions.push(Position {
                partition: p.parse().map_err(|_| err())?,
                offset: o.parse().map_err(|_| err())?,
            });
        }
        if positions.len() > MAX_TOKEN_PARTITIONS {
            return Err(err());
        }
        Ok(Self::from_positions(positions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let token: PositionToken = "3:17,0:5".parse().unwrap_or_default();
        assert_eq!(token.to_string(), "0:5,3:17");
    }

    #[test]
    fn hostile_tokens_are_refused() {
        for bad in [
            "",
            "3",
            "3:",
            ":1",
            "a:1",
            "1:-1",
            "1:2:3",
            "1:99999999999999999999999",
            " 1:2",
        ] {
            assert!(bad.parse::<PositionToken>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reached_only_past_every_offset() {
        let token = PositionToken::from_positions([
            Position {
                partition: 0,
                offset: 5,
            },
            Position {
                partition: 2,
                offset: 1,
            },
        ]);
        let next = BTreeMap::from([(0, 6), (2, 1)]);
        assert!(!token.is_reached_by(&next));
        let next = BTreeMap::from([(0, 6), (2, 2)]);
        assert!(token.is_reached_by(&next));
    }
}
