//! Encryption costs: sealing and opening a text message as the client does,
//! raw AES-256-GCM throughput (to compare with `openssl speed -evp
//! aes-256-gcm`), and HPKE single-shot sealing of 1 MiB.
//!
//!     cargo bench --bench e2ee

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cssim::e2ee::{self, Envelope, Identity};

fn bench(c: &mut Criterion) {
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let text = vec![b'x'; 200];
    let mut g = c.benchmark_group("e2ee");
    g.throughput(Throughput::Elements(1));
    let mut counter = 0u64;
    g.bench_function("seal+open 200-byte message", |b| {
        b.iter(|| {
            counter += 1;
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&counter.to_be_bytes());
            let bytes = Envelope::seal(&alice, &bob.public(), id, 0, [0; 32], &text)
                .expect("seal")
                .to_bytes();
            let env = Envelope::from_bytes(&bytes).expect("parse");
            env.open(&bob).expect("open")
        })
    });
    let (sk, pk) = e2ee::hpke::derive_key_pair(b"bench");
    g.bench_function("X25519 DH (one ladder)", |b| {
        b.iter(|| sk.diffie_hellman(&pk))
    });
    g.bench_function("X25519 public key from secret", |b| {
        b.iter(|| x25519_dalek::PublicKey::from(&sk))
    });
    g.bench_function("seal_to+open_from 200 bytes (base mode)", |b| {
        b.iter(|| {
            let sealed = e2ee::seal_to(&bob.public(), b"bench", &text).expect("seal");
            e2ee::open_from(&bob, b"bench", &sealed).expect("open")
        })
    });
    let mib = vec![7u8; 1 << 20];
    g.throughput(Throughput::Bytes(mib.len() as u64));
    let cipher = Aes256Gcm::new_from_slice(&[1u8; 32]).expect("key");
    let nonce = [2u8; 12].into();
    g.bench_function("AES-256-GCM seal 1 MiB", |b| {
        b.iter(|| {
            cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: &mib,
                        aad: b"",
                    },
                )
                .expect("seal")
        })
    });
    g.bench_function("HPKE seal_to 1 MiB", |b| {
        b.iter(|| e2ee::seal_to(&bob.public(), b"bench", &mib).expect("seal"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
