//! Literary analysis of extracted text: chapters, paragraphs, sentences and
//! words; statistics; the people mentioned by name, grouped into characters
//! with their aliases; and who is mentioned near whom.
//!
//! Pure and deterministic: no I/O, no clock, no randomness; the same text
//! always gives the same [`Analysis`]. The only knowledge beyond the text is
//! general (word lists of English prose, given names, places, titles), never
//! knowledge of particular books.
//!
//! Every offset this crate reports is a Unicode scalar (character) offset
//! into the analysed text, `end` exclusive.

mod chapters;
mod characters;
pub mod evaluation;
mod interactions;
mod lexicon;
mod names;
mod passages;
mod segment;
mod stats;
mod text;
mod tokens;

use serde::{Deserialize, Serialize};

pub use passages::{PASSAGE_CHARS, Passage, SHORT_PASSAGE_CHARS};
pub use stats::{Statistics, Term};

/// The analyser and its version, as processing records it.
pub const ANALYSER: &str = concat!("studio-analysis/", env!("CARGO_PKG_VERSION"));

/// How many distinctive terms an analysis reports.
pub const DISTINCTIVE_TERMS: usize = 25;

/// Everything the analyser finds in one text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Characters (Unicode scalars) in the text.
    pub chars: usize,
    pub words: usize,
    pub sentences: usize,
    pub paragraphs: usize,
    pub chapters: Vec<Chapter>,
    pub statistics: Statistics,
    /// In order of first appearance.
    pub characters: Vec<Character>,
    /// In text order.
    pub mentions: Vec<Mention>,
    /// Heaviest first.
    pub interactions: Vec<Interaction>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chapter {
    pub title: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Character {
    /// Local to this analysis: `c1`, `c2`, ... in order of first appearance.
    pub id: String,
    /// The fullest name the text uses.
    pub name: String,
    /// Other names the text uses for the same person, in order of first use.
    pub aliases: Vec<String>,
    pub mentions: usize,
    /// Character offset of the first mention.
    pub first_mention: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    pub start: usize,
    pub end: usize,
    pub character_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub a: String,
    pub b: String,
    /// Sentences in which the two are mentioned near each other (see
    /// [`interactions`](crate::interactions)).
    pub weight: u64,
}

/// The passages of `text`, in order (see [`Passage`]): what semantic
/// search embeds.
pub fn passages(text: &str) -> Vec<Passage> {
    let index = text::CharIndex::new(text);
    let tokens = tokens::tokenize(text);
    let paragraphs = segment::paragraphs(text);
    let sentences = segment::sentences(text, &tokens, &paragraphs);
    let chapters: Vec<segment::Span> = chapters::chapters(text, &paragraphs)
        .into_iter()
        .map(|c| segment::Span {
            start: c.start,
            end: c.end,
        })
        .collect();
    passages::passages(text, &index, &tokens, &sentences, &chapters)
}

/// The sentences of `text`, in order, as character offsets (`end`
/// exclusive): where a mention is quoted from.
pub fn sentences(text: &str) -> Vec<std::ops::Range<usize>> {
    let index = text::CharIndex::new(text);
    let tokens = tokens::tokenize(text);
    let paragraphs = segment::paragraphs(text);
    segment::sentences(text, &tokens, &paragraphs)
        .into_iter()
        .filter_map(|s| {
            let first = tokens.get(s.tokens.0)?;
            let last = tokens.get(s.tokens.1.checked_sub(1)?)?;
            Some(index.chars_at(first.start)..index.chars_at(last.end))
        })
        .collect()
}

/// Analyses `text`.
pub fn analyze(text: &str) -> Analysis {
    let index = text::CharIndex::new(text);
    let tokens = tokens::tokenize(text);
    let paragraphs = segment::paragraphs(text);
    let sentences = segment::sentences(text, &tokens, &paragraphs);

    let chapters = chapters::chapters(text, &paragraphs)
        .into_iter()
        .map(|c| Chapter {
            title: c.title,
            start: index.chars_at(c.start),
            end: index.chars_at(c.end),
        })
        .collect();

    let statistics = stats::statistics(text, &tokens, &sentences, paragraphs.len());

    let raw = names::mentions(text, &tokens, &sentences);
    let surfaces: Vec<String> = raw.iter().map(|m| m.surface(text)).collect();
    let clusters = characters::cluster(&raw, &surfaces);
    let id = |n: usize| format!("c{}", n + 1);
    let mut character_of = vec![0; raw.len()];
    for (c, cluster) in clusters.iter().enumerate() {
        for &m in &cluster.mentions {
            character_of[m] = c;
        }
    }
    let characters = clusters
        .iter()
        .enumerate()
        .map(|(c, cluster)| Character {
            id: id(c),
            name: cluster.name.clone(),
            aliases: cluster.aliases.clone(),
            mentions: cluster.mentions.len(),
            first_mention: cluster
                .mentions
                .first()
                .map_or(0, |&m| index.chars_at(raw[m].start)),
        })
        .collect();
    let mentions = raw
        .iter()
        .zip(&character_of)
        .map(|(m, &c)| Mention {
            start: index.chars_at(m.start),
            end: index.chars_at(m.end),
            character_id: id(c),
        })
        .collect();
    let mut interactions: Vec<Interaction> = interactions::cooccurrences(
        &sentences,
        raw.iter().zip(&character_of).map(|(m, &c)| (m.sentence, c)),
    )
    .into_iter()
    .map(|((a, b), weight)| Interaction {
        a: id(a),
        b: id(b),
        weight,
    })
    .collect();
    interactions.sort_by_key(|i| std::cmp::Reverse(i.weight));

    Analysis {
        chars: index.len_chars(),
        words: statistics.words,
        sentences: statistics.sentences,
        paragraphs: paragraphs.len(),
        chapters,
        statistics,
        characters,
        mentions,
        interactions,
    }
}
