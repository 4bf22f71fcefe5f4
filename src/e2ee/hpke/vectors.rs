//! Known-answer tests for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, in Base
//! and Auth modes:
//!
//! - AES-128-GCM: RFC 9180 Appendix A.1 (`tests/data/hpke/rfc9180-a1.json`),
//!   the key schedule, the six printed encryptions (sequence numbers 0, 1, 2,
//!   4, 255, 256) and three exports of each mode;
//! - AES-256-GCM, the envelope's suite: the CFRG vectors
//!   (`tests/data/hpke/cfrg-x25519-sha256-aes256gcm.json`), keys, all 257
//!   encryptions and three exports of each mode.
//!
//! They live inside the crate because they drive test-only hooks
//! ([`setup_sender_with`], [`Context::set_seq`], [`Context::schedule`]) that
//! are not public API. `tests/data/hpke/README.md` says where the numbers
//! come from.

use serde::Deserialize;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};

use super::{
    Aead, Context, derive_key_pair, setup_receiver, setup_sender_with, shared_secret_for_tests,
};

const RFC9180_A1: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/hpke/rfc9180-a1.json"
));

const CFRG_AES256: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/hpke/cfrg-x25519-sha256-aes256gcm.json"
));

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn unhex32(s: &str) -> [u8; 32] {
    unhex(s)
        .try_into()
        .unwrap_or_else(|v: Vec<u8>| panic!("{s:?} is {} bytes, not 32", v.len()))
}

/// The key pair whose secret is the vector's `sk*m` bytes.
fn key_pair(sk_hex: &str) -> (StaticSecret, XPublic) {
    let secret = StaticSecret::from(unhex32(sk_hex));
    let public = XPublic::from(&secret);
    (secret, public)
}

/// Checks `ctx` (sender) and `rx` (receiver) export the listed secrets.
fn check_exports<'a>(
    name: &str,
    ctx: &Context,
    rx: &Context,
    exports: impl IntoIterator<Item = (&'a str, usize, &'a str)>,
) {
    for (context, len, value) in exports {
        let (mut sent, mut received) = (vec![0u8; len], vec![0u8; len]);
        ctx.export(&unhex(context), &mut sent).unwrap();
        rx.export(&unhex(context), &mut received).unwrap();
        assert_eq!(hex::encode(&sent), value, "{name}: export {context:?}");
        assert_eq!(received, sent, "{name}: receiver's export {context:?}");
    }
}

// ---- RFC 9180 Appendix A.1 (AES-128-GCM) ----

#[derive(Deserialize)]
struct A1File {
    vectors: Vec<A1Vector>,
}

#[derive(Deserialize)]
struct A1Vector {
    name: String,
    setup: A1Setup,
    encryptions: Vec<A1Encryption>,
    exports: Vec<A1Export>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct A1Setup {
    aead_id: String,
    info: String,
    ikmE: String,
    pkEm: String,
    skEm: String,
    ikmR: String,
    pkRm: String,
    skRm: String,
    ikmS: Option<String>,
    pkSm: Option<String>,
    skSm: Option<String>,
    enc: String,
    shared_secret: String,
    key_schedule_context: String,
    secret: String,
    key: String,
    base_nonce: String,
    exporter_secret: String,
}

#[derive(Deserialize)]
struct A1Encryption {
    seq: u64,
    pt: String,
    aad: String,
    ct: String,
}

#[derive(Deserialize)]
struct A1Export {
    context: String,
    length: usize,
    value: String,
}

#[test]
fn rfc9180_a1_aes128gcm_base_and_auth() {
    let file: A1File = serde_json::from_str(RFC9180_A1).unwrap();
    let names: Vec<&str> = file.vectors.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Base", "Auth"]);
    for v in &file.vectors {
        let name = &v.name;
        let s = &v.setup;
        assert_eq!(s.aead_id, "1", "{name}: AES-128-GCM");
        assert_eq!(v.encryptions.len(), 6, "{name}: encryptions");
        assert_eq!(v.exports.len(), 3, "{name}: exports");

        // DeriveKeyPair reproduces the listed keys.
        let (sk_e, pk_e) = derive_key_pair(&unhex(&s.ikmE));
        assert_eq!(hex::encode(sk_e.to_bytes()), s.skEm, "{name}: skEm");
        assert_eq!(hex::encode(pk_e.to_bytes()), s.pkEm, "{name}: pkEm");
        let (sk_r, pk_r) = derive_key_pair(&unhex(&s.ikmR));
        assert_eq!(hex::encode(sk_r.to_bytes()), s.skRm, "{name}: skRm");
        assert_eq!(hex::encode(pk_r.to_bytes()), s.pkRm, "{name}: pkRm");
        let sender = s.ikmS.as_deref().map(|ikm| derive_key_pair(&unhex(ikm)));
        assert_eq!(sender.is_some(), name == "Auth", "{name}: ikmS");
        if let Some((sk_s, pk_s)) = &sender {
            assert_eq!(Some(hex::encode(sk_s.to_bytes())), s.skSm, "{name}: skSm");
            assert_eq!(Some(hex::encode(pk_s.to_bytes())), s.pkSm, "{name}: pkSm");
        }
        let info = unhex(&s.info);

        // The key schedule.
        let (enc, mut ctx) = setup_sender_with(
            Aead::Aes128Gcm,
            &pk_r,
            &info,
            &sk_e,
            sender.as_ref().map(|(sk, _)| sk),
        )
        .unwrap();
        assert_eq!(hex::encode(enc), s.enc, "{name}: enc");
        let shared = shared_secret_for_tests(&enc, &sk_r, sender.as_ref().map(|(_, pk)| pk));
        assert_eq!(
            hex::encode(shared.unwrap()),
            s.shared_secret,
            "{name}: shared_secret"
        );
        let sch = ctx.schedule();
        assert_eq!(
            hex::encode(&sch.key_schedule_context),
            s.key_schedule_context,
            "{name}: key_schedule_context"
        );
        assert_eq!(hex::encode(*sch.secret), s.secret, "{name}: secret");
        assert_eq!(hex::encode(&*sch.key), s.key, "{name}: key");
        assert_eq!(
            hex::encode(sch.base_nonce),
            s.base_nonce,
            "{name}: base_nonce"
        );
        assert_eq!(
            hex::encode(*sch.exporter_secret),
            s.exporter_secret,
            "{name}: exporter_secret"
        );

        // Encryptions at the listed sequence numbers, both ways.
        let mut rx = setup_receiver(
            Aead::Aes128Gcm,
            &enc,
            &sk_r,
            &info,
            sender.as_ref().map(|(_, pk)| pk),
        )
        .unwrap();
        for e in &v.encryptions {
            let (seq, aad, pt) = (e.seq, unhex(&e.aad), unhex(&e.pt));
            ctx.set_seq(seq);
            let ct = ctx.seal(&aad, &pt).unwrap();
            assert_eq!(hex::encode(&ct), e.ct, "{name}: ct for seq {seq}");
            rx.set_seq(seq);
            assert_eq!(rx.open(&aad, &ct).unwrap(), pt, "{name}: open seq {seq}");
        }

        let exports = v
            .exports
            .iter()
            .map(|x| (x.context.as_str(), x.length, x.value.as_str()));
        check_exports(name, &ctx, &rx, exports);
    }
}

// ---- CFRG vectors (AES-256-GCM) ----

/// `tests/data/hpke/cfrg-x25519-sha256-aes256gcm.json`: the CFRG file's
/// field names.
#[derive(Deserialize)]
struct CfrgFile {
    vectors: Vec<CfrgVector>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct CfrgVector {
    mode: u8,
    kem_id: u16,
    kdf_id: u16,
    aead_id: u16,
    info: String,
    skRm: String,
    skEm: String,
    pkRm: String,
    pkEm: String,
    skSm: Option<String>,
    pkSm: Option<String>,
    /// Consecutive, from sequence number 0.
    encryptions: Vec<CfrgEncryption>,
    exports: Vec<CfrgExport>,
}

#[derive(Deserialize)]
struct CfrgEncryption {
    aad: String,
    ct: String,
    pt: String,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct CfrgExport {
    exporter_context: String,
    L: usize,
    exported_value: String,
}

#[test]
fn cfrg_aes256gcm_base_and_auth() {
    let file: CfrgFile = serde_json::from_str(CFRG_AES256).unwrap();
    let modes: Vec<u8> = file.vectors.iter().map(|v| v.mode).collect();
    assert_eq!(modes, [0, 2], "one Base and one Auth entry");
    for v in &file.vectors {
        let name = if v.mode == 0 { "Base" } else { "Auth" };
        assert_eq!((v.kem_id, v.kdf_id), (0x0020, 0x0001), "{name}: suite");
        assert_eq!(Aead::from_id(v.aead_id), Some(Aead::Aes256Gcm), "{name}");
        assert_eq!(v.encryptions.len(), 257, "{name}: encryptions");
        assert_eq!(v.exports.len(), 3, "{name}: exports");

        let (sk_e, pk_e) = key_pair(&v.skEm);
        assert_eq!(hex::encode(pk_e.to_bytes()), v.pkEm, "{name}: pkEm");
        let (sk_r, pk_r) = key_pair(&v.skRm);
        assert_eq!(hex::encode(pk_r.to_bytes()), v.pkRm, "{name}: pkRm");
        let sender = v.skSm.as_deref().map(key_pair);
        assert_eq!(sender.is_some(), v.mode == 2, "{name}: skSm");
        if let Some((_, pk_s)) = &sender {
            assert_eq!(Some(hex::encode(pk_s.to_bytes())), v.pkSm, "{name}: pkSm");
        }
        let info = unhex(&v.info);

        let (enc, mut ctx) = setup_sender_with(
            Aead::Aes256Gcm,
            &pk_r,
            &info,
            &sk_e,
            sender.as_ref().map(|(sk, _)| sk),
        )
        .unwrap();
        // In DHKEM, enc is the ephemeral public key.
        assert_eq!(hex::encode(enc), v.pkEm, "{name}: enc");
        let mut rx = setup_receiver(
            Aead::Aes256Gcm,
            &enc,
            &sk_r,
            &info,
            sender.as_ref().map(|(_, pk)| pk),
        )
        .unwrap();

        // Sequence numbers 0..=256 in order, as a real context counts them:
        // every ciphertext pins `key` and `base_nonce XOR seq`.
        for (seq, e) in v.encryptions.iter().enumerate() {
            let (aad, pt) = (unhex(&e.aad), unhex(&e.pt));
            let ct = ctx.seal(&aad, &pt).unwrap();
            assert_eq!(hex::encode(&ct), e.ct, "{name}: ct for seq {seq}");
            assert_eq!(rx.open(&aad, &ct).unwrap(), pt, "{name}: open seq {seq}");
        }

        let exports = v
            .exports
            .iter()
            .map(|x| (x.exporter_context.as_str(), x.L, x.exported_value.as_str()));
        check_exports(name, &ctx, &rx, exports);
    }
}
