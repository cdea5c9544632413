//! Markdown to text with pulldown-cmark: the words, with blocks (headings,
//! paragraphs, list items, quotes, code) as paragraphs; markup dropped.

use pulldown_cmark::{Event, Options, Parser, TagEnd};

pub fn to_text(source: &str) -> String {
    let mut text = String::with_capacity(source.len());
    for event in Parser::new_ext(source, Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                text.push_str(&t);
            }
            Event::SoftBreak | Event::HardBreak => text.push('\n'),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::BlockQuote(_)
                | TagEnd::CodeBlock
                | TagEnd::TableRow
                | TagEnd::FootnoteDefinition,
            )
            | Event::Rule => {
                while text.ends_with('\n') {
                    text.pop();
                }
                text.push_str("\n\n");
            }
            Event::End(TagEnd::TableCell) => text.push('\t'),
            _ => {}
        }
    }
    text.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_goes_and_blocks_stay() {
        let md = "# Chapter 1\n\nIt was *the* best of **times**,\nit was `the worst`.\n\n- one\n- two\n\n> quoted\n";
        assert_eq!(
            to_text(md),
            "Chapter 1\n\nIt was the best of times,\nit was the worst.\n\none\n\ntwo\n\nquoted"
        );
    }
}
