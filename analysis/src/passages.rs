//! Passages: the pieces of a text that semantic search embeds and answers
//! with. A passage is whole sentences, at most [`PASSAGE_CHARS`]
//! characters (about what all-MiniLM-L6-v2 reads before its 256-piece
//! window ends), and never crosses a chapter. It ends at a paragraph's end
//! when it can: short paragraphs (dialogue lines) are gathered until the
//! passage has [`SHORT_PASSAGE_CHARS`]; a long paragraph is cut between
//! sentences. Only a sentence longer than a passage is cut inside, between
//! words.

use serde::{Deserialize, Serialize};

use crate::segment::{Sentence, Span};
use crate::text::CharIndex;
use crate::tokens::Token;

/// Most characters in a passage.
pub const PASSAGE_CHARS: usize = 1_000;
/// A passage shorter than this goes on into the next paragraph (of the
/// same chapter).
pub const SHORT_PASSAGE_CHARS: usize = 300;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passage {
    /// Character offsets into the text, `end` exclusive.
    pub start: usize,
    pub end: usize,
    /// The index of its chapter in [`Analysis::chapters`](crate::Analysis),
    /// `None` before the first chapter (or in a text without chapters).
    pub chapter: Option<usize>,
}

/// A piece of a sentence (or a whole one), in bytes.
struct Piece {
    start: usize,
    end: usize,
    paragraph: usize,
    chapter: Option<usize>,
}

pub(crate) fn passages(
    text: &str,
    index: &CharIndex<'_>,
    tokens: &[Token],
    sentences: &[Sentence],
    chapters: &[Span],
) -> Vec<Passage> {
    let mut passages: Vec<Passage> = Vec::new();
    let mut open: Option<(Passage, usize)> = None;
    for piece in pieces(text, index, tokens, sentences, chapters) {
        let (start, end) = (index.chars_at(piece.start), index.chars_at(piece.end));
        if let Some((current, paragraph)) = &open {
            let closes = current.chapter != piece.chapter
                || end - current.start > PASSAGE_CHARS
                || (*paragraph != piece.paragraph
                    && current.end - current.start >= SHORT_PASSAGE_CHARS);
            if closes {
                passages.extend(open.take().map(|(p, _)| p));
            }
        }
        match &mut open {
            Some((current, paragraph)) => {
                current.end = end;
                *paragraph = piece.paragraph;
            }
            None => {
                open = Some((
                    Passage {
                        start,
                        end,
                        chapter: piece.chapter,
                    },
                    piece.paragraph,
                ))
            }
        }
    }
    passages.extend(open.map(|(p, _)| p));
    passages
}

/// Every sentence as a byte range with its paragraph and chapter; a
/// sentence longer than a passage comes in pieces cut between words.
fn pieces(
    text: &str,
    index: &CharIndex<'_>,
    tokens: &[Token],
    sentences: &[Sentence],
    chapters: &[Span],
) -> Vec<Piece> {
    let mut pieces = Vec::with_capacity(sentences.len());
    let mut chapter = 0;
    for sentence in sentences {
        let (first, last) = sentence.tokens;
        let (Some(first), Some(last)) = (
            tokens.get(first),
            last.checked_sub(1).and_then(|l| tokens.get(l)),
        ) else {
            continue;
        };
        let (mut start, end) = (first.start, last.end);
        while chapter < chapters.len() && chapters[chapter].end <= start {
            chapter += 1;
        }
        let in_chapter = chapters
            .get(chapter)
            .filter(|c| c.start <= start)
            .map(|_| chapter);
        while index.chars_at(end) - index.chars_at(start) > PASSAGE_CHARS {
            let cut = cut_before(text, start, PASSAGE_CHARS);
            pieces.push(Piece {
                start,
                end: cut.0,
                paragraph: sentence.paragraph,
                chapter: in_chapter,
            });
            start = cut.1;
        }
        pieces.push(Piece {
            start,
            end,
            paragraph: sentence.paragraph,
            chapter: in_chapter,
        });
    }
    pieces
}

/// Where to cut a text that goes on past `limit` characters from `start`:
/// the end of the piece and the start of the rest, at the last whitespace
/// within the limit (or at the limit, in a run without any).
fn cut_before(text: &str, start: usize, limit: usize) -> (usize, usize) {
    let rest = &text[start..];
    let at_limit = rest
        .char_indices()
        .nth(limit)
        .map_or(rest.len(), |(byte, _)| byte);
    let window = &rest[..at_limit];
    match window.rfind(char::is_whitespace) {
        Some(space) if !window[..space].trim_end().is_empty() => {
            let end = window[..space].trim_end().len();
            let next = space
                + window[space..]
                    .char_indices()
                    .find(|(_, c)| !c.is_whitespace())
                    .map_or(window.len() - space, |(i, _)| i);
            (start + end, start + next)
        }
        _ => (start + at_limit, start + at_limit),
    }
}
