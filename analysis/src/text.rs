//! Offsets. The analyser works in byte offsets internally and reports
//! Unicode scalar (character) offsets, `end` exclusive, as users and the
//! JSON output expect.

/// Converts byte offsets of one text into character offsets, fast for
/// offsets that arrive in increasing order and correct for any.
pub struct CharIndex<'a> {
    text: &'a str,
    /// Character count at every `STRIDE`-th byte boundary (rounded down to
    /// a char boundary).
    checkpoints: Vec<(usize, usize)>,
}

const STRIDE: usize = 4096;

impl<'a> CharIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut checkpoints = Vec::with_capacity(text.len() / STRIDE + 1);
        let mut chars = 0;
        let mut next = 0;
        for (byte, _) in text.char_indices() {
            if byte >= next {
                checkpoints.push((byte, chars));
                next = byte + STRIDE;
            }
            chars += 1;
        }
        checkpoints.push((text.len(), chars));
        Self { text, checkpoints }
    }

    /// The character offset of `byte`, which must be a char boundary (any
    /// other byte counts as the boundary before it).
    pub fn chars_at(&self, byte: usize) -> usize {
        let byte = byte.min(self.text.len());
        let slot = match self.checkpoints.binary_search_by_key(&byte, |(b, _)| *b) {
            Ok(i) => return self.checkpoints[i].1,
            Err(0) => 0,
            Err(i) => i - 1,
        };
        let (from, chars) = self.checkpoints[slot];
        chars
            + self.text[from..]
                .char_indices()
                .take_while(|(b, _)| from + b < byte)
                .count()
    }

    pub fn len_chars(&self) -> usize {
        self.checkpoints.last().map_or(0, |(_, c)| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        let text = "Élise said “oui” — twice.";
        let index = CharIndex::new(text);
        for (byte, _) in text.char_indices() {
            assert_eq!(index.chars_at(byte), text[..byte].chars().count());
        }
        assert_eq!(index.chars_at(text.len()), text.chars().count());
        assert_eq!(index.len_chars(), text.chars().count());
    }

    #[test]
    fn long_texts_use_checkpoints() {
        let text = "é".repeat(10_000) + "end";
        let index = CharIndex::new(&text);
        assert_eq!(index.chars_at(text.len() - 3), 10_000);
        assert_eq!(index.chars_at(5000), 2500);
    }
}
