//! Fuzzes the sentence codec as sources use it: `sentence::parse` on the
//! whole input, `LineFramer` on it, and `ingest::LineDecoder` fed the same
//! bytes in one push and in chunks, which must decode the same way.
//!
//! The first byte picks the chunk size; the rest is the stream. Each
//! decoding runs unkeyed and with a key for `fence-1`, so the MAC path is
//! fuzzed too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

use rampart::auth::Keys;
use rampart::ingest::{Binding, Decoded, LineDecoder};
use rampart::sentence::{self, FramerEvent, LineFramer, MAX_LINE_LEN};

/// One decoded line, owned, so runs can be compared.
#[derive(Debug, PartialEq)]
enum Seen {
    Sentence(sentence::Sentence),
    Rejected(&'static str, Vec<u8>),
}

fn decode(chunks: &[&[u8]], binding: &Binding<'_>, keys: &Arc<Keys>) -> Vec<Seen> {
    let mut decoder = LineDecoder::with_keys(keys.clone());
    let mut seen = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        decoder.push(chunk, binding, last, |d| {
            seen.push(match d {
                Decoded::Sentence { sentence: s, .. } => Seen::Sentence(s),
                Decoded::Rejected {
                    reason,
                    message,
                    line,
                    device: _,
                } => {
                    assert!(!message.is_empty());
                    assert!(line.len() <= MAX_LINE_LEN, "rejected line over the cap");
                    Seen::Rejected(reason, line.to_vec())
                }
            })
        });
    }
    seen
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };

    // The parser on the whole input, as one line.
    match sentence::parse(stream) {
        Ok(s) => {
            assert!(stream.len() <= MAX_LINE_LEN);
            assert!(sentence::is_valid_id(&s.device));
        }
        Err(e) => {
            assert!(!e.reason().is_empty());
            let _ = e.to_string();
        }
    }

    // The framer never hands out more than MAX_LINE_LEN bytes.
    let mut framer = LineFramer::new();
    let mut check = |e: FramerEvent<'_>| {
        if let FramerEvent::Line(line) = e {
            assert!(line.len() <= MAX_LINE_LEN, "framed line of {}", line.len());
            let _ = sentence::parse(line);
        }
    };
    framer.push(stream, &mut check);
    framer.finish(check);

    // Chunking must not change what the decoder reports.
    let size = usize::from(split).max(1);
    let chunks: Vec<&[u8]> = stream.chunks(size).collect();
    let chunks = if chunks.is_empty() {
        vec![stream]
    } else {
        chunks
    };
    let devices = ["fence-1".to_owned()];
    let unkeyed = Arc::new(Keys::none());
    let keyed = Arc::new(
        Keys::parse(&format!("fence-1 = \"{}\"\n", "a5".repeat(32))).expect("a valid key line"),
    );
    for keys in [&unkeyed, &keyed] {
        for binding in [
            Binding::Any,
            Binding::Only("fence-1"),
            Binding::OneOf(&devices),
        ] {
            let whole = decode(&[stream], &binding, keys);
            let pieces = decode(&chunks, &binding, keys);
            assert_eq!(whole, pieces, "chunks of {size} decode differently");
        }
    }
});
