//! Candidate names: every maximal run of titles and capitalised words in a
//! sentence, with particles ("de", "van") and, after a title of nobility,
//! "of" ("Earl of Moreland").

use super::words::{self, Gender, NOBLE, PARTICLES};
use crate::segment::Sentence;
use crate::tokens::{Kind, Token, is_all_caps, is_capitalized};

pub struct Candidate {
    /// Token index of the first token (the title, if any).
    pub first: usize,
    /// One past the last name token.
    pub last: usize,
    /// Token index of the first name word (after any titles).
    pub name_from: usize,
    /// The titles as written ("Reverend Mr."), and the gender they imply.
    pub title: Option<(String, Option<Gender>)>,
    pub sentence: usize,
    pub paragraph: usize,
    /// The candidate is the first word of its sentence.
    pub sentence_initial: bool,
    /// Written in capitals ("JONATHAN HARKER"), as in headings.
    pub shouted: bool,
}

/// A word that can be part of a name: capitalised (all capitals included,
/// which the caller weighs), and not a word that never names anyone.
fn is_name_word(word: &str) -> bool {
    is_capitalized(word)
        && !words::NEVER.contains(&words::normalized(strip_possessive(word)).as_str())
}

pub fn strip_possessive(word: &str) -> &str {
    word.strip_suffix("'s")
        .or_else(|| word.strip_suffix("’s"))
        .or_else(|| word.strip_suffix("s'").map(|_| &word[..word.len() - 1]))
        .unwrap_or(word)
}

/// Whether `tokens[i]` is a title (with its full stop, if attached) that
/// is followed by another title or a name word; returns the index after it.
fn title_at(text: &str, tokens: &[Token], i: usize, to: usize) -> Option<(usize, Option<Gender>)> {
    let token = tokens.get(i)?;
    let word = token.text(text);
    if !token.is_word() || !is_capitalized(word) {
        return None;
    }
    let gender = words::title(word)?;
    let mut k = i + 1;
    if k < to && tokens[k].is('.') && tokens[k].start == token.end {
        k += 1;
    }
    let next = tokens.get(k).filter(|_| k < to)?;
    (next.is_word() && is_name_word(next.text(text))).then_some((k, gender))
}

pub fn candidates(text: &str, tokens: &[Token], sentences: &[Sentence]) -> Vec<Candidate> {
    let mut found = Vec::new();
    for (s, sentence) in sentences.iter().enumerate() {
        let (from, to) = sentence.tokens;
        let initial = (from..to).find(|&i| tokens[i].is_word() || tokens[i].kind == Kind::Number);
        let mut i = from;
        while i < to {
            let token = tokens[i];
            if !token.is_word() || !is_name_word(token.text(text)) {
                i += 1;
                continue;
            }
            let start = i;
            // A chain of titles: "the Reverend Mr. Kronborg".
            let mut j = i;
            let mut titles: Vec<&str> = Vec::new();
            let mut gender = None;
            while let Some((next, g)) = title_at(text, tokens, j, to) {
                titles.push(tokens[j].text(text));
                gender = gender.or(g);
                j = next;
            }
            // A chain of titles with no name after it ("Lord High Chancellor"
            // ends in a word that is no title) still leaves j on a name word.
            let title = (!titles.is_empty()).then(|| (titles.join(" "), gender));
            let name_from = j;
            let noble = titles
                .iter()
                .any(|t| NOBLE.contains(&t.to_lowercase().as_str()));
            let mut last = j;
            let mut shouted = false;
            while j < to {
                let t = tokens[j];
                let w = t.text(text);
                if t.is_word() && is_name_word(w) {
                    shouted |= is_all_caps(w);
                    j += 1;
                    last = j;
                    // An initial or "St" takes its full stop: "J. R.", "St. Aubert".
                    let abbreviation = w.chars().count() == 1 || w == "St" || w == "Ste";
                    if abbreviation && j < to && tokens[j].is('.') && tokens[j].start == t.end {
                        j += 1;
                    }
                    if strip_possessive(w) != w {
                        break;
                    }
                } else if t.is_word()
                    && last > name_from
                    && j + 1 < to
                    && tokens[j + 1].is_word()
                    && is_name_word(tokens[j + 1].text(text))
                    && (PARTICLES.contains(&w) || (noble && w == "of"))
                {
                    j += 1;
                } else {
                    break;
                }
            }
            if last > name_from {
                found.push(Candidate {
                    first: start,
                    last,
                    name_from,
                    title,
                    sentence: s,
                    paragraph: sentence.paragraph,
                    sentence_initial: Some(start) == initial,
                    shouted,
                });
                i = last;
            } else {
                i = start + 1;
            }
        }
    }
    found
}
