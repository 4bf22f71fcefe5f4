//! RFC 9180 Appendix A.1 known-answer tests: DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, AES-128-GCM, in Base (A.1.1) and Auth (A.1.3) modes.
//! Vectors: `tests/data/hpke/rfc9180-a1.json`, extracted from the RFC text by
//! `scripts/hpke_vectors.py`.

use cssim::e2ee::hpke::{self, Aead};
use x25519_dalek::{PublicKey, StaticSecret};

fn h(s: &serde_json::Value) -> Vec<u8> {
    hex::decode(s.as_str().expect("hex string")).expect("hex")
}

fn arr(s: &serde_json::Value) -> [u8; 32] {
    h(s).try_into().expect("32 bytes")
}

#[test]
fn rfc9180_a1_base_and_auth() {
    let data: serde_json::Value =
        serde_json::from_str(include_str!("data/hpke/rfc9180-a1.json")).expect("json");
    let vectors = data["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 2);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let s = &v["setup"];
        assert_eq!(s["aead_id"], "1");
        // DeriveKeyPair reproduces the listed keys.
        let (sk_e, pk_e) = hpke::derive_key_pair(&h(&s["ikmE"]));
        assert_eq!(sk_e.to_bytes(), arr(&s["skEm"]), "{name}: skEm");
        assert_eq!(pk_e.to_bytes(), arr(&s["pkEm"]), "{name}: pkEm");
        let (sk_r, pk_r) = hpke::derive_key_pair(&h(&s["ikmR"]));
        assert_eq!(pk_r.to_bytes(), arr(&s["pkRm"]), "{name}: pkRm");
        let sender: Option<(StaticSecret, PublicKey)> = s.get("ikmS").map(|ikm| {
            let (sk, pk) = hpke::derive_key_pair(&h(ikm));
            assert_eq!(pk.to_bytes(), arr(&s["pkSm"]), "{name}: pkSm");
            (sk, pk)
        });
        let info = h(&s["info"]);

        let (enc, mut ctx) = hpke::setup_sender_with(
            Aead::Aes128Gcm,
            &pk_r,
            &info,
            &sk_e,
            sender.as_ref().map(|x| &x.0),
        )
        .expect("setup");
        assert_eq!(enc, arr(&s["enc"]), "{name}: enc");
        let shared =
            hpke::shared_secret_for_tests(&enc, &sk_r, sender.as_ref().map(|x| &x.1)).unwrap();
        assert_eq!(shared, arr(&s["shared_secret"]), "{name}: shared_secret");
        let sch = ctx.schedule();
        assert_eq!(
            sch.key_schedule_context,
            h(&s["key_schedule_context"]),
            "{name}: context"
        );
        assert_eq!(*sch.secret, arr(&s["secret"]), "{name}: secret");
        assert_eq!(*sch.key, h(&s["key"]), "{name}: key");
        assert_eq!(
            sch.base_nonce.to_vec(),
            h(&s["base_nonce"]),
            "{name}: base_nonce"
        );
        assert_eq!(
            *sch.exporter_secret,
            arr(&s["exporter_secret"]),
            "{name}: exporter_secret"
        );

        let mut receiver = hpke::setup_receiver(
            Aead::Aes128Gcm,
            &enc,
            &sk_r,
            &info,
            sender.as_ref().map(|x| &x.1),
        )
        .unwrap();
        let encryptions = v["encryptions"].as_array().unwrap();
        assert_eq!(encryptions.len(), 6);
        for e in encryptions {
            let seq = e["seq"].as_u64().unwrap();
            ctx.set_seq(seq);
            let ct = ctx.seal(&h(&e["aad"]), &h(&e["pt"])).unwrap();
            assert_eq!(ct, h(&e["ct"]), "{name}: ct for seq {seq}");
            receiver.set_seq(seq);
            assert_eq!(
                receiver.open(&h(&e["aad"]), &ct).unwrap(),
                h(&e["pt"]),
                "{name}: open seq {seq}"
            );
        }
        for x in v["exports"].as_array().unwrap() {
            let mut out = vec![0u8; x["length"].as_u64().unwrap() as usize];
            ctx.export(&h(&x["context"]), &mut out);
            assert_eq!(out, h(&x["value"]), "{name}: export {}", x["context"]);
        }
    }
}

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
    let (_, wrong) = hpke::derive_key_pair(b"someone else");
    let mut rx = hpke::setup_receiver(Aead::Aes256Gcm, &enc, &sk_r, b"info", Some(&wrong)).unwrap();
    assert!(rx.open(b"aad", &ct).is_err());
}
