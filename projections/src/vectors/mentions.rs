//! Representative mentions: the sentences of a document that show a
//! character, quoted into its profile vector so that characters are
//! compared by what the text says of them, not only by their names.

use std::ops::Range;

/// Sentences quoted per character and document: its first mention, its
/// last, and one in between.
pub const MENTIONS_PER_DOCUMENT: usize = 3;

/// Longest quotation, in characters; a longer sentence is cut around the
/// mention, between words.
const QUOTE_CHARS: usize = 300;

/// A text with its sentences, ready to quote the sentences of mentions.
pub struct MentionSentences<'a> {
    text: &'a str,
    /// Byte offset of every character, and of the end.
    bytes: Vec<usize>,
    sentences: Vec<Range<usize>>,
}

impl<'a> MentionSentences<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text
                .char_indices()
                .map(|(b, _)| b)
                .chain(std::iter::once(text.len()))
                .collect(),
            sentences: studio_analysis::sentences(text),
        }
    }

    /// The sentences of up to [`MENTIONS_PER_DOCUMENT`] of `mentions`
    /// (character offsets, in text order) spread evenly from first to
    /// last, each sentence once, in text order, whitespace collapsed.
    /// Mentions outside the text are skipped.
    pub fn representative(&self, mentions: &[Range<usize>]) -> Vec<String> {
        let chars = self.bytes.len() - 1;
        let inside: Vec<&Range<usize>> = mentions
            .iter()
            .filter(|m| m.start < m.end && m.end <= chars)
            .collect();
        let wanted = inside.len().min(MENTIONS_PER_DOCUMENT);
        let mut quoted: Vec<Range<usize>> = Vec::with_capacity(wanted);
        for k in 0..wanted {
            let pick = if wanted == 1 {
                0
            } else {
                k * (inside.len() - 1) / (wanted - 1)
            };
            let span = self.around(inside[pick]);
            if !quoted.contains(&span) {
                quoted.push(span);
            }
        }
        quoted
            .into_iter()
            .filter_map(|span| {
                let words = self
                    .text
                    .get(self.bytes[span.start]..self.bytes[span.end])?;
                let quote = words.split_whitespace().collect::<Vec<_>>().join(" ");
                (!quote.is_empty()).then_some(quote)
            })
            .collect()
    }

    /// The characters to quote for a mention: its sentence, or at most
    /// [`QUOTE_CHARS`] of it around the mention, cut between words.
    fn around(&self, mention: &Range<usize>) -> Range<usize> {
        let at = self.sentences.partition_point(|s| s.end <= mention.start);
        let sentence = match self.sentences.get(at) {
            Some(s) if s.start <= mention.start => s.clone(),
            // Not inside a sentence (a heading, a list): the mention alone.
            _ => return mention.clone(),
        };
        if sentence.end - sentence.start <= QUOTE_CHARS {
            return sentence;
        }
        let length = mention.end - mention.start;
        let before = QUOTE_CHARS.saturating_sub(length) / 2;
        let start = mention.start.saturating_sub(before).max(sentence.start);
        let end = (start + QUOTE_CHARS).min(sentence.end);
        let start = if start > sentence.start {
            self.after_space(start, mention.start)
        } else {
            start
        };
        let end = if end < sentence.end {
            self.before_space(end, mention.end)
        } else {
            end
        };
        start..end
    }

    fn char_at(&self, i: usize) -> Option<char> {
        self.text.get(self.bytes[i]..)?.chars().next()
    }

    /// The first character after whitespace from `from`, not past `limit`.
    fn after_space(&self, from: usize, limit: usize) -> usize {
        (from..limit)
            .find(|&i| self.char_at(i).is_some_and(char::is_whitespace))
            .map_or(from, |i| i + 1)
    }

    /// The last whitespace before `to`, not before `limit`.
    fn before_space(&self, to: usize, limit: usize) -> usize {
        (limit..to)
            .rev()
            .find(|&i| self.char_at(i).is_some_and(char::is_whitespace))
            .unwrap_or(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention_of(text: &str, word: &str, nth: usize) -> Range<usize> {
        let (byte, _) = text.match_indices(word).nth(nth).expect("the word");
        let start = text[..byte].chars().count();
        start..start + word.chars().count()
    }

    #[test]
    fn first_last_and_middle_mentions_are_quoted_once_each_in_text_order() {
        let text = "Élise came in. Rain fell.\n\nThen Élise   spoke. \
                    Nobody answered Élise. Night. Élise slept.";
        let mentions: Vec<Range<usize>> = (0..4).map(|n| mention_of(text, "Élise", n)).collect();
        let quoted = MentionSentences::new(text).representative(&mentions);
        assert_eq!(
            quoted,
            ["Élise came in.", "Then Élise spoke.", "Élise slept."]
        );
    }

    #[test]
    fn mentions_in_one_sentence_quote_it_once() {
        let text = "Ann and Ann's sister met Ann. The end.";
        let mentions: Vec<Range<usize>> = (0..3).map(|n| mention_of(text, "Ann", n)).collect();
        assert_eq!(
            MentionSentences::new(text).representative(&mentions),
            ["Ann and Ann's sister met Ann."]
        );
    }

    #[test]
    fn a_long_sentence_is_cut_around_the_mention_between_words() {
        let filler = "word ".repeat(200);
        let text = format!("{filler}and there stood Heathcliff, {filler}at last.");
        let mention = mention_of(&text, "Heathcliff", 0);
        let quoted = MentionSentences::new(&text).representative(&[mention]);
        assert_eq!(quoted.len(), 1);
        let quote = &quoted[0];
        assert!(quote.contains("Heathcliff"), "{quote}");
        assert!(quote.chars().count() <= QUOTE_CHARS, "{quote}");
        assert!(
            quote.starts_with("word ") && quote.ends_with(" word"),
            "{quote}"
        );
    }

    #[test]
    fn mentions_outside_the_text_or_empty_are_skipped() {
        let text = "Only Tom.";
        let quoted = MentionSentences::new(text).representative(&[3..3, 5..8, 8..90, 100..120]);
        assert_eq!(quoted, ["Only Tom."]);
        let nothing = vec![Range { start: 0, end: 4 }];
        assert!(
            MentionSentences::new("")
                .representative(&nothing)
                .is_empty()
        );
    }
}
