//! Fuzzes the recording reader (`record::format::Reader`), which
//! `rampart replay FILE` runs on files from disk: the header, then every
//! record until the end or the first error, and the acknowledgement payloads
//! as replay parses them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart::ingest::Ack;
use rampart::record::format::{Reader, MAX_RECORD_LEN};
use rampart::record::Payload;

fuzz_target!(|data: &[u8]| {
    let mut reader = match Reader::new(data) {
        Ok(r) => r,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = reader.header().started();
    let mut records = 0usize;
    loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                records += 1;
                assert!(record.payload.bytes().len() <= MAX_RECORD_LEN as usize);
                assert!(reader.offset() <= data.len() as u64);
                if let Payload::Ack(bytes) = &record.payload {
                    let _ = Ack::parse(bytes);
                }
                let _ = record.source.to_string();
            }
            Ok(None) => break,
            Err(e) => {
                let _ = (e.to_string(), e.is_truncated_tail());
                assert!(reader.next_record().expect("fused").is_none());
                break;
            }
        }
    }
    // Every record takes at least 19 bytes of the input.
    assert!(records <= data.len() / 19);
});
