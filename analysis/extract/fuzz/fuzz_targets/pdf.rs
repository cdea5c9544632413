#![no_main]

use libfuzzer_sys::fuzz_target;
use studio_extract::{Format, Limits, extract};

// The PDF reader catches the parser's panics, as in production; libFuzzer's
// panic hook would abort on them first, so a quiet hook replaces it. A panic
// that escapes `extract` still crosses into libFuzzer and aborts the run.
static UNWIND: std::sync::Once = std::sync::Once::new();

fuzz_target!(|bytes: &[u8]| {
    UNWIND.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let limits = Limits {
        max_decompressed_bytes: 8 * 1024 * 1024,
        max_pages: 100,
        ..Limits::default()
    };
    let _ = extract(bytes, Format::Pdf, &limits);
});
