//! What TLS to the broker costs per thermal frame: one 640×512 16-bit
//! frame (655 360 bytes) through a rustls connection in memory (ring
//! provider, as the daemon uses), against copying the same bytes, in the
//! same run.
//!
//! - `tls/decrypt`: the daemon's side: the broker's encrypted records of a
//!   frame read and decrypted (the records are made once, outside the
//!   timing);
//! - `tls/encrypt+decrypt`: both sides, as on a broker running on the same
//!   machine;
//! - `copy`: reading the same frame from plain bytes, the floor.
//!
//! `cargo bench --bench tls`; see BENCHMARKS.md for figures.

use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConnection, ServerConnection};

const FRAME: usize = 640 * 512 * 2;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client and a server that completed their handshake in memory.
fn pair() -> (ClientConnection, ServerConnection) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["broker".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let mut c =
        ClientConnection::new(Arc::new(client), ServerName::try_from("broker").unwrap()).unwrap();
    let mut s = ServerConnection::new(Arc::new(server)).unwrap();
    while c.is_handshaking() || s.is_handshaking() {
        let mut wire = Vec::new();
        c.write_tls(&mut wire).unwrap();
        s.read_tls(&mut &wire[..]).unwrap();
        s.process_new_packets().unwrap();
        wire.clear();
        s.write_tls(&mut wire).unwrap();
        c.read_tls(&mut &wire[..]).unwrap();
        c.process_new_packets().unwrap();
    }
    // A whole frame is queued at once (rustls holds 64 KiB by default).
    s.set_buffer_limit(None);
    (c, s)
}

/// The server's encrypted records of `frame`.
fn encrypt(s: &mut ServerConnection, frame: &[u8]) -> Vec<u8> {
    s.writer().write_all(frame).unwrap();
    let mut wire = Vec::with_capacity(frame.len() + 4096);
    while s.wants_write() {
        s.write_tls(&mut wire).unwrap();
    }
    wire
}

/// The client reads `wire` and returns the plaintext into `out`.
fn decrypt(c: &mut ClientConnection, mut wire: &[u8], out: &mut [u8]) {
    let mut got = 0;
    while got < out.len() {
        if !wire.is_empty() {
            c.read_tls(&mut wire).unwrap();
            c.process_new_packets().unwrap();
        }
        match c.reader().read(&mut out[got..]) {
            Ok(n) => got += n,
            // Part of a record so far: read more of the wire.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !wire.is_empty() => {}
            Err(e) => panic!("tls read: {e}"),
        }
    }
}

fn bench(crit: &mut Criterion) {
    let frame: Vec<u8> = (0..FRAME).map(|i| (i * 7 % 251) as u8).collect();
    let mut out = vec![0u8; FRAME];
    let mut g = crit.benchmark_group("frame");
    g.throughput(Throughput::Bytes(FRAME as u64));

    g.bench_function("copy", |b| {
        b.iter(|| {
            let mut src = &frame[..];
            src.read_exact(&mut out).unwrap();
            black_box(&out);
        })
    });

    let (mut c, mut s) = pair();
    g.bench_function("tls/encrypt+decrypt", |b| {
        b.iter(|| {
            let wire = encrypt(&mut s, &frame);
            decrypt(&mut c, &wire, &mut out);
            black_box(&out);
        })
    });
    assert_eq!(out, frame, "the frame came through intact");

    // Decryption alone: records made in batches outside the timing (a
    // record sequence cannot be decrypted twice).
    let (mut c, mut s) = pair();
    g.bench_function("tls/decrypt", |b| {
        b.iter_batched(
            || encrypt(&mut s, &frame),
            |wire| {
                decrypt(&mut c, &wire, &mut out);
                black_box(&out);
            },
            criterion::BatchSize::LargeInput,
        )
    });
    assert_eq!(out, frame, "the frame came through intact");
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
