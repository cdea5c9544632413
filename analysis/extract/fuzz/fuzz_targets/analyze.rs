#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let analysis = studio_analysis::analyze(text);
        assert_eq!(analysis.chars, text.chars().count());
    }
});
