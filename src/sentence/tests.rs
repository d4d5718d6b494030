//! The spec's test vectors and the parser's rejection reasons.

use super::*;
use proptest::prelude::*;

#[test]
fn spec_vector_heartbeat() {
    let s = parse(b"$RPHB,fence-c07,41,86400,OK*11").unwrap();
    assert_eq!(s.device, "fence-c07");
    assert_eq!(s.seq, 41);
    assert_eq!(
        s.body,
        Body::Heartbeat {
            uptime_s: 86400,
            status: Health::Ok
        }
    );
    assert_eq!(s.mac, None);
}

#[test]
fn spec_vector_fence() {
    let s = parse(b"$RPFZ,fence-c07,42,3,850,2400*1E\r\n").unwrap();
    assert_eq!(s.seq, 42);
    assert_eq!(
        s.body,
        Body::Fence {
            zone: 3,
            rms_mg: 850.0,
            peak_mg: 2400.0
        }
    );
}

#[test]
fn spec_vector_ground() {
    let s = parse(b"$RPGS,trench-t12,7,0,1800*44").unwrap();
    assert_eq!(s.device, "trench-t12");
    assert_eq!(
        s.body,
        Body::Ground {
            channel: 0,
            ppv_um_s: 1800.0
        }
    );
}

#[test]
fn spec_vector_beam() {
    let s = parse(b"$RPBK,trench-t12,8,1,1*6F\n").unwrap();
    assert_eq!(
        s.body,
        Body::Beam {
            channel: 1,
            broken: true
        }
    );
}

#[test]
fn spec_vector_tamper() {
    let s = parse(b"$RPTP,fence-c07,43,CUT*4D").unwrap();
    assert_eq!(
        s.body,
        Body::Tamper {
            kind: TamperKind::Cut
        }
    );
}

#[test]
fn spec_vector_keyed_fence_carries_its_mac() {
    let s = parse(b"$RPFZ,fence-c07,44,3,850,2400,m=6b5d4e55699d4479e9f69fc6628fdade*34").unwrap();
    assert_eq!(s.seq, 44);
    let tag = s.mac.expect("mac parsed");
    assert_eq!(tag[0], 0x6b);
    assert_eq!(tag[15], 0xde);
}

#[test]
fn encode_reproduces_the_spec_vectors() {
    for v in [
        "$RPHB,fence-c07,41,86400,OK*11",
        "$RPFZ,fence-c07,42,3,850,2400*1E",
        "$RPGS,trench-t12,7,0,1800*44",
        "$RPBK,trench-t12,8,1,1*6F",
        "$RPTP,fence-c07,43,CUT*4D",
        "$RPFZ,fence-c07,44,3,850,2400,m=6b5d4e55699d4479e9f69fc6628fdade*34",
    ] {
        let s = parse(v.as_bytes()).unwrap();
        assert_eq!(s.encode(), format!("{v}\r\n"));
    }
}

fn reason(line: &str) -> &'static str {
    parse(line.as_bytes()).unwrap_err().reason()
}

/// Builds a line with a correct checksum around `body` (the part after `$`).
fn with_cs(body: &str) -> String {
    format!("${body}*{:02X}", checksum(body.as_bytes()))
}

#[test]
fn rejections_name_their_reason() {
    assert_eq!(
        reason("$RPHB,fence-c07,41,86400,OK*12"),
        "checksum_mismatch"
    );
    assert_eq!(
        reason("$RPHB,fence-c07,41,86400,OK*1"),
        "bad_checksum_field"
    );
    assert_eq!(
        reason("$RPHB,fence-c07,41,86400,OK*1e"),
        "bad_checksum_field"
    );
    assert_eq!(reason("$RPHB,fence-c07,41,86400,OK"), "bad_checksum_field");
    assert_eq!(reason("RPHB,fence-c07,41,86400,OK*11"), "bad_start");
    assert_eq!(reason("$GPGGA,1*00"), "bad_start");
    assert_eq!(reason(""), "bad_start");
    assert_eq!(reason("$RPHB,f\u{e9},1*00"), "not_ascii");
    assert_eq!(reason("$RPHB,a\t,1*00"), "not_ascii");
    assert_eq!(reason(&with_cs("RPXX,fence-c07,1,2")), "unknown_type");
    assert_eq!(reason(&with_cs("RP")), "unknown_type");
    assert_eq!(reason(&with_cs("RPHB,bad id,1,2,OK")), "bad_device");
    assert_eq!(
        reason(&with_cs(&format!("RPHB,{},1,2,OK", "a".repeat(33)))),
        "bad_device"
    );
    assert_eq!(reason(&with_cs("RPHB,,1,2,OK")), "bad_device");
    assert_eq!(reason(&with_cs("RPHB,d,4294967296,2,OK")), "bad_seq");
    assert_eq!(reason(&with_cs("RPHB,d,-1,2,OK")), "bad_seq");
    assert_eq!(reason(&with_cs("RPHB,d,1,2")), "field_count");
    assert_eq!(reason(&with_cs("RPFZ,d,1,3,850,2400,7")), "field_count");
    assert_eq!(reason(&with_cs("RPHB")), "field_count");
    assert_eq!(reason(&with_cs("RPHB,d,1,2,MAYBE")), "bad_field");
    assert_eq!(reason(&with_cs("RPFZ,d,1,3,abc,2400")), "bad_field");
    assert_eq!(reason(&with_cs("RPFZ,d,1,3,-5,2400")), "bad_field");
    assert_eq!(reason(&with_cs("RPFZ,d,1,3,nan,2400")), "bad_field");
    assert_eq!(reason(&with_cs("RPFZ,d,1,3,1e9,2400")), "bad_field");
    assert_eq!(reason(&with_cs("RPFZ,d,1,70000,1,2")), "bad_field");
    assert_eq!(reason(&with_cs("RPBK,d,1,0,2")), "bad_field");
    assert_eq!(reason(&with_cs("RPTP,d,1,OPEN")), "bad_field");
    assert_eq!(reason(&with_cs("RPTP,d,1,CUT,m=00")), "bad_mac");
    assert_eq!(
        reason(&with_cs("RPTP,d,1,CUT,m=6B5D4E55699D4479E9F69FC6628FDADE")),
        "bad_mac"
    );
    assert_eq!(
        reason(&with_cs("m=6b5d4e55699d4479e9f69fc6628fdade")),
        "bad_start"
    );
    assert_eq!(reason(&format!("{}*00", "$RP".repeat(70))), "too_long");
}

#[test]
fn accepts_decimal_measurements_and_seq_extremes() {
    let s = parse(with_cs("RPFZ,d,4294967295,3,850.5,0.25").as_bytes()).unwrap();
    assert_eq!(s.seq, u32::MAX);
    assert_eq!(
        s.body,
        Body::Fence {
            zone: 3,
            rms_mg: 850.5,
            peak_mg: 0.25
        }
    );
    assert_eq!(
        s.encode(),
        format!("{}\r\n", with_cs("RPFZ,d,4294967295,3,850.5,0.25"))
    );
}

#[test]
fn a_body_of_only_a_mac_field_is_rejected_without_panic() {
    assert!(parse(with_cs("RPm=6b5d4e55699d4479e9f69fc6628fdade").as_bytes()).is_err());
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parser_never_panics_on_sentence_like_text(s in "\\$RP[A-Z]{2}(,[-a-z0-9=.]{0,12}){0,8}\\*[0-9A-F]{2}") {
        let _ = parse(s.as_bytes());
    }

    #[test]
    fn framer_never_exceeds_its_bound(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 0..8)) {
        let mut framer = LineFramer::new();
        for c in &chunks {
            framer.push(c, |e| if let FramerEvent::Line(l) = e { assert!(l.len() < MAX_LINE_LEN) });
        }
    }

    #[test]
    fn encode_then_parse_round_trips(device in "[A-Za-z0-9_-]{1,32}", seq in any::<u32>(), zone in any::<u16>(), rms in 0u32..1_000_000, peak in 0u32..1_000_000) {
        let s = Sentence { device, seq, body: Body::Fence { zone, rms_mg: f64::from(rms), peak_mg: f64::from(peak) }, mac: None };
        prop_assert_eq!(parse(s.encode().as_bytes()).unwrap(), s);
    }
}
