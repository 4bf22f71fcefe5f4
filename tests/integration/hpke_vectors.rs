//! HPKE through the public API. The known-answer vectors (RFC 9180 A.1 for
//! AES-128-GCM, the CFRG vectors for AES-256-GCM, data in `tests/data/hpke/`)
//! run inside the crate, in `src/e2ee/hpke/vectors.rs`, because they need
//! test-only hooks that are not public.

use cssim::e2ee::hpke::{self, Aead};

#[test]
fn aes_256_gcm_round_trips_and_rejects_a_wrong_key() {
    let (sk_r, pk_r) = hpke::derive_key_pair(b"receiver");
    let (sk_s, pk_s) = hpke::derive_key_pair(b"sender");
    let (enc, mut ctx) = hpke::setup_sender(
        Aead::Aes256Gcm,
        &pk_r,
        b"info",
        Some(hpke::StaticDh {
            sender: &pk_s,
            shared: &hpke::static_dh(&sk_s, &pk_r).unwrap(),
        }),
    )
    .unwrap();
    let ct = ctx.seal(b"aad", b"two hundred bytes or so").unwrap();
    let mut rx = hpke::setup_receiver(Aead::Aes256Gcm, &enc, &sk_r, b"info", Some(&pk_s)).unwrap();
    assert_eq!(rx.open(b"aad", &ct).unwrap(), b"two hundred bytes or so");
    let (mut sent, mut received) = ([0u8; 32], [0u8; 32]);
    ctx.export(b"exporter", &mut sent).unwrap();
    rx.export(b"exporter", &mut received).unwrap();
    assert_eq!(sent, received);
    assert_ne!(sent, [0u8; 32]);
    let (_, wrong) = hpke::derive_key_pair(b"someone else");
    let mut rx = hpke::setup_receiver(Aead::Aes256Gcm, &enc, &sk_r, b"info", Some(&wrong)).unwrap();
    assert!(rx.open(b"aad", &ct).is_err());
}
