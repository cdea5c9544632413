//! Tokens: words (letters and digits, with inner apostrophes and hyphens,
//! as in O'Hara, don't, Such-a-one), numbers, and single punctuation marks.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Word,
    Number,
    Punct(char),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// Byte offsets into the text.
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

impl Token {
    pub fn text<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start..self.end]
    }

    pub fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }

    pub fn is(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }
}

fn joins_word(c: char) -> bool {
    matches!(c, '\'' | '’' | '-')
}

pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(text.len() / 5);
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c.is_alphanumeric() {
            let mut end = start + c.len_utf8();
            let mut alphabetic = c.is_alphabetic();
            loop {
                match chars.peek().copied() {
                    Some((i, next)) if next.is_alphanumeric() => {
                        alphabetic |= next.is_alphabetic();
                        end = i + next.len_utf8();
                        chars.next();
                    }
                    Some((i, next)) if joins_word(next) => {
                        // Part of the word only when a letter follows.
                        let after = text[i + next.len_utf8()..].chars().next();
                        if after.is_some_and(char::is_alphabetic) {
                            end = i + next.len_utf8();
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            let kind = if alphabetic { Kind::Word } else { Kind::Number };
            tokens.push(Token { start, end, kind });
        } else {
            tokens.push(Token {
                start,
                end: start + c.len_utf8(),
                kind: Kind::Punct(c),
            });
        }
    }
    tokens
}

/// Whether the word starts with an upper-case letter.
pub fn is_capitalized(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// Whether every letter of the word is upper case (and it has two or more).
pub fn is_all_caps(word: &str) -> bool {
    let letters = word.chars().filter(|c| c.is_alphabetic());
    let mut count = 0;
    for c in letters {
        if !c.is_uppercase() {
            return false;
        }
        count += 1;
    }
    count >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text).iter().map(|t| t.text(text)).collect()
    }

    #[test]
    fn words_keep_inner_apostrophes_and_hyphens() {
        assert_eq!(
            words("Lady Bridget O'Hara didn't—said Such-a-one. 'Tis 1840's end-"),
            [
                "Lady",
                "Bridget",
                "O'Hara",
                "didn't",
                "—",
                "said",
                "Such-a-one",
                ".",
                "'",
                "Tis",
                "1840's",
                "end",
                "-"
            ]
        );
    }

    #[test]
    fn kinds() {
        let t = tokenize("Pip, 42!");
        assert_eq!(
            t.iter().map(|t| t.kind).collect::<Vec<_>>(),
            [Kind::Word, Kind::Punct(','), Kind::Number, Kind::Punct('!')]
        );
    }
}
