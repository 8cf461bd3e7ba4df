//! Signing a 1 KiB webhook: nanoseconds per signature, and the ratio against a bare
//! HMAC-SHA256 of the same bytes measured in the same run.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/bench-target cargo bench -p pythia --bench webhook_sign --all-features
//! ```
//!
//! Target: under 2 µs per signature.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use pythia::webhook::Signer;
use sha2::Sha256;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_2c0d6a2e5b1f4c3d9e8f7a6b5c4d3e2f";
const TIMESTAMP: i64 = 1_764_000_000;
const ITERATIONS: u32 = 200_000;
const ROUNDS: usize = 7;

fn payload() -> Vec<u8> {
    let mut body = String::from(r#"{"event":"order.created","items":["#);
    while body.len() < 1000 {
        body.push_str(r#"{"sku":"A-1","qty":1},"#);
    }
    body.pop();
    body.push_str("]}");
    let mut bytes = body.into_bytes();
    bytes.resize(1024, b' ');
    bytes
}

/// The median over rounds of the time per call.
fn measure(mut f: impl FnMut()) -> Duration {
    let mut rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..ITERATIONS {
                f();
            }
            started.elapsed() / ITERATIONS
        })
        .collect();
    rounds.sort();
    rounds[ROUNDS / 2]
}

fn main() {
    let body = payload();
    let key = STANDARD.decode(&SECRET[6..]).expect("valid secret");
    let signer = Signer::from_secrets([SECRET]).expect("valid secret");
    let mut out = String::with_capacity(64);

    // Warm up caches and the CPU clock.
    measure(|| {
        black_box(signer.sign(ID, TIMESTAMP, &body));
    });

    let bare = measure(|| {
        let mut mac = Hmac::<Sha256>::new_from_slice(black_box(&key)).expect("any key length");
        mac.update(ID.as_bytes());
        mac.update(b".");
        mac.update(TIMESTAMP.to_string().as_bytes());
        mac.update(b".");
        mac.update(black_box(&body));
        black_box(mac.finalize().into_bytes());
    });
    let sign = measure(|| {
        black_box(signer.sign(ID, black_box(TIMESTAMP), black_box(&body)));
    });
    let sign_into = measure(|| {
        out.clear();
        signer.sign_into(ID, black_box(TIMESTAMP), black_box(&body), &mut out);
        black_box(&out);
    });

    println!("webhook_sign: 1 KiB payload, {ITERATIONS} signatures x {ROUNDS} rounds (median)");
    println!(
        "  bare hmac-sha256 (key per call) : {:>6} ns/op",
        bare.as_nanos()
    );
    println!(
        "  Signer::sign                    : {:>6} ns/op",
        sign.as_nanos()
    );
    println!(
        "  Signer::sign_into (reused buf)  : {:>6} ns/op",
        sign_into.as_nanos()
    );
    println!(
        "  ratio sign / bare hmac          : {:>6.2}",
        sign.as_secs_f64() / bare.as_secs_f64()
    );
    println!(
        "  target < 2000 ns/op             : {}",
        if sign < Duration::from_micros(2) {
            "met"
        } else {
            "MISSED"
        }
    );
}
