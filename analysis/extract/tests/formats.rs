//! Every format read from a real file, and every kind of hostile file
//! refused with a clear reason.

use studio_extract::{ExtractError, Format, Limits, read_document};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read(name: &str) -> Result<studio_extract::Extracted, ExtractError> {
    read_document(
        &fixture(name),
        name,
        "application/octet-stream",
        &Limits::default(),
    )
}

const OPENING: &str = "The \"Red Death\" had long devastated the country.";
const CLOSING: &str =
    "And Darkness and Decay and the Red Death held illimitable dominion over all.";

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[track_caller]
fn reads_the_story(name: &str, format: Format) -> studio_extract::Extracted {
    let extracted = read(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(extracted.format, format, "{name}");
    let text = words(&extracted.text);
    assert!(
        text.contains(&words(OPENING)),
        "{name}: {}",
        &text[..200.min(text.len())]
    );
    assert!(text.contains(CLOSING), "{name}");
    assert!(text.contains("Prince Prospero"), "{name}");
    assert!(!text.contains("not text"), "{name}: script text leaked");
    extracted
}

#[test]
fn utf8_text_is_the_file_unchanged() {
    let extracted = reads_the_story("masque.txt", Format::PlainText);
    assert_eq!(extracted.text.as_bytes(), fixture("masque.txt").as_slice());
    assert_eq!(extracted.encoding.as_deref(), Some("UTF-8"));
    assert!(!extracted.boilerplate_removed);
}

#[test]
fn other_encodings_are_decoded() {
    let utf16 = reads_the_story("masque-utf16le.txt", Format::PlainText);
    assert_eq!(utf16.encoding.as_deref(), Some("UTF-16LE"));
    assert_eq!(utf16.text.as_bytes(), fixture("masque.txt").as_slice());
    let legacy = reads_the_story("masque-windows1252.txt", Format::PlainText);
    assert_eq!(legacy.encoding.as_deref(), Some("windows-1252"));
    assert!(
        legacy
            .text
            .contains("Avatar — “the” café déjà vu, naïve façade, résumé")
    );
}

#[test]
fn gutenberg_boilerplate_is_stripped() {
    let extracted = reads_the_story("masque-gutenberg.txt", Format::PlainText);
    assert!(extracted.boilerplate_removed);
    assert!(extracted.text.starts_with(OPENING));
    assert!(words(&extracted.text).ends_with(CLOSING));
    assert!(!extracted.text.contains("Gutenberg"));
}

#[test]
fn markdown_html_epub_docx_pdf() {
    let md = reads_the_story("masque.md", Format::Markdown);
    assert!(md.text.starts_with("The Masque of the Red Death\n\n"));
    assert!(!md.text.contains('*'));
    let html = reads_the_story("masque.html", Format::Html);
    assert!(html.text.contains("\n\n"));
    let epub = reads_the_story("masque.epub", Format::Epub);
    assert!(
        epub.text.find("PART I").unwrap_or(usize::MAX) < epub.text.find("PART II").unwrap_or(0)
    );
    reads_the_story("masque.docx", Format::Docx);
    let pdf = reads_the_story("masque.pdf", Format::Pdf);
    assert!(pdf.pages.is_some_and(|p| p >= 3), "{:?}", pdf.pages);
}

#[test]
fn encrypted_files_are_refused() {
    assert_eq!(read("encrypted.pdf"), Err(ExtractError::Encrypted("pdf")));
}

#[test]
fn corrupt_and_truncated_files_are_refused() {
    assert!(
        matches!(read("truncated.epub"), Err(ExtractError::Corrupt { .. })),
        "{:?}",
        read("truncated.epub")
    );
    assert!(
        matches!(
            read("corrupt.pdf"),
            Err(ExtractError::Corrupt { format: "pdf", .. })
        ),
        "{:?}",
        read("corrupt.pdf")
    );
    assert!(matches!(
        read("plain.zip"),
        Err(ExtractError::Unsupported(_))
    ));
    assert!(matches!(
        read("binary.bin"),
        Err(ExtractError::Unsupported(_))
    ));
}

#[test]
fn zip_bombs_are_refused_not_expanded() {
    let limits = Limits {
        max_decompressed_bytes: 16 * 1024 * 1024,
        ..Limits::default()
    };
    for name in ["bomb.docx", "lying-bomb.docx"] {
        let result = read_document(&fixture(name), name, "", &limits);
        assert!(
            matches!(
                result,
                Err(ExtractError::TooLarge {
                    what: "bytes once decompressed",
                    ..
                }) | Err(ExtractError::Corrupt { .. })
            ),
            "{name}: {result:?}"
        );
    }
}

#[test]
fn every_limit_holds() {
    let tight = |limits: Limits, name: &str| read_document(&fixture(name), name, "", &limits);
    assert!(matches!(
        tight(
            Limits {
                max_input_bytes: 1000,
                ..Limits::default()
            },
            "masque.txt"
        ),
        Err(ExtractError::TooLarge { what: "bytes", .. })
    ));
    assert!(matches!(
        tight(
            Limits {
                max_entries: 3,
                ..Limits::default()
            },
            "masque.epub"
        ),
        Err(ExtractError::TooLarge {
            what: "entries in the archive",
            ..
        })
    ));
    assert!(matches!(
        tight(
            Limits {
                max_pages: 1,
                ..Limits::default()
            },
            "masque.pdf"
        ),
        Err(ExtractError::TooLarge { what: "pages", .. })
    ));
    assert!(matches!(
        tight(
            Limits {
                max_text_chars: 100,
                ..Limits::default()
            },
            "masque.md"
        ),
        Err(ExtractError::TooLarge {
            what: "characters of text",
            ..
        })
    ));
}

#[test]
fn empty_documents_have_no_text() {
    assert_eq!(
        read_document(b"  \n\n ", "blank.txt", "text/plain", &Limits::default()),
        Err(ExtractError::NoText)
    );
}
