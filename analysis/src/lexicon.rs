//! The embedded word lists (see `data/README.md`): how common each word is
//! in English prose, given names, and places.

use std::collections::{HashMap, HashSet};

use std::sync::OnceLock;

pub struct Lexicon {
    /// Lower-cased word → (occurrences, occurrences written in lower case).
    words: HashMap<&'static str, (u32, u32)>,
    total: u64,
    first_names: HashSet<&'static str>,
    /// Lower-cased.
    places: HashSet<String>,
}

static LEXICON: OnceLock<Lexicon> = OnceLock::new();

fn lines(data: &'static str) -> impl Iterator<Item = &'static str> {
    data.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
}

pub fn lexicon() -> &'static Lexicon {
    LEXICON.get_or_init(|| {
        let mut words = HashMap::with_capacity(21_000);
        let mut total = 0u64;
        for line in lines(include_str!("../data/lexicon.tsv")) {
            let mut fields = line.split('\t');
            if let (Some(word), Some(count), Some(lower)) =
                (fields.next(), fields.next(), fields.next())
                && let (Ok(count), Ok(lower)) = (count.parse::<u32>(), lower.parse::<u32>())
            {
                total += u64::from(count);
                words.insert(word, (count, lower));
            }
        }
        Lexicon {
            words,
            total,
            first_names: lines(include_str!("../data/first_names.txt"))
                .filter_map(|line| line.split('\t').next())
                .collect(),
            places: lines(include_str!("../data/places.txt"))
                .map(str::to_lowercase)
                .collect(),
        }
    })
}

impl Lexicon {
    /// How often the word is written in lower case in the background
    /// corpus, and how often at all.
    pub fn counts(&self, lower: &str) -> (u32, u32) {
        self.words.get(lower).copied().unwrap_or((0, 0))
    }

    /// The share of the word's occurrences written in lower case; `None`
    /// for a word rare in the background.
    pub fn lower_case_share(&self, lower: &str) -> Option<f64> {
        let (count, lower_count) = self.counts(lower);
        (count >= 5).then(|| f64::from(lower_count) / f64::from(count))
    }

    /// A word mostly written in lower case: an ordinary word, not a name.
    pub fn is_common_word(&self, lower: &str) -> bool {
        self.lower_case_share(lower)
            .is_some_and(|share| share >= 0.5)
    }

    /// The background relative frequency of a word (with add-one smoothing).
    pub fn frequency(&self, lower: &str) -> f64 {
        let (count, _) = self.counts(lower);
        (f64::from(count) + 1.0) / (self.total as f64 + self.words.len() as f64)
    }

    pub fn is_first_name(&self, lower: &str) -> bool {
        self.first_names.contains(lower)
    }

    /// Whether a lower-cased name is a place's.
    pub fn is_place(&self, lower: &str) -> bool {
        self.places.contains(lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_load() {
        let l = lexicon();
        assert!(l.is_common_word("the") && l.is_common_word("there"));
        assert!(!l.is_common_word("jane"));
        assert!(l.is_first_name("mary") && l.is_first_name("john"));
        assert!(l.is_place("london") && l.is_place("france"));
        assert!(l.frequency("the") > l.frequency("harpooneer"));
    }
}
