//! No input panics or escapes the limits: arbitrary bytes into every format
//! reader, and mangled versions of real files.

use proptest::prelude::*;
use studio_extract::{ExtractError, Format, Limits, extract, read_document};

fn limits() -> Limits {
    Limits {
        max_input_bytes: 1024 * 1024,
        max_decompressed_bytes: 4 * 1024 * 1024,
        max_entries: 100,
        max_pages: 50,
        max_text_chars: 1_000_000,
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Whatever happens, the result is text within the limits or an error.
fn holds(result: Result<studio_extract::Extracted, ExtractError>) -> Result<(), TestCaseError> {
    if let Ok(extracted) = result {
        prop_assert!(!extracted.text.trim().is_empty());
        prop_assert!(extracted.text.chars().count() as u64 <= limits().max_text_chars);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_in_any_format(bytes in prop::collection::vec(any::<u8>(), 0..2048), format in 0usize..6) {
        holds(extract(&bytes, Format::ALL[format], &limits()))?;
        holds(read_document(&bytes, "upload.bin", "application/octet-stream", &limits()))?;
    }

    #[test]
    fn real_files_with_bytes_flipped(
        name in prop::sample::select(vec!["masque.epub", "masque.docx", "masque.pdf", "masque.html", "masque.md"]),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20),
    ) {
        let mut bytes = fixture(name);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        holds(read_document(&bytes, name, "", &limits()))?;
    }

    #[test]
    fn real_files_cut_short(name in prop::sample::select(vec!["masque.epub", "masque.docx", "masque.pdf"]), keep in 0.0f64..1.0) {
        let bytes = fixture(name);
        let cut = (bytes.len() as f64 * keep) as usize;
        holds(read_document(&bytes[..cut], name, "", &limits()))?;
    }
}
