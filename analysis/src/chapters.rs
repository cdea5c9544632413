//! Chapters: headings such as "CHAPTER I.", "Chapter 12", "BOOK THE
//! FIRST", "STAVE ONE", "LETTER IV" or a bare roman numeral, each on a
//! short paragraph of its own; a short title line right after the heading
//! belongs to it. Headings of a table of contents (a run of headings with
//! next to nothing between them) are not chapters.

use crate::segment::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawChapter {
    pub title: String,
    /// Byte offsets: from the heading to the next heading (or the end).
    pub start: usize,
    pub end: usize,
}

const KEYWORDS: &[&str] = &[
    "chapter", "book", "part", "volume", "stave", "letter", "canto", "section", "act", "scene",
];

const NUMBER_WORDS: &[&str] = &[
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "last",
    "the",
];

fn is_roman(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 8
        && word.chars().all(|c| {
            matches!(
                c.to_ascii_uppercase(),
                'I' | 'V' | 'X' | 'L' | 'C' | 'D' | 'M'
            )
        })
}

fn is_number(word: &str) -> bool {
    let word = word.trim_end_matches(['.', ':', ',']);
    is_roman(word)
        || (!word.is_empty() && word.chars().all(|c| c.is_ascii_digit()))
        || NUMBER_WORDS.contains(&word.to_lowercase().as_str())
        || word
            .split('-')
            .all(|w| NUMBER_WORDS.contains(&w.to_lowercase().as_str()))
}

/// Whether a (short, single-line) paragraph is a chapter heading.
pub fn is_heading(line: &str) -> bool {
    let line = line.trim();
    if line.is_empty() || line.len() > 80 || line.contains('\n') {
        return false;
    }
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let Some(first) = words.first() else {
        return false;
    };
    let keyword = first.trim_end_matches(['.', ':']).to_lowercase();
    if KEYWORDS.contains(&keyword.as_str()) {
        // "Chapter I", "CHAPTER XII. The Storm", "BOOK THE FIRST"; the
        // keyword must be capitalised and followed by a number.
        let capitalised = first.chars().next().is_some_and(char::is_uppercase);
        return capitalised && words.get(1).is_some_and(|w| is_number(w));
    }
    // A bare roman numeral or number, possibly with a full stop.
    words.len() == 1 && {
        let bare = first.trim_end_matches('.');
        (is_roman(bare)
            && bare.chars().all(|c| c.is_ascii_uppercase())
            && (bare.len() >= 2 || first.ends_with('.')))
            || (!bare.is_empty() && bare.len() <= 3 && bare.chars().all(|c| c.is_ascii_digit()))
    }
}

/// A short line that reads as a title (no sentence punctuation at its end).
fn is_title_line(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty()
        && line.len() <= 70
        && !line.contains('\n')
        && !line.ends_with(['.', ',', ';', ':', '?', '!', '"', '”'])
        && line
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

fn words_in(text: &str) -> usize {
    text.split_whitespace().count()
}

pub fn chapters(text: &str, paragraphs: &[Span]) -> Vec<RawChapter> {
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < paragraphs.len() {
        let p = paragraphs[i];
        let line = &text[p.start..p.end];
        if is_heading(line) {
            let mut title = line.split_whitespace().collect::<Vec<_>>().join(" ");
            if let Some(next) = paragraphs.get(i + 1) {
                let next_line = &text[next.start..next.end];
                if is_title_line(next_line) && !is_heading(next_line) {
                    title = format!(
                        "{title} {}",
                        next_line.split_whitespace().collect::<Vec<_>>().join(" ")
                    );
                    i += 1;
                }
            }
            headings.push((p.start, title));
        }
        i += 1;
    }
    let mut raw: Vec<RawChapter> = headings
        .iter()
        .enumerate()
        .map(|(n, (start, title))| RawChapter {
            title: title.clone(),
            start: *start,
            end: headings.get(n + 1).map_or(text.len(), |(next, _)| *next),
        })
        .collect();
    // A table of contents: headings with (almost) nothing between them.
    raw.retain(|c| words_in(&text[c.start..c.end]) > 40 + words_in(&c.title));
    raw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::paragraphs;

    #[test]
    fn headings() {
        for yes in [
            "CHAPTER I.",
            "Chapter 12",
            "CHAPTER XII. The Storm",
            "BOOK THE FIRST",
            "STAVE ONE",
            "Letter IV",
            "XIV",
            "IV.",
            "Chapter Twenty-One",
        ] {
            assert!(is_heading(yes), "{yes}");
        }
        for no in [
            "I",
            "Chapter and verse were quoted.",
            "chapter i",
            "It was a dark night.",
            "A",
            "Part of the problem",
        ] {
            assert!(!is_heading(no), "{no}");
        }
    }

    #[test]
    fn chapters_skip_the_table_of_contents_and_take_titles() {
        let body = "word ".repeat(60);
        let text = format!(
            "CONTENTS\n\nCHAPTER I. Loomings\n\nCHAPTER II. The Carpet-Bag\n\nCHAPTER I.\n\nLoomings\n\n{body}\n\nCHAPTER II.\n\nThe Carpet-Bag\n\n{body}"
        );
        let found = chapters(&text, &paragraphs(&text));
        let titles: Vec<&str> = found.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(
            titles,
            ["CHAPTER I. Loomings", "CHAPTER II. The Carpet-Bag"]
        );
        assert!(text[found[0].start..].starts_with("CHAPTER I.\n\nLoomings"));
        assert_eq!(found[1].end, text.len());
    }
}
