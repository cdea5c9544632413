//! Statistics: counts, readability, dialogue share, distinctive terms.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::DISTINCTIVE_TERMS;
use crate::lexicon::lexicon;
use crate::segment::Sentence;
use crate::tokens::{Kind, Token};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    pub words: usize,
    pub sentences: usize,
    pub paragraphs: usize,
    pub syllables: usize,
    pub flesch_reading_ease: f64,
    pub flesch_kincaid_grade: f64,
    /// The share of words inside quotation marks.
    pub dialogue_share: f64,
    pub distinctive_terms: Vec<Term>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Term {
    pub term: String,
    pub count: usize,
    /// Dunning's log-likelihood of the term's frequency here against the
    /// background corpus: how surprising it is.
    pub score: f64,
}

/// The statistics of a tokenized, segmented text.
pub fn statistics(
    text: &str,
    tokens: &[Token],
    sentences: &[Sentence],
    paragraphs: usize,
) -> Statistics {
    let counted = |t: &&Token| matches!(t.kind, Kind::Word | Kind::Number);
    let words = tokens.iter().filter(counted).count();
    let syllables = tokens
        .iter()
        .filter(|t| t.is_word())
        .map(|t| syllables(t.text(text)))
        .sum::<usize>()
        + tokens.iter().filter(|t| t.kind == Kind::Number).count();
    // Sentences made only of punctuation (a row of asterisks) are not read.
    let sentence_count = sentences
        .iter()
        .filter(|s| tokens[s.tokens.0..s.tokens.1].iter().any(|t| counted(&t)))
        .count();
    let mut paragraph_of = vec![0; tokens.len()];
    for s in sentences {
        for p in &mut paragraph_of[s.tokens.0..s.tokens.1] {
            *p = s.paragraph;
        }
    }
    let (flesch_reading_ease, flesch_kincaid_grade) = flesch(words, sentence_count, syllables);
    let dialogue = dialogue_words(text, tokens, &paragraph_of);
    Statistics {
        words,
        sentences: sentence_count,
        paragraphs,
        syllables,
        flesch_reading_ease,
        flesch_kincaid_grade,
        dialogue_share: if words == 0 {
            0.0
        } else {
            (dialogue as f64 / words as f64 * 1000.0).round() / 1000.0
        },
        distinctive_terms: distinctive_terms(text, tokens, DISTINCTIVE_TERMS),
    }
}

/// Syllables by vowel groups, a silent final `e` dropped; at least one.
pub fn syllables(word: &str) -> usize {
    let lower: Vec<char> = word
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphabetic())
        .collect();
    if lower.is_empty() {
        return 0;
    }
    let vowel = |c: char| {
        matches!(
            c,
            'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'é' | 'è' | 'à' | 'â' | 'ê' | 'ô' | 'û' | 'ï' | 'ü'
        )
    };
    let mut groups = 0;
    let mut previous = false;
    for &c in &lower {
        let v = vowel(c);
        if v && !previous {
            groups += 1;
        }
        previous = v;
    }
    let n = lower.len();
    // A final "e" after a consonant is silent, except in "-le" after a
    // consonant ("table").
    let silent_e = n > 2
        && lower[n - 1] == 'e'
        && !vowel(lower[n - 2])
        && (lower[n - 2] != 'l' || vowel(lower[n - 3]));
    if silent_e {
        groups -= 1;
    }
    groups.max(1)
}

/// Words inside quotation marks: double quotes, straight or curly, and
/// curly single quotes that open after a space and close before one
/// (apostrophes inside words are not quotes). Open quotes close at the end
/// of a paragraph, as in prose where a long speech runs over several.
pub fn dialogue_words(text: &str, tokens: &[Token], paragraph_of: &[usize]) -> usize {
    let mut inside = false;
    let mut current_paragraph = usize::MAX;
    let mut count = 0;
    for (i, token) in tokens.iter().enumerate() {
        if paragraph_of[i] != current_paragraph {
            current_paragraph = paragraph_of[i];
            inside = false;
        }
        match token.kind {
            Kind::Punct('“') => inside = true,
            Kind::Punct('”') => inside = false,
            Kind::Punct('"') => inside = !inside,
            Kind::Punct('‘') => inside = true,
            Kind::Punct('’') => {
                let followed_by_letter = text[token.end..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphabetic);
                if !followed_by_letter {
                    inside = false;
                }
            }
            Kind::Word | Kind::Number if inside => count += 1,
            _ => {}
        }
    }
    count
}

/// How many times more often than in the background a word must occur
/// here to be distinctive: a book that says "said" a little more often
/// than most is not about saying.
const MIN_RATIO: f64 = 4.0;

fn log_likelihood(observed: f64, total: f64, background: f64) -> f64 {
    let expected = total * background;
    if observed < MIN_RATIO * expected || observed <= 0.0 {
        return 0.0;
    }
    2.0 * observed * (observed / expected).ln()
}

/// The words this text uses far more than English prose does, names
/// included; words of fewer than three letters and of fewer than three
/// occurrences are left out.
pub fn distinctive_terms(text: &str, tokens: &[Token], limit: usize) -> Vec<Term> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut words = 0usize;
    for token in tokens.iter().filter(|t| t.is_word()) {
        words += 1;
        let word = token.text(text);
        if word.chars().count() >= 3 {
            *counts
                .entry(word.to_lowercase().replace('’', "'"))
                .or_default() += 1;
        }
    }
    let lexicon = lexicon();
    let mut terms: Vec<Term> = counts
        .into_iter()
        .filter(|(_, count)| *count >= 3)
        .map(|(term, count)| {
            let score = log_likelihood(count as f64, words as f64, lexicon.frequency(&term));
            Term { term, count, score }
        })
        .filter(|t| t.score > 0.0)
        .collect();
    terms.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.term.cmp(&b.term))
    });
    terms.truncate(limit);
    for term in &mut terms {
        term.score = (term.score * 10.0).round() / 10.0;
    }
    terms
}

pub fn flesch(words: usize, sentences: usize, syllables: usize) -> (f64, f64) {
    if words == 0 || sentences == 0 {
        return (0.0, 0.0);
    }
    let per_sentence = words as f64 / sentences as f64;
    let per_word = syllables as f64 / words as f64;
    let ease = 206.835 - 1.015 * per_sentence - 84.6 * per_word;
    let grade = 0.39 * per_sentence + 11.8 * per_word - 15.59;
    (
        (ease * 100.0).round() / 100.0,
        (grade * 100.0).round() / 100.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::tokenize;

    #[test]
    fn syllable_counts() {
        for (word, n) in [
            ("cat", 1),
            ("table", 2),
            ("make", 1),
            ("beautiful", 3),
            ("the", 1),
            ("readability", 5),
            ("I", 1),
            ("rhythm", 1),
        ] {
            assert_eq!(syllables(word), n, "{word}");
        }
    }

    #[test]
    fn flesch_of_simple_prose_is_easy() {
        let (ease, grade) = flesch(100, 10, 130);
        assert!(ease > 70.0 && grade < 6.0, "{ease} {grade}");
    }

    #[test]
    fn dialogue_is_counted_inside_quotes_only() {
        let text = "“I will go,” said she. He wouldn’t. ‘Not now’ he said.";
        let tokens = tokenize(text);
        let paragraphs = vec![0; tokens.len()];
        assert_eq!(dialogue_words(text, &tokens, &paragraphs), 3 + 2);
    }
}
