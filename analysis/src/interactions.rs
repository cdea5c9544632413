//! Interactions: how often two characters are mentioned close together,
//! the raw material of the character graph.
//!
//! For every sentence, each character mentioned in it is "near" every
//! other character mentioned in the same paragraph up to that sentence, or
//! in the two sentences before it (across paragraph breaks, so that a
//! conversation told in one-line paragraphs counts). A pair's weight is the
//! number of sentences in which its two characters are near each other.

use std::collections::{BTreeMap, BTreeSet};

use crate::segment::Sentence;

/// Sentences before the current one whose mentions still count as near.
pub const WINDOW: usize = 2;

/// `mentions` gives, for each mention in text order, its sentence and its
/// character. Returns pair weights keyed by (smaller id, larger id).
pub fn cooccurrences(
    sentences: &[Sentence],
    mentions: impl IntoIterator<Item = (usize, usize)>,
) -> BTreeMap<(usize, usize), u64> {
    let mut by_sentence: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); sentences.len()];
    for (sentence, character) in mentions {
        if let Some(set) = by_sentence.get_mut(sentence) {
            set.insert(character);
        }
    }
    let mut weights = BTreeMap::new();
    let mut paragraph_start = 0;
    for (s, here) in by_sentence.iter().enumerate() {
        if s > 0 && sentences[s].paragraph != sentences[s - 1].paragraph {
            paragraph_start = s;
        }
        if here.is_empty() {
            continue;
        }
        let from = paragraph_start.min(s.saturating_sub(WINDOW));
        let mut near: BTreeSet<usize> = BTreeSet::new();
        for set in &by_sentence[from..=s] {
            near.extend(set);
        }
        let mut pairs = BTreeSet::new();
        for &a in here {
            for &b in &near {
                if a != b {
                    pairs.insert((a.min(b), a.max(b)));
                }
            }
        }
        for pair in pairs {
            *weights.entry(pair).or_insert(0) += 1;
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(paragraphs: &[usize]) -> Vec<Sentence> {
        paragraphs
            .iter()
            .enumerate()
            .map(|(i, &paragraph)| Sentence {
                tokens: (i, i + 1),
                paragraph,
            })
            .collect()
    }

    #[test]
    fn same_sentence_and_nearby_sentences_count_once_per_sentence() {
        // Sentences 0..6, paragraphs: 0 0 0 0 1 2
        let s = sentences(&[0, 0, 0, 0, 1, 2]);
        let weights = cooccurrences(&s, [(0, 1), (0, 2), (0, 1), (3, 3), (4, 2), (5, 1)]);
        // s0: 1 and 2 together (once, though 1 is named twice).
        // s3: 3 near 1 and 2 (same paragraph).
        // s4: 2 near 3 (one sentence before), pair (2,3) already counted at s3 too.
        // s5: 1 near 2 and 3 (within two sentences).
        assert_eq!(weights.get(&(1, 2)), Some(&2));
        assert_eq!(weights.get(&(1, 3)), Some(&2));
        assert_eq!(weights.get(&(2, 3)), Some(&2));
    }

    #[test]
    fn distant_mentions_do_not_interact() {
        let s = sentences(&[0, 1, 2, 3, 4]);
        let weights = cooccurrences(&s, [(0, 1), (4, 2)]);
        assert!(weights.is_empty());
    }
}
