//! Project Gutenberg's header and licence. Texts from Gutenberg open with
//! a header ending in a `*** START OF THE PROJECT GUTENBERG EBOOK ... ***`
//! line and close with `*** END OF THE PROJECT GUTENBERG EBOOK ... ***`
//! followed by the licence; older files use `*END*THE SMALL PRINT!` and
//! `End of the Project Gutenberg EBook of ...`. Only what lies outside
//! recognised markers is stripped.

/// The text between the markers, trimmed of blank lines at its edges, or
/// `None` when the text has no Gutenberg boilerplate.
pub fn strip_boilerplate(text: &str) -> Option<String> {
    let start = start_of_body(text);
    let end = end_of_body(text, start.unwrap_or(0));
    if start.is_none() && end.is_none() {
        return None;
    }
    let body = &text[start.unwrap_or(0)..end.unwrap_or(text.len())];
    Some(
        body.trim_matches(|c: char| c == '\n' || c == '\r' || c == ' ' || c == '\t')
            .to_owned(),
    )
}

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |offset, line| {
        let start = *offset;
        *offset += line.len();
        Some((start, line))
    })
}

fn normalized(line: &str) -> String {
    line.trim()
        .trim_matches('*')
        .trim()
        .to_ascii_uppercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Byte offset just after the header's closing marker line.
fn start_of_body(text: &str) -> Option<usize> {
    // The header is short: look only near the top.
    let limit = text.len().min(64 * 1024);
    lines(text)
        .take_while(|(start, _)| *start < limit)
        .find(|(_, line)| {
            let l = normalized(line);
            (l.starts_with("START OF THE PROJECT GUTENBERG")
                || l.starts_with("START OF THIS PROJECT GUTENBERG")
                || l.starts_with("END*THE SMALL PRINT")
                || l.starts_with("END THE SMALL PRINT"))
                && line.trim_start().starts_with('*')
        })
        .map(|(start, line)| start + line.len())
}

/// Byte offset of the footer's opening marker line.
fn end_of_body(text: &str, from: usize) -> Option<usize> {
    lines(text)
        .filter(|(start, _)| *start >= from)
        .find(|(_, line)| {
            let l = normalized(line);
            ((l.starts_with("END OF THE PROJECT GUTENBERG")
                || l.starts_with("END OF THIS PROJECT GUTENBERG"))
                && line.trim_start().starts_with('*'))
                || l.starts_with("END OF THE PROJECT GUTENBERG EBOOK")
                || l.starts_with("END OF PROJECT GUTENBERG'S")
                || l.starts_with("END OF THE PROJECT GUTENBERG EBOOK OF")
        })
        .map(|(start, _)| start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modern_markers() {
        let text = "The Project Gutenberg eBook of Emma\r\n\r\nTitle: Emma\r\n\r\n*** START OF THE PROJECT GUTENBERG EBOOK EMMA ***\r\n\r\nCHAPTER I\r\n\r\nEmma Woodhouse, handsome.\r\n\r\n*** END OF THE PROJECT GUTENBERG EBOOK EMMA ***\r\n\r\nSection 1. General Terms of Use\r\n";
        assert_eq!(
            strip_boilerplate(text).as_deref(),
            Some("CHAPTER I\r\n\r\nEmma Woodhouse, handsome.")
        );
    }

    #[test]
    fn older_markers() {
        let text = "Project Gutenberg's Etext of Persuasion\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\nChapter 1\n\nSir Walter Elliot.\n\nEnd of the Project Gutenberg EBook of Persuasion\n\nThis file should be named";
        assert_eq!(
            strip_boilerplate(text).as_deref(),
            Some("Chapter 1\n\nSir Walter Elliot.")
        );
    }

    #[test]
    fn texts_without_markers_are_left_alone() {
        assert_eq!(
            strip_boilerplate("It mentions the Project Gutenberg licence once."),
            None
        );
    }
}
