#![no_main]

use libfuzzer_sys::fuzz_target;
use studio_extract::{Format, Limits, extract};

fuzz_target!(|bytes: &[u8]| {
    let limits = Limits {
        max_decompressed_bytes: 8 * 1024 * 1024,
        max_pages: 100,
        ..Limits::default()
    };
    let _ = extract(bytes, Format::Epub, &limits);
});
