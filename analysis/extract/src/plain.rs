//! Plain text in whatever encoding it came: a byte-order mark decides
//! (UTF-8, UTF-16LE, UTF-16BE); else valid UTF-8 is UTF-8; else the
//! encoding is detected (chardetng, as Firefox does) rather than assumed.

use crate::{ExtractError, Format};

/// Share of control characters above which bytes are not text.
const MAX_CONTROL_SHARE: f64 = 0.01;

pub fn decode(bytes: &[u8]) -> Result<(String, String), ExtractError> {
    let (text, encoding) = if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, malformed) = encoding.decode_without_bom_handling(&bytes[bom..]);
        if malformed {
            return Err(ExtractError::corrupt(
                Format::PlainText,
                format!(
                    "it starts with a {} byte-order mark but is not {}",
                    encoding.name(),
                    encoding.name()
                ),
            ));
        }
        (text.into_owned(), encoding.name().to_owned())
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        (text.to_owned(), "UTF-8".to_owned())
    } else {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(bytes, true);
        let encoding = detector.guess(None, chardetng::Utf8Detection::Allow);
        let (text, _, _) = encoding.decode(bytes);
        (text.into_owned(), encoding.name().to_owned())
    };
    let controls = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
        .count();
    if !text.is_empty() && controls as f64 / text.chars().count() as f64 > MAX_CONTROL_SHARE {
        return Err(ExtractError::Unsupported(
            "the file is binary, not text, and not in a format this platform reads".into(),
        ));
    }
    Ok((text, encoding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_kept_as_it_is() {
        let (text, encoding) = decode("Élise\r\nsaid “oui”.".as_bytes()).unwrap_or_default();
        assert_eq!(
            (text.as_str(), encoding.as_str()),
            ("Élise\r\nsaid “oui”.", "UTF-8")
        );
    }

    #[test]
    fn byte_order_marks_decide() {
        let mut utf16: Vec<u8> = vec![0xFF, 0xFE];
        utf16.extend("Hé".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&utf16).ok(), Some(("Hé".into(), "UTF-16LE".into())));
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend_from_slice(b"Hi");
        assert_eq!(decode(&bom8).ok(), Some(("Hi".into(), "UTF-8".into())));
    }

    #[test]
    fn legacy_encodings_are_detected() {
        // "Café déjà vu, naïve façade" in windows-1252.
        let bytes = b"Caf\xe9 d\xe9j\xe0 vu, na\xefve fa\xe7ade, the r\xe9sum\xe9 of a fianc\xe9e.";
        let (text, encoding) = decode(bytes).unwrap_or_default();
        assert!(text.starts_with("Café déjà vu"), "{text}");
        assert_eq!(encoding, "windows-1252");
    }

    #[test]
    fn binary_is_refused() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        assert!(matches!(decode(&bytes), Err(ExtractError::Unsupported(_))));
    }
}
