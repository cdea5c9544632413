//! HTML (and the XHTML of EPUB) to text with html5ever (through
//! `scraper`): the visible words, block elements as paragraphs, runs of
//! whitespace collapsed as a browser would, scripts and styles dropped.

use scraper::{Html, Node};

const SKIPPED: &[&str] = &[
    "head", "script", "style", "noscript", "template", "svg", "math", "title", "nav",
];
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "pre",
    "table",
    "tr",
    "dd",
    "dt",
    "figure",
    "figcaption",
    "hr",
    "ul",
    "ol",
    "dl",
    "body",
    "main",
    "address",
];

pub fn to_text(source: &str) -> String {
    let document = Html::parse_document(source);
    let mut out = Output::default();
    // An explicit stack rather than recursion: hostile nesting depth cannot
    // exhaust the thread's stack.
    let mut stack = vec![(document.tree.root(), false)];
    while let Some((node, leaving)) = stack.pop() {
        match node.value() {
            Node::Element(element) => {
                let name = element.name();
                let block = BLOCKS.contains(&name);
                if leaving {
                    if block {
                        out.paragraph();
                    }
                    if name == "pre" {
                        out.pre -= 1;
                    }
                    continue;
                }
                if SKIPPED.contains(&name) {
                    continue;
                }
                match name {
                    "br" => out.line(),
                    "td" | "th" => out.space(),
                    _ => {}
                }
                if block {
                    out.paragraph();
                }
                if name == "pre" {
                    out.pre += 1;
                }
                stack.push((node, true));
                let children: Vec<_> = node.children().collect();
                stack.extend(children.into_iter().rev().map(|c| (c, false)));
            }
            Node::Text(text) => out.text(text),
            Node::Document | Node::Fragment => {
                let children: Vec<_> = node.children().collect();
                stack.extend(children.into_iter().rev().map(|c| (c, false)));
            }
            _ => {}
        }
    }
    out.finish()
}

#[derive(Default)]
struct Output {
    text: String,
    /// Inside `<pre>`: whitespace is kept.
    pre: usize,
    pending_space: bool,
}

impl Output {
    fn text(&mut self, raw: &str) {
        if self.pre > 0 {
            self.text.push_str(raw);
            return;
        }
        for (i, word) in raw.split_whitespace().enumerate() {
            let at_line_start = self.text.is_empty() || self.text.ends_with('\n');
            if (i > 0 || self.pending_space || raw.starts_with(char::is_whitespace))
                && !at_line_start
            {
                self.text.push(' ');
            }
            self.text.push_str(word);
            self.pending_space = false;
        }
        if raw.ends_with(char::is_whitespace) && !raw.trim().is_empty() {
            self.pending_space = true;
        }
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn line(&mut self) {
        self.text.push('\n');
        self.pending_space = false;
    }

    fn paragraph(&mut self) {
        self.pending_space = false;
        if self.text.is_empty() {
            return;
        }
        while self.text.ends_with(['\n', ' ']) {
            self.text.pop();
        }
        self.text.push_str("\n\n");
    }

    fn finish(self) -> String {
        self.text.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_words_in_paragraphs() {
        let html = "<!DOCTYPE html><html><head><title>T</title><style>p{}</style></head><body>
            <h1>Chapter  I</h1><p>It was a <em>dark</em>\n and stormy night.</p>
            <script>alert(1)</script><p>Line one<br>line two</p><ul><li>a</li><li>b</li></ul></body></html>";
        assert_eq!(
            to_text(html),
            "Chapter I\n\nIt was a dark and stormy night.\n\nLine one\nline two\n\na\n\nb"
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = "<div>".repeat(20_000) + "deep" + &"</div>".repeat(20_000);
        assert_eq!(to_text(&html), "deep");
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            to_text("<p>Tom &amp; Jerry &mdash; &#8220;hi&#8221;</p>"),
            "Tom & Jerry — “hi”"
        );
    }
}
