//! Fuzzes the thermal frame codec: `frame::probe` and `frame::decode` (RTF1,
//! PNG and TIFF) with the default limits and with a small pixel limit. A
//! decoded frame must agree with its probed header and fit the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart::frame::{self, FrameLimits, MAX_SIDE};

fuzz_target!(|data: &[u8]| {
    let probed = frame::probe(data);
    if let Err(e) = &probed {
        assert!(!e.reason().is_empty());
        let _ = e.to_string();
    }
    for limits in [FrameLimits::default(), FrameLimits { max_pixels: 4096 }] {
        match frame::decode(data, &limits) {
            Ok(f) => {
                let (w, h) = (f.width(), f.height());
                assert!((1..=MAX_SIDE as usize).contains(&w));
                assert!((1..=MAX_SIDE as usize).contains(&h));
                assert!((w * h) as u64 <= limits.max_pixels);
                let (format, pw, ph) = probed.clone().expect("a payload that decodes also probes");
                assert_eq!((format, pw as usize, ph as usize), (f.format, w, h));
            }
            Err(e) => {
                assert!(!e.reason().is_empty());
                let _ = e.to_string();
            }
        }
    }
});
