//! Fuzzes the config loader: `config::load_str` on arbitrary text, with
//! relative paths resolved against the repository's `config/` directory so
//! that the sample wall loads and validation runs to the end.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rampart::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"));
    match config::load_str("fuzz.toml", text, base) {
        Ok((config, wall)) => {
            assert!(rampart::sentence::is_valid_id(&config.instance));
            assert!(wall.segment_count() >= 1);
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "an error names at least one problem");
            for p in &problems {
                let _ = p.to_string();
            }
        }
    }
});
