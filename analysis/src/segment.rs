//! Paragraphs and sentences.

use crate::tokens::{Kind, Token};

/// A byte range of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A sentence as a range of tokens, and the paragraph it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sentence {
    pub tokens: (usize, usize),
    pub paragraph: usize,
}

/// Paragraphs are separated by blank lines. A text without any blank line
/// but with several lines (one paragraph per line, as some extractions
/// give) has a paragraph per line.
pub fn paragraphs(text: &str) -> Vec<Span> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            lines.push(Span { start, end: i });
            start = i + 1;
        }
    }
    lines.push(Span {
        start,
        end: text.len(),
    });
    let blank = |s: &Span| text[s.start..s.end].trim().is_empty();
    let has_blank_lines = lines.iter().any(blank);
    let mut paragraphs = Vec::new();
    let mut current: Option<Span> = None;
    for line in lines {
        if blank(&line) {
            paragraphs.extend(current.take());
            continue;
        }
        let trimmed = trim(text, line);
        match current.as_mut() {
            Some(p) if has_blank_lines => p.end = trimmed.end,
            _ => {
                paragraphs.extend(current.take());
                current = Some(trimmed);
            }
        }
    }
    paragraphs.extend(current);
    paragraphs
}

fn trim(text: &str, span: Span) -> Span {
    let slice = &text[span.start..span.end];
    let start = span.start + (slice.len() - slice.trim_start().len());
    let end = span.start + slice.trim_end().len();
    Span {
        start,
        end: end.max(start),
    }
}

/// Words after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "messrs", "mme", "mlle", "dr", "st", "mt", "ft", "jr", "sr", "prof", "rev",
    "hon", "capt", "col", "gen", "lt", "sgt", "cpl", "maj", "adm", "gov", "pres", "esq", "no",
    "nos", "vs", "viz", "etc", "vol", "ch", "chap", "p", "pp", "ed", "fig", "co", "bros", "inc",
    "ltd", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "i.e", "e.g", "cf", "al", "ca", "approx", "dept", "univ", "ave", "blvd", "rd",
];

pub fn is_abbreviation(word: &str) -> bool {
    let lower = word.to_lowercase();
    ABBREVIATIONS.contains(&lower.as_str())
}

/// A single upper-case letter: an initial, as in "J. R. R. Tolkien".
fn is_initial(word: &str) -> bool {
    let mut chars = word.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase())
}

fn closes(c: char) -> bool {
    matches!(c, '"' | '”' | '’' | '\'' | ')' | ']' | '»')
}

fn opens(c: char) -> bool {
    matches!(c, '"' | '“' | '‘' | '\'' | '(' | '[' | '«')
}

/// Sentences within each paragraph: ends at `.`, `!`, `?` or `…` (with any
/// closing quotes), when what follows starts a new sentence; a full stop
/// after an abbreviation or an initial does not end one.
pub fn sentences(text: &str, tokens: &[Token], paragraphs: &[Span]) -> Vec<Sentence> {
    let mut sentences = Vec::new();
    let mut t = 0;
    for (p, paragraph) in paragraphs.iter().enumerate() {
        while t < tokens.len() && tokens[t].start < paragraph.start {
            t += 1;
        }
        let first = t;
        while t < tokens.len() && tokens[t].end <= paragraph.end {
            t += 1;
        }
        let last = t;
        let mut start = first;
        let mut i = first;
        while i < last {
            let ends = match tokens[i].kind {
                Kind::Punct('!' | '?' | '…') => true,
                Kind::Punct('.') => {
                    let previous = (i > first).then(|| tokens[i - 1]);
                    let attached = previous.is_some_and(|p| p.end == tokens[i].start);
                    !(attached
                        && previous.is_some_and(|p| {
                            let word = p.text(text);
                            p.is_word() && (is_abbreviation(word) || is_initial(word))
                        }))
                }
                _ => false,
            };
            if !ends {
                i += 1;
                continue;
            }
            // Take the rest of the terminal punctuation and closing quotes.
            let mut end = i + 1;
            while end < last
                && matches!(tokens[end].kind, Kind::Punct(c) if c == '.' || c == '!' || c == '?' || closes(c))
            {
                end += 1;
            }
            let next_starts_sentence = match tokens.get(end).filter(|_| end < last) {
                None => true,
                Some(next) => match next.kind {
                    Kind::Word => next
                        .text(text)
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_uppercase()),
                    Kind::Number => true,
                    Kind::Punct(c) => opens(c) || c == '—' || c == '-',
                },
            };
            if next_starts_sentence {
                sentences.push(Sentence {
                    tokens: (start, end),
                    paragraph: p,
                });
                start = end;
            }
            i = end;
        }
        if start < last {
            sentences.push(Sentence {
                tokens: (start, last),
                paragraph: p,
            });
        }
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::tokenize;

    fn split(text: &str) -> Vec<String> {
        let tokens = tokenize(text);
        let paragraphs = paragraphs(text);
        sentences(text, &tokens, &paragraphs)
            .iter()
            .map(|s| text[tokens[s.tokens.0].start..tokens[s.tokens.1 - 1].end].to_owned())
            .collect()
    }

    #[test]
    fn abbreviations_and_initials_do_not_end_sentences() {
        assert_eq!(
            split("Mr. Bennet met Dr. Jones at St. Paul's. J. R. Hartley smiled! Did he? Yes."),
            [
                "Mr. Bennet met Dr. Jones at St. Paul's.",
                "J. R. Hartley smiled!",
                "Did he?",
                "Yes."
            ]
        );
    }

    #[test]
    fn quotes_belong_to_the_sentence_they_close() {
        assert_eq!(
            split("“I shall go,” said she. “You will not.” He left…"),
            ["“I shall go,” said she.", "“You will not.”", "He left…"]
        );
    }

    #[test]
    fn lower_case_after_a_stop_continues() {
        assert_eq!(
            split("It was 3 p.m. and dark."),
            ["It was 3 p.m. and dark."]
        );
    }

    #[test]
    fn paragraphs_end_sentences_and_blank_lines_separate_them() {
        let text = "CHAPTER I\n\nIt was cold\nand wet\n\n\nThe end";
        let spans: Vec<&str> = paragraphs(text)
            .iter()
            .map(|s| &text[s.start..s.end])
            .collect();
        assert_eq!(spans, ["CHAPTER I", "It was cold\nand wet", "The end"]);
        assert_eq!(
            split(text),
            ["CHAPTER I", "It was cold\nand wet", "The end"]
        );
    }

    #[test]
    fn one_paragraph_per_line_without_blank_lines() {
        let text = "First paragraph here.\nSecond one.";
        assert_eq!(paragraphs(text).len(), 2);
    }
}
