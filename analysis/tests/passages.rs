//! Passages: whole sentences, at most PASSAGE_CHARS characters, within one
//! chapter, ending at paragraph ends when they can; on a real novel and on
//! any text.

use proptest::prelude::*;
use studio_analysis::{PASSAGE_CHARS, Passage, SHORT_PASSAGE_CHARS, analyze, passages, sentences};

fn slice(text: &str, p: &Passage) -> String {
    text.chars().skip(p.start).take(p.end - p.start).collect()
}

/// What holds of the passages of any text.
fn check(text: &str) -> Result<Vec<Passage>, TestCaseError> {
    let chars = text.chars().count();
    let found = passages(text);
    let chapters = analyze(text).chapters;
    let mut previous_end = 0;
    for p in &found {
        prop_assert!(p.start < p.end && p.end <= chars, "{p:?} inside the text");
        prop_assert!(p.start >= previous_end, "in order, not overlapping");
        prop_assert!(
            p.end - p.start <= PASSAGE_CHARS,
            "{} characters",
            p.end - p.start
        );
        let passage = slice(text, p);
        prop_assert_eq!(
            passage.trim(),
            passage.as_str(),
            "no surrounding whitespace"
        );
        if let Some(c) = p.chapter {
            let chapter = &chapters[c];
            prop_assert!(
                chapter.start <= p.start && p.end <= chapter.end,
                "within its chapter"
            );
        }
        previous_end = p.end;
    }
    Ok(found)
}

fn novel() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/books/call-of-the-wild.txt"
    ))
    .expect("fixture")
}

#[test]
fn a_novel_s_passages_are_whole_sentences_within_chapters() {
    let text = novel();
    let found = check(&text).expect("invariants");
    let analysis = analyze(&text);
    assert!(found.len() > 100, "{} passages", found.len());
    // Every chapter has passages, and they say which.
    for c in 0..analysis.chapters.len() {
        assert!(found.iter().any(|p| p.chapter == Some(c)), "chapter {c}");
    }
    // Whole sentences: a passage ends where a sentence ends.
    let ends_sentence = |p: &Passage| {
        let last = slice(&text, p).chars().last().unwrap_or(' ');
        matches!(
            last,
            '.' | '!' | '?' | '"' | '\'' | '”' | '’' | '…' | ':' | ';' | '-' | '—' | ')'
        ) || last.is_alphanumeric()
    };
    let whole = found.iter().filter(|p| ends_sentence(p)).count();
    assert!(
        whole * 100 >= found.len() * 99,
        "{whole} of {} end a sentence",
        found.len()
    );
    // Mostly near the size aimed at; short ones are the last of a chapter
    // or headings.
    let long_enough = found
        .iter()
        .filter(|p| p.end - p.start >= SHORT_PASSAGE_CHARS)
        .count();
    assert!(
        long_enough * 10 >= found.len() * 8,
        "{long_enough} of {}",
        found.len()
    );
    // Nothing of the text's words is left out.
    let words_in = |s: &str| s.split_whitespace().count();
    let covered: usize = found.iter().map(|p| words_in(&slice(&text, p))).sum();
    assert!(
        covered * 100 >= words_in(&text) * 99,
        "{covered} of {} words",
        words_in(&text)
    );
    // The same text, the same passages.
    assert_eq!(found, passages(&text));
}

#[test]
fn short_paragraphs_gather_and_a_paragraph_end_closes_a_long_enough_passage() {
    let lines: Vec<String> = (0..12)
        .map(|i| format!("\"Line {i} of the talk,\" he said."))
        .collect();
    let long_paragraph = "The dog ran on through the snow and did not stop. ".repeat(10);
    let text = format!(
        "{}\n\n{}\n\nA last short one.",
        lines.join("\n\n"),
        long_paragraph.trim()
    );
    let found = check(&text).expect("invariants");
    // Dialogue lines are gathered into a passage until it is long enough,
    // which then ends at a paragraph's end.
    let first = slice(&text, &found[0]);
    assert!(
        first.contains("Line 0") && first.contains("Line 9"),
        "{first}"
    );
    assert!(first.chars().count() >= SHORT_PASSAGE_CHARS);
    let after: String = text.chars().skip(found[0].end).take(2).collect();
    assert_eq!(after, "\n\n");
    // The long paragraph is not cut: it fits in a passage.
    let whole = long_paragraph.trim();
    assert!(
        found.iter().any(|p| slice(&text, p).contains(whole)),
        "{found:?}"
    );
}

#[test]
fn a_sentence_longer_than_a_passage_is_cut_between_words() {
    let sentence = format!("{}end.", "word ".repeat(600));
    let found = check(&sentence).expect("invariants");
    assert!(found.len() >= 3, "{found:?}");
    for p in &found {
        let s = slice(&sentence, p);
        assert!(!s.starts_with(' ') && !s.ends_with(' '));
        assert!(
            s.split(' ').all(|w| w == "word" || w == "end."),
            "cut inside a word: {s}"
        );
    }
    // A run without any space is cut at the limit.
    let run = "x".repeat(2_500);
    let found = check(&run).expect("invariants");
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].end - found[0].start, PASSAGE_CHARS);
}

#[test]
fn nothing_to_read_means_no_passages() {
    for text in ["", "   \n\n\t", "\u{0}\u{0}"] {
        assert!(
            check(text)
                .expect("invariants")
                .iter()
                .all(|p| p.end > p.start)
        );
    }
    assert!(passages("").is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn any_prose(text in "([A-Z][a-z]{0,12}( [a-z]{1,12}){0,40}[.!?]( |\n|\n\n|\nCHAPTER [IVX]{1,4}\n\n)){0,60}") {
        check(&text)?;
    }
}

#[test]
fn sentences_are_character_ranges_and_neither_titles_nor_quoted_cries_end_them() {
    let text = "Mr. Darcy bowed. \u{201c}Ah, Élise!\u{201d} she cried.\n\nWas it so? Yes.";
    let found: Vec<String> = sentences(text)
        .into_iter()
        .map(|r| text.chars().skip(r.start).take(r.end - r.start).collect())
        .collect();
    assert_eq!(
        found,
        [
            "Mr. Darcy bowed.",
            "\u{201c}Ah, Élise!\u{201d} she cried.",
            "Was it so?",
            "Yes."
        ]
    );
}
