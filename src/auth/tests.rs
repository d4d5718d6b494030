//! Unit tests of sentence authentication: keys, the key file, the MAC, the
//! seq guard and the suspicion of substitution, alone and in the engine.

use std::sync::Arc;
use std::time::Duration;

use super::seq::{is_newer, OpenTamper, SeqGuard, Suspected, Suspicion, SuspicionConfig};
use super::*;
use crate::alert::{AlertKind, AlertState};
use crate::engine::Engine;
use crate::incident::Output;
use crate::ingest::{Binding, Decoded, LineDecoder};
use crate::sentence::{parse, Body, Health, TamperKind};
use crate::time::Timestamp;

/// The spec's test key: the bytes 00 01 ... 1f.
fn spec_key() -> Key {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = i as u8;
    }
    Key::new(k)
}

const SPEC_LINE: &str = "$RPFZ,fence-c07,44,3,850,2400,m=6b5d4e55699d4479e9f69fc6628fdade*34\r\n";
const SPEC_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn check(line: &[u8], key: &Key) -> Result<(), AuthError> {
    let s = parse(line).expect("parses");
    verify(key, line, s.mac.as_ref())
}

#[test]
fn the_spec_keyed_test_vector_verifies_and_signing_reproduces_it() {
    assert_eq!(check(SPEC_LINE.as_bytes(), &spec_key()), Ok(()));
    let mut s = parse(SPEC_LINE.as_bytes()).unwrap();
    s.mac = None;
    sign(&mut s, &spec_key());
    assert_eq!(s.encode(), SPEC_LINE);
}

#[test]
fn a_flipped_bit_a_missing_tag_or_another_key_is_refused() {
    let key = spec_key();
    // Flip the lowest bit of the tag's last hex digit (e → f) and fix the
    // checksum, so only the MAC is wrong.
    let mut s = parse(SPEC_LINE.as_bytes()).unwrap();
    let mut tag = s.mac.unwrap();
    tag[15] ^= 1;
    s.mac = Some(tag);
    let flipped = s.encode();
    assert_eq!(check(flipped.as_bytes(), &key), Err(AuthError::BadMac));
    assert_eq!(AuthError::BadMac.reason(), "bad_mac");
    // A flipped bit in a covered byte (zone 3 → 2).
    let mut body = parse(SPEC_LINE.as_bytes()).unwrap();
    body.body = Body::Fence {
        zone: 2,
        rms_mg: 850.0,
        peak_mg: 2400.0,
    };
    assert_eq!(
        check(body.encode().as_bytes(), &key),
        Err(AuthError::BadMac)
    );
    let plain = b"$RPFZ,fence-c07,42,3,850,2400*1E\r\n";
    assert_eq!(check(plain, &key), Err(AuthError::MissingMac));
    assert_eq!(AuthError::MissingMac.reason(), "missing_mac");
    let other = Key::new([7; 32]);
    assert_eq!(check(SPEC_LINE.as_bytes(), &other), Err(AuthError::BadMac));
}

#[test]
fn seq_is_newer_by_rfc_1982() {
    assert!(is_newer(1, 0));
    assert!(is_newer(0, u32::MAX), "wrap 4294967295 → 0 is newer");
    assert!(is_newer(5, u32::MAX - 5));
    assert!(!is_newer(7, 7), "equal");
    assert!(!is_newer(6, 7), "older");
    assert!(!is_newer(u32::MAX, 0), "4294967295 is older than 0");
    // Half-way (distance 2^31): undefined in RFC 1982, refused here.
    assert!(!is_newer(1 << 31, 0));
    assert!(!is_newer(0, 1 << 31));
    assert!(is_newer((1 << 31) - 1, 0), "just under half-way is newer");

    let mut g = SeqGuard::default();
    assert_eq!(g.check("d", 123), Ok(()), "first seq of a device");
    g.accept("d", u32::MAX);
    assert_eq!(g.check("d", 0), Ok(()));
    g.accept("d", 0);
    assert_eq!(g.check("d", u32::MAX), Err(0));
    assert_eq!(g.take_changes(), [("d".to_owned(), 0)]);
    assert!(g.take_changes().is_empty(), "only changes");
}

fn t(secs: u64) -> Timestamp {
    Timestamp(1_800_000_000_000 + secs as i64 * 1000)
}

fn suspicion() -> Suspicion {
    Suspicion::new(SuspicionConfig {
        burst_count: 5,
        burst_window: Duration::from_secs(10),
        clear_after: Duration::from_secs(60),
        update_interval: Duration::from_secs(2),
    })
}

#[test]
fn a_burst_of_rejections_is_reported_once_updated_rate_limited_and_cleared_when_quiet() {
    let mut s = suspicion();
    // Four, spread over more than the window: no burst.
    for i in 0..4 {
        assert_eq!(s.on_reject("d", "bad_mac", t(i * 4)), None);
    }
    let mut reports = Vec::new();
    for i in 0..1000u64 {
        let now = Timestamp(t(100).0 + i as i64);
        reports.extend(s.on_reject(
            "d",
            if i % 2 == 0 {
                "bad_mac"
            } else {
                "replayed_seq"
            },
            now,
        ));
    }
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        reports[0],
        Suspected::Report {
            device: "d".into(),
            detail: "substitution suspected: 5 rejected sentences (bad_mac 3, replayed_seq 2)"
                .into()
        }
    );
    // One update with the count after the interval, then nothing new.
    let up = s.on_tick(t(103));
    assert_eq!(up.len(), 1);
    assert!(
        matches!(&up[0], Suspected::Report { detail, .. } if detail.contains("1000 rejected")),
        "{up:?}"
    );
    assert!(s.on_tick(t(106)).is_empty());
    // Quiet for clear_after: over.
    assert!(s.on_tick(t(150)).is_empty());
    assert_eq!(s.on_tick(t(161)), [Suspected::Over { device: "d".into() }]);
    // A device's own tamper keeps its incident open past the quiet period.
    for i in 0..5 {
        s.on_reject("d", "bad_mac", t(200 + i));
    }
    s.on_device_tamper("d", true);
    assert!(s.on_tick(t(300)).is_empty());
}

/// The detail of `s`'s next report for device "d".
fn report_detail(s: &mut Suspicion, now: Timestamp) -> String {
    match s.on_tick(now).pop() {
        Some(Suspected::Report { detail, .. }) => detail,
        other => panic!("no report: {other:?}"),
    }
}

#[test]
fn a_resumed_tamper_is_read_from_its_details_and_its_suspicion_carries_on() {
    // A suspicion alone, read back from its own detail.
    let mut s = suspicion();
    let mut first = None;
    for i in 0..5 {
        first = s.on_reject("d", if i < 2 { "replayed_seq" } else { "bad_mac" }, t(i));
    }
    let Some(Suspected::Report { detail, .. }) = first else {
        panic!("raised: {first:?}")
    };
    let read = OpenTamper::from_details([detail.as_str()]);
    assert_eq!(
        read,
        OpenTamper {
            device_tamper: false,
            suspicion: Some([("bad_mac", 3), ("replayed_seq", 2)].into()),
        }
    );
    // The device's own tamper, before or after the suspicion, and said in
    // the suspicion's detail while it is open (its evidence may have left
    // the trail).
    for details in [vec!["CUT", detail.as_str()], vec![detail.as_str(), "POWER"]] {
        assert!(OpenTamper::from_details(details).device_tamper);
    }
    s.on_device_tamper("d", true);
    s.on_reject("d", "missing_mac", t(5));
    let mixed = report_detail(&mut s, t(10));
    assert_eq!(
        mixed,
        "substitution suspected: 6 rejected sentences (bad_mac 3, missing_mac 1, replayed_seq 2) \
         while the controller's own tamper is open"
    );
    let read = OpenTamper::from_details([mixed.as_str()]);
    assert!(read.device_tamper);
    assert_eq!(read.suspicion.map(|r| r.values().sum::<u64>()), Some(6));
    // No substitution detail at all: the device's own (as before).
    assert!(OpenTamper::from_details([]).device_tamper);
    assert_eq!(OpenTamper::from_details(["ENCLOSURE"]).suspicion, None);

    // Carried on in the next run from t(100): one rejection updates the
    // count carried on, and it is over clear_after (60 s) after the last.
    let mut next = suspicion();
    next.resume("d", read_alone(&detail), t(100));
    assert!(
        next.on_tick(t(159)).is_empty(),
        "quiet since the restart only"
    );
    assert_eq!(next.on_reject("d", "bad_mac", t(150)), None, "joined");
    assert_eq!(
        report_detail(&mut next, t(152)),
        "substitution suspected: 6 rejected sentences (bad_mac 4, replayed_seq 2)"
    );
    assert!(next.on_tick(t(209)).is_empty());
    assert_eq!(
        next.on_tick(t(210)),
        [Suspected::Over { device: "d".into() }]
    );
    // The same with the device's own tamper: never over by time, only at
    // its CLEAR (which the engine turns into the incident's clear).
    let mut next = suspicion();
    next.resume("d", OpenTamper::from_details([mixed.as_str()]), t(100));
    assert!(next.on_tick(t(1000)).is_empty());
    let burst: Vec<_> = (1001..1006)
        .filter_map(|i| next.on_reject("d", "bad_mac", t(i)))
        .collect();
    assert!(
        matches!(&burst[..], [Suspected::Report { detail, .. }] if detail.ends_with("tamper is open")),
        "{burst:?}"
    );
    assert!(next.on_tick(t(5000)).is_empty());
}

fn read_alone(detail: &str) -> OpenTamper {
    let read = OpenTamper::from_details([detail]);
    assert!(!read.device_tamper);
    read
}

#[test]
fn key_file_parses_and_refuses_with_the_line_and_never_the_key() {
    let text = format!(
        "# keys\n\nfence-a = \"{SPEC_HEX}\"\n\"trench-a\" = \"{}\"  # rotated 2026-01\n",
        SPEC_HEX.to_uppercase()
    );
    let keys = Keys::parse(&text).unwrap();
    assert_eq!(keys.devices().collect::<Vec<_>>(), ["fence-a", "trench-a"]);
    assert_eq!(keys.get("fence-a"), Some(&spec_key()));
    assert_eq!(keys.get("trench-a"), Some(&spec_key()));

    let short = &SPEC_HEX[..62];
    for (text, line, says) in [
        (format!("\nfence-a = \"{short}\"\n"), 2, "not 64 hex digits"),
        (format!("fence-a = {SPEC_HEX}\n"), 1, "expected"),
        ("a = \"x\"\nno equals sign\n".into(), 1, "not 64 hex"),
        (
            format!("ok = \"{SPEC_HEX}\"\nno equals sign\n"),
            2,
            "expected",
        ),
        (format!("bad id! = \"{SPEC_HEX}\"\n"), 1, "device id"),
        (
            format!("a = \"{SPEC_HEX}\"\na = \"{SPEC_HEX}\"\n"),
            2,
            "has a key already",
        ),
    ] {
        let (l, message) = Keys::parse(&text).unwrap_err();
        assert_eq!(l, line, "{text}: {message}");
        assert!(message.contains(says), "{message}");
        assert!(!message.contains(short), "{message}");
    }
}

#[test]
fn debug_of_keys_is_redacted() {
    let mut keys = Keys::none();
    keys.insert("fence-a", spec_key());
    let shown = format!("{keys:?} {:?} {:#?}", spec_key(), keys);
    assert!(shown.contains("fence-a"));
    for bad in [SPEC_HEX, "0, 1, 2, 3", "[0", "0x00"] {
        assert!(!shown.contains(bad), "{shown}");
    }
}

#[test]
fn key_file_with_group_or_other_access_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    std::fs::write(&path, format!("fence-a = \"{SPEC_HEX}\"\n")).unwrap();
    for mode in [0o640, 0o604, 0o620, 0o602, 0o644] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = Keys::load(&path).unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains("chmod 600"), "{e}");
        assert!(!e.contains(SPEC_HEX), "{e}");
    }
    for mode in [0o600, 0o400] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        assert!(Keys::load(&path).is_ok(), "{mode:o}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, "fence-a = \"zz\"\n").unwrap();
    let e = Keys::load(&path).unwrap_err().to_string();
    assert!(e.contains("keys.toml:1:"), "{e}");
}

#[test]
fn a_key_file_that_is_not_a_regular_file_is_refused_at_once_whatever_its_mode() {
    use crate::testkit::{finishes_within, mkfifo};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    mkfifo(&path);
    // Mode 0644 would be refused too: what the file is comes first.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let shown = path.display().to_string();
    let e = finishes_within("loading a FIFO key file", move || Keys::load(&path))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("key file {shown}: cannot read: it is a FIFO, not a regular file")
    );
    let e = Keys::load(dir.path()).unwrap_err().to_string();
    assert!(e.ends_with("it is a directory, not a regular file"), "{e}");
}

fn keyed_decoder() -> LineDecoder {
    let mut keys = Keys::none();
    keys.insert("fence-c07", spec_key());
    LineDecoder::with_keys(Arc::new(keys))
}

fn decode(d: &mut LineDecoder, line: &str) -> String {
    let mut out = String::new();
    d.push(line.as_bytes(), &Binding::Any, true, |e| {
        out = match e {
            Decoded::Sentence { sentence: s, .. } => format!("ok {}", s.seq),
            Decoded::Rejected { reason, device, .. } => format!("{reason} {device:?}"),
        }
    });
    out
}

#[test]
fn the_decoder_checks_keyed_devices_and_leaves_others_as_they_were() {
    let mut d = keyed_decoder();
    assert_eq!(decode(&mut d, SPEC_LINE), "ok 44");
    assert_eq!(
        decode(&mut d, "$RPFZ,fence-c07,42,3,850,2400*1E\r\n"),
        "missing_mac Some(\"fence-c07\")"
    );
    let mut forged = parse(SPEC_LINE.as_bytes()).unwrap();
    forged.mac = Some([0x6b; 16]);
    let forged = forged.encode();
    assert_eq!(decode(&mut d, &forged), "bad_mac Some(\"fence-c07\")");
    // Unkeyed: no tag is fine, and a tag (right or wrong) is ignored.
    assert_eq!(decode(&mut d, "$RPGS,trench-t12,7,0,1800*44\r\n"), "ok 7");
    let mut other = parse(b"$RPGS,trench-t12,7,0,1800*44").unwrap();
    other.mac = Some([0xab; 16]);
    assert_eq!(decode(&mut d, &other.encode()), "ok 7");
    // Without keys, the keyed vector is just a sentence.
    assert_eq!(decode(&mut LineDecoder::new(), &forged), "ok 44");
}

/// The fixture engine with `fence-a` keyed.
fn keyed_engine() -> Engine {
    let (mut config, wall) = crate::testkit::fixture();
    let mut keys = Keys::none();
    keys.insert("fence-a", spec_key());
    config.auth.keys = Arc::new(keys);
    Engine::new(&config, wall, t(0), "t")
}

fn hb(device: &str, seq: u32) -> Sentence {
    Sentence {
        device: device.into(),
        seq,
        body: Body::Heartbeat {
            uptime_s: 1,
            status: Health::Ok,
        },
        mac: None,
    }
}

#[test]
fn the_engine_refuses_a_keyed_devices_replayed_seq_across_a_restart_and_wraps() {
    let mut e = keyed_engine();
    assert!(e.on_sentence(&hb("fence-a", 10), t(1)).is_ok());
    let r = e.on_sentence(&hb("fence-a", 10), t(1)).unwrap_err();
    assert_eq!(r.reason(), "replayed_seq");
    assert_eq!(
        e.on_sentence(&hb("fence-a", 9), t(1)).unwrap_err().reason(),
        "replayed_seq"
    );
    assert!(
        e.on_sentence(&hb("fence-a", u32::MAX), t(2)).is_err(),
        "half-way and beyond: older"
    );
    // Unkeyed devices keep working as before: any seq, repeats counted only.
    for _ in 0..3 {
        assert!(e.on_sentence(&hb("trench-a", 5), t(2)).is_ok());
    }
    let saved = e.take_seq_changes();
    assert_eq!(saved, [("fence-a".to_owned(), 10)]);

    // The next run takes the saved seq back.
    let mut next = keyed_engine();
    next.restore_seqs(saved);
    assert!(next.on_sentence(&hb("fence-a", 10), t(3)).is_err());
    assert!(next.on_sentence(&hb("fence-a", 11), t(3)).is_ok());
    // Wrap.
    next.restore_seqs([("fence-a".to_owned(), u32::MAX)]);
    assert!(next.on_sentence(&hb("fence-a", 0), t(4)).is_ok());
    assert!(next.on_sentence(&hb("fence-a", u32::MAX), t(4)).is_err());
}

fn tampers(outs: &[Output]) -> Vec<(AlertState, String)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Alert(a) if a.kind == AlertKind::Tamper => Some((a.state, a.summary.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_flood_of_forgeries_raises_one_tamper_which_clears_on_the_devices_clear() {
    let mut e = keyed_engine();
    let mut outs = Vec::new();
    for i in 0..1000 {
        let now = Timestamp(t(10).0 + i);
        outs.extend(e.on_auth_rejection("fence-a", "bad_mac", now));
        // Unkeyed devices and other reasons do not count.
        outs.extend(e.on_auth_rejection("trench-a", "bad_mac", now));
        outs.extend(e.on_auth_rejection("fence-a", "checksum_mismatch", now));
    }
    for s in 11..20 {
        outs.extend(e.on_tick(t(s)));
    }
    let tamper = tampers(&outs);
    assert_eq!(tamper[0].0, AlertState::Raised);
    assert!(
        tamper[0]
            .1
            .contains("substitution suspected: 5 rejected sentences (bad_mac 5)"),
        "{tamper:?}"
    );
    assert_eq!(
        tamper
            .iter()
            .filter(|(s, _)| *s == AlertState::Raised)
            .count(),
        1
    );
    assert!(tamper.len() <= 2, "{tamper:?}");
    let clear = Sentence {
        body: Body::Tamper {
            kind: TamperKind::Clear,
        },
        ..hb("fence-a", 1)
    };
    let outs = e.on_sentence(&clear, t(21)).unwrap();
    assert_eq!(
        tampers(&outs).first().map(|t| t.0),
        Some(AlertState::Cleared)
    );
}

#[test]
fn a_key_ring_swaps_the_whole_set_and_says_when_it_changed() {
    let mut first = Keys::none();
    first.insert("f1", Key::new([1; KEY_LEN]));
    let ring = KeyRing::new(Arc::new(first.clone()));
    let g0 = ring.generation();
    assert!(
        !ring.replace(Arc::new(first.clone())),
        "same keys: no change"
    );
    assert_eq!(ring.generation(), g0);
    let mut second = first;
    second.insert("f1", Key::new([2; KEY_LEN]));
    second.insert("f2", Key::new([3; KEY_LEN]));
    assert!(ring.replace(Arc::new(second.clone())));
    assert_ne!(ring.generation(), g0);
    assert_eq!(*ring.current(), second);
}
