//! Mentions of people by proper name.
//!
//! Candidates (runs of titles and capitalised words) are grouped by the
//! name they spell, and each name is judged once, on the evidence of all
//! its occurrences, then all its occurrences are kept or dropped together:
//! - a title ("Mrs. Reed"), a given name ("Bessie"), a speech or action
//!   verb that needs a person ("said Montraville", "Oak walked"), or being
//!   part of a full name judged a person ("Oak" of "Gabriel Oak") is
//!   evidence of a person;
//! - a place list, a place-like ending ("-shire"), a preposition of place
//!   ("at Gateshead"), a place noun after it ("Baker Street") or before it
//!   ("the banks of the Garonne") is evidence of a place;
//! - a word usually written in lower case ("Will", "Hope") is no name
//!   unless evidence says otherwise, and one capitalised only at sentence
//!   starts needs evidence too;
//! - right after a determiner ("the Atlantic", "her Ayah") a capitalised
//!   word is a thing or a role, unless the name is a person's anyway.
//!
//! Spans follow LitBank's convention for proper names of people: the
//! whole noun phrase, so a determiner and modifiers before the name belong
//! to it ("the late John Graves", "her aunt Shaw", "poor Becky").

mod candidates;
mod words;

use std::collections::{HashMap, HashSet};

use self::candidates::{Candidate, candidates, strip_possessive};
use self::words::{
    ANIMATE_VERBS, DETERMINERS, FUNCTION_WORDS, KIN, MODIFIERS, PARTICLES, PLACE_NOUNS, PLACE_OF,
    PLACE_PREPOSITIONS, SPEECH_VERBS, looks_like_place_or_people,
};
pub use self::words::{Gender, NICKNAMES};
use crate::lexicon::lexicon;
use crate::segment::Sentence;
use crate::tokens::{Token, is_capitalized};

/// A name found in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMention {
    /// Byte offsets of the whole mention, title and modifiers included.
    pub start: usize,
    pub end: usize,
    /// Byte offset of the name itself: its title or first name word.
    pub name_start: usize,
    /// The title as written, if any ("Mrs.", "Captain").
    pub title: Option<String>,
    /// The name words, normalised (no title, no possessive).
    pub parts: Vec<String>,
    pub gender: Option<Gender>,
    pub sentence: usize,
    pub paragraph: usize,
}

impl RawMention {
    /// The name as written, from its title or first name word (modifiers
    /// and determiners left out), on one line.
    pub fn surface(&self, text: &str) -> String {
        text[self.name_start..self.end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One candidate with what its surroundings say.
struct Occurrence {
    candidate: Candidate,
    /// Name words: no title, no particles, no possessive.
    parts: Vec<String>,
    /// The lower-cased name, the key its evidence is gathered under.
    key: String,
    /// Token index where the mention's span starts, modifiers included.
    span_from: usize,
    /// A determiner right before the name (no title, no modifier between).
    determined: bool,
    /// A title naming an office, not a person ("the Lord Chancellor").
    role: bool,
    person_signals: u32,
    place_signals: u32,
}

fn lower_word<'a>(text: &'a str, tokens: &[Token], i: usize) -> Option<&'a str> {
    let t = tokens.get(i)?;
    let w = t.text(text);
    (t.is_word() && !is_capitalized(w)).then_some(w)
}

/// The word at `i` in lower case, if it is a word; capitalised words too,
/// for a determiner or modifier that starts a sentence ("Her aunt Shaw").
fn any_word(text: &str, tokens: &[Token], i: usize) -> Option<String> {
    let t = tokens.get(i)?;
    t.is_word().then(|| t.text(text).to_lowercase())
}

/// How far left modifiers, kin words and a determiner extend a name:
/// "the late", "her aunt", "poor", "good-natured".
fn span_start(
    text: &str,
    tokens: &[Token],
    c: &Candidate,
    sentence_from: usize,
) -> (usize, bool, bool) {
    let mut i = c.first;
    let mut modified = false;
    while i > sentence_from {
        match any_word(text, tokens, i - 1) {
            Some(w)
                if MODIFIERS.contains(&w.as_str())
                    || (c.title.is_none() && KIN.contains(&w.as_str()) && !modified) =>
            {
                modified = true;
                i -= 1;
            }
            _ => break,
        }
    }
    let determiner = i > sentence_from
        && any_word(text, tokens, i - 1).is_some_and(|w| DETERMINERS.contains(&w.as_str()));
    if determiner {
        i -= 1;
    }
    (i, determiner && !modified && c.title.is_none(), modified)
}

fn count_signals(text: &str, tokens: &[Token], c: &Candidate, from: usize) -> (u32, u32) {
    let mut person = 0;
    let mut place = 0;
    let before = |n: usize| {
        (from >= n)
            .then(|| from - n)
            .and_then(|i| lower_word(text, tokens, i))
    };
    let after = lower_word(text, tokens, c.last);
    let next_word = tokens
        .get(c.last)
        .filter(|t| t.is_word())
        .map(|t| t.text(text).to_lowercase());
    let after_comma = tokens
        .get(c.last)
        .filter(|t| t.is(','))
        .and_then(|_| lower_word(text, tokens, c.last + 1));
    if after.is_some_and(|w| ANIMATE_VERBS.contains(&w))
        || after_comma.is_some_and(|w| matches!(w, "who" | "whose" | "whom"))
        || before(1).is_some_and(|w| SPEECH_VERBS.contains(&w))
    {
        person += 1;
    }
    if before(1).is_some_and(|w| PLACE_PREPOSITIONS.contains(&w)) {
        place += 1;
    }
    // "the city of X", "the banks of the X"
    let of_place = |of: usize, noun: usize| {
        before(of) == Some("of") && before(noun).is_some_and(|w| PLACE_OF.contains(&w))
    };
    if of_place(1, 2) || (before(1) == Some("the") && of_place(2, 3)) {
        place += 1;
    }
    if next_word.is_some_and(|n| PLACE_NOUNS.contains(&n.as_str())) {
        place += 3;
    }
    (person, place)
}

/// The evidence about one name, over all its occurrences.
#[derive(Default)]
struct Evidence {
    occurrences: usize,
    titled: usize,
    /// Titled only as a role: "the Lord Chancellor".
    role: usize,
    determined: usize,
    person: u32,
    place: u32,
    mid_sentence: usize,
}

/// What a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Person,
    NotPerson,
}

/// Lower-cased words the text writes in lower case.
fn lower_case_words(text: &str, tokens: &[Token]) -> HashSet<String> {
    tokens
        .iter()
        .filter(|t| t.is_word())
        .map(|t| t.text(text))
        .filter(|w| !is_capitalized(w))
        .map(str::to_lowercase)
        .collect()
}

/// Finds the mentions of people by name, in text order.
pub fn mentions(text: &str, tokens: &[Token], sentences: &[Sentence]) -> Vec<RawMention> {
    let lexicon = lexicon();
    let lower_case = lower_case_words(text, tokens);
    let ordinary = |p: &str| {
        let lower = p.to_lowercase();
        lexicon.is_common_word(&lower)
            || lower_case.contains(&lower)
            || lower.split('-').count() > 1 && lower.split('-').any(|w| lexicon.is_common_word(w))
    };

    let mut occurrences: Vec<Occurrence> = Vec::new();
    for mut c in candidates(text, tokens, sentences) {
        let mut words: Vec<(usize, String)> = (c.name_from..c.last)
            .filter(|&i| tokens[i].is_word())
            .map(|i| (i, tokens[i].text(text).to_owned()))
            .filter(|(_, w)| !PARTICLES.contains(&w.as_str()) && w != "of")
            .map(|(i, w)| (i, strip_possessive(&w).to_owned()))
            .collect();
        // Function words at the edges of an untitled run are not part of
        // the name: "When Mary Lennox", "Thomson On".
        let function = |w: &str| FUNCTION_WORDS.contains(&w.to_lowercase().as_str());
        if c.title.is_none() {
            // At a sentence start, an ordinary word before a name is no part
            // of it either: "Again Buck", "Unlike Skeet".
            while words.len() > 1
                && (function(&words[0].1) || (c.sentence_initial && ordinary(&words[0].1)))
            {
                words.remove(0);
            }
            // A name ends in a name word, not an initial: "Pinkerton P.S."
            while words.len() > 1
                && words
                    .last()
                    .is_some_and(|(_, w)| function(w) || w.chars().count() == 1)
            {
                words.pop();
            }
            if let (Some(&(first, _)), Some(&(last, _))) = (words.first(), words.last()) {
                c.sentence_initial &= first == c.first;
                c.first = first;
                c.name_from = first;
                c.last = last + 1;
            }
        }
        // A lone initial or letter is no name ("P.S.", "H'm").
        if !words.iter().any(|(_, w)| w.chars().count() > 1) {
            continue;
        }
        let parts: Vec<String> = words.into_iter().map(|(_, w)| w).collect();
        let sentence_from = sentences[c.sentence].tokens.0;
        let (span_from, determined, modified) = span_start(text, tokens, &c, sentence_from);
        let (person_signals, place_signals) =
            count_signals(text, tokens, &c, span_from.min(c.first));
        let key = parts.join(" ").to_lowercase();
        // "the Lord Chancellor": a title after "the" names an office when
        // what follows is English words, not a name ("the Lady Bridget",
        // "the Prince Prospero").
        let role = c.title.is_some()
            && !modified
            && any_word(text, tokens, span_from).as_deref() == Some("the")
            && parts.iter().all(|p| {
                let lower = p.to_lowercase();
                words::OFFICES.contains(&lower.as_str())
                    || (lexicon.counts(&lower).0 >= 5 && !lexicon.is_first_name(&lower))
            });
        occurrences.push(Occurrence {
            role,
            candidate: c,
            parts,
            key,
            span_from,
            determined,
            person_signals,
            place_signals,
        });
    }

    let mut evidence: HashMap<&str, Evidence> = HashMap::new();
    for o in &occurrences {
        let e = evidence.entry(o.key.as_str()).or_default();
        e.occurrences += 1;
        if o.candidate.title.is_some() {
            if o.role {
                e.role += 1;
            } else {
                e.titled += 1;
            }
        }
        e.determined += usize::from(o.determined);
        e.person += o.person_signals;
        e.place += o.place_signals;
        if !o.candidate.sentence_initial && !o.candidate.shouted {
            e.mid_sentence += 1;
        }
    }

    // Full names first, so that their parts can borrow the verdict.
    let mut keys: Vec<&str> = evidence.keys().copied().collect();
    keys.sort_by_key(|k| (std::cmp::Reverse(k.split(' ').count()), *k));
    let mut verdicts: HashMap<&str, Verdict> = HashMap::new();
    let mut person_parts: HashSet<String> = HashSet::new();
    for key in keys {
        let e = &evidence[key];
        let parts: Vec<&str> = key.split(' ').collect();
        let given = lexicon.is_first_name(parts[0]);
        let member = parts.len() == 1 && person_parts.contains(key);
        let bare_title = parts.len() == 1 && words::title(parts[0]).is_some();
        let person_score = 3 * e.titled as u32
            + if given && !ordinary(parts[0]) { 2 } else { 0 }
            + if given && ordinary(parts[0]) && e.mid_sentence > 0 {
                1
            } else {
                0
            }
            + if member { 3 } else { 0 }
            + 2 * e.person;
        let suffix = parts.len() == 1 && !given && looks_like_place_or_people(parts[0]);
        let place_noun = parts.last().is_some_and(|p| PLACE_NOUNS.contains(p));
        // Places named like people ("Charlotte", "Virginia") count for less.
        let gazetteer = if !lexicon.is_place(key) {
            0
        } else if given {
            2
        } else {
            4
        };
        let place_score =
            e.place + if suffix { 3 } else { 0 } + if place_noun { 4 } else { 0 } + gazetteer;
        let all_ordinary = parts.iter().all(|p| ordinary(p));
        let titled_person = e.titled > 0 && (!all_ordinary || e.mid_sentence > 0 || e.person > 0);
        let not_a_person = bare_title
            || (!titled_person
                && ((e.role > 0 && e.titled == 0)
                    || place_score > person_score
                    || (2 * e.determined >= e.occurrences && person_score < 3)));
        let person = if titled_person {
            true
        } else if not_a_person {
            false
        } else if all_ordinary && !member {
            // A word of ordinary prose ("She", "Will", "Hope") names someone
            // only when the text capitalises it mid-sentence and it is a
            // given name.
            given && e.mid_sentence > 0 && !lower_case.contains(parts[0])
        } else if person_score > 0 {
            true
        } else {
            // Unknown words with no evidence: a name when the text
            // capitalises them mid-sentence and none is ordinary.
            e.mid_sentence > 0 && !parts.iter().any(|p| ordinary(p))
        };
        let verdict = if person {
            Verdict::Person
        } else {
            Verdict::NotPerson
        };
        if verdict == Verdict::Person && parts.len() > 1 {
            person_parts.insert(parts[parts.len() - 1].to_owned());
            if lexicon.is_first_name(parts[0]) || !ordinary(parts[0]) {
                person_parts.insert(parts[0].to_owned());
                // Its familiar forms name the same person: "Lizzy".
                for (formal, forms) in NICKNAMES {
                    if *formal == parts[0] {
                        person_parts.extend(forms.iter().map(|f| (*f).to_owned()));
                    }
                }
            }
        }
        verdicts.insert(key, verdict);
    }

    occurrences
        .iter()
        .filter(|o| verdicts.get(o.key.as_str()) == Some(&Verdict::Person))
        // "the Ayah": a determined occurrence is a role even of a name.
        .filter(|o| !o.determined && !o.role)
        .map(|o| {
            let c = &o.candidate;
            let last_token = tokens[c.last - 1];
            let last_word = last_token.text(text);
            let end = last_token.end - (last_word.len() - strip_possessive(last_word).len());
            RawMention {
                start: tokens[o.span_from].start,
                end,
                name_start: tokens[c.first].start,
                title: c.title.as_ref().map(|(t, _)| t.clone()),
                parts: o.parts.clone(),
                gender: c.title.as_ref().and_then(|(_, g)| *g),
                sentence: c.sentence,
                paragraph: c.paragraph,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{paragraphs, sentences};
    use crate::tokens::tokenize;

    fn names(text: &str) -> Vec<String> {
        let tokens = tokenize(text);
        let paragraphs = paragraphs(text);
        let sentences = sentences(text, &tokens, &paragraphs);
        mentions(text, &tokens, &sentences)
            .iter()
            .map(|m| text[m.start..m.end].to_owned())
            .collect()
    }

    #[test]
    fn titles_given_names_and_possessives() {
        assert_eq!(
            names("Mr. Bennet smiled at Elizabeth Bennet. Elizabeth's sister Jane laughed."),
            ["Mr. Bennet", "Elizabeth Bennet", "Elizabeth", "sister Jane"]
        );
    }

    #[test]
    fn places_and_roles_are_not_people() {
        let found = names(
            "They sailed from Dover to the Atlantic. In London she met the Lord Chancellor and Mrs. Reed, who lived in Derbyshire.",
        );
        assert_eq!(found, ["Mrs. Reed"]);
    }

    #[test]
    fn surnames_borrow_the_full_name() {
        let found = names("Gabriel Oak was a farmer. Everyone liked Oak well enough.");
        assert_eq!(found, ["Gabriel Oak", "Oak"]);
    }

    #[test]
    fn modifiers_belong_to_the_mention() {
        assert_eq!(
            names("They pitied poor Becky Sharp, and the late John Graves was buried."),
            ["poor Becky Sharp", "the late John Graves"]
        );
    }
}
