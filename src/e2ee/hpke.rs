//! RFC 9180 HPKE, single-shot and with a context: KEM DHKEM(X25519,
//! HKDF-SHA256), KDF HKDF-SHA256, AEAD AES-128-GCM or AES-256-GCM; modes Base
//! and Auth. Built on `x25519-dalek`, `hkdf`, `sha2` and `aes-gcm`; checked
//! against the RFC's Appendix A.1 vectors (AES-128-GCM) and the CFRG vectors
//! for AES-256-GCM (`tests/data/hpke/`, driven by the `vectors` test module).
//!
//! Security notes: a [`Context`]'s nonce is `base_nonce XOR seq`, and `seq`
//! only ever increases, so a context never reuses a nonce; a fresh
//! ephemeral key per [`setup_sender`] call gives every message its own key.
//! All-zero Diffie-Hellman outputs (small-order peer keys) are refused.

use aes_gcm::aead::{Aead as _, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use super::Error;

const KEM_ID: u16 = 0x0020;
const KDF_ID: u16 = 0x0001;
const N_SECRET: usize = 32;
const N_NONCE: usize = 12;
/// HKDF-SHA256's output size, `Nh`.
const N_HASH: usize = 32;
/// The longest secret [`Context::export`] derives: `255 × Nh` (RFC 9180 §5.3,
/// HKDF-Expand's limit).
pub const MAX_EXPORT_LEN: usize = 255 * N_HASH;

/// The AEAD of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aead {
    /// AES-128-GCM (0x0001).
    Aes128Gcm,
    /// AES-256-GCM (0x0002), cssim's default.
    Aes256Gcm,
}

impl Aead {
    /// The RFC 9180 identifier.
    pub fn id(self) -> u16 {
        match self {
            Aead::Aes128Gcm => 0x0001,
            Aead::Aes256Gcm => 0x0002,
        }
    }

    /// The AEAD for an identifier.
    pub fn from_id(id: u16) -> Option<Aead> {
        match id {
            0x0001 => Some(Aead::Aes128Gcm),
            0x0002 => Some(Aead::Aes256Gcm),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Aead::Aes128Gcm => 16,
            Aead::Aes256Gcm => 32,
        }
    }
}

/// HPKE mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Anyone may have sent it.
    Base,
    /// The sender proves possession of a static key.
    Auth,
}

impl Mode {
    /// The RFC 9180 identifier.
    pub fn id(self) -> u8 {
        match self {
            Mode::Base => 0x00,
            Mode::Auth => 0x02,
        }
    }
}

fn kem_suite_id() -> [u8; 5] {
    let mut s = *b"KEM\0\0";
    s[3..].copy_from_slice(&KEM_ID.to_be_bytes());
    s
}

fn hpke_suite_id(aead: Aead) -> [u8; 10] {
    let mut s = [0u8; 10];
    s[..4].copy_from_slice(b"HPKE");
    s[4..6].copy_from_slice(&KEM_ID.to_be_bytes());
    s[6..8].copy_from_slice(&KDF_ID.to_be_bytes());
    s[8..].copy_from_slice(&aead.id().to_be_bytes());
    s
}

fn labeled_extract(suite: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut input = Zeroizing::new(Vec::with_capacity(
        7 + suite.len() + label.len() + ikm.len(),
    ));
    input.extend_from_slice(b"HPKE-v1");
    input.extend_from_slice(suite);
    input.extend_from_slice(label);
    input.extend_from_slice(ikm);
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), &input);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&prk);
    out
}

fn labeled_expand(suite: &[u8], prk: &[u8], label: &[u8], info: &[u8], out: &mut [u8]) {
    let mut labeled = Vec::with_capacity(9 + suite.len() + label.len() + info.len());
    labeled.extend_from_slice(&(out.len() as u16).to_be_bytes());
    labeled.extend_from_slice(b"HPKE-v1");
    labeled.extend_from_slice(suite);
    labeled.extend_from_slice(label);
    labeled.extend_from_slice(info);
    // The PRK is always 32 bytes, the fixed lengths are far below 255 × 32
    // and `Context::export` refuses longer outputs, so neither error can
    // happen.
    Hkdf::<Sha256>::from_prk(prk)
        .expect("32-byte PRK")
        .expand(&labeled, out)
        .expect("short HKDF output");
}

/// DeriveKeyPair (RFC 9180 §7.1.3) for X25519: the secret is the expanded
/// `sk` bytes; clamping happens inside the scalar multiplication.
pub fn derive_key_pair(ikm: &[u8]) -> (StaticSecret, XPublic) {
    let suite = kem_suite_id();
    let prk = labeled_extract(&suite, b"", b"dkp_prk", ikm);
    let mut sk = Zeroizing::new([0u8; 32]);
    labeled_expand(&suite, &*prk, b"sk", b"", &mut *sk);
    let secret = StaticSecret::from(*sk);
    let public = XPublic::from(&secret);
    (secret, public)
}

fn dh(secret: &StaticSecret, public: &XPublic) -> Result<Zeroizing<[u8; 32]>, Error> {
    let shared = secret.diffie_hellman(public);
    if !shared.was_contributory() {
        return Err(Error::Decryption);
    }
    Ok(Zeroizing::new(*shared.as_bytes()))
}

fn extract_and_expand(dh: &[u8], kem_context: &[u8]) -> Zeroizing<[u8; 32]> {
    let suite = kem_suite_id();
    let eae_prk = labeled_extract(&suite, b"", b"eae_prk", dh);
    let mut shared = Zeroizing::new([0u8; 32]);
    labeled_expand(
        &suite,
        &*eae_prk,
        b"shared_secret",
        kem_context,
        &mut *shared,
    );
    shared
}

/// Auth mode's static–static half: the sender's public key and
/// `DH(sk_S, pk_R) = DH(sk_R, pk_S)`. It is the same for every message
/// between two parties, so a caller may compute it once ([`static_dh`]) and
/// reuse it; that halves the Diffie–Hellman work per Auth-mode message.
#[derive(Clone, Copy)]
pub struct StaticDh<'a> {
    /// The sender's static public key.
    pub sender: &'a XPublic,
    /// The static–static shared secret.
    pub shared: &'a [u8; 32],
}

/// `DH(secret, public)`, refusing an all-zero (non-contributory) result.
pub fn static_dh(secret: &StaticSecret, public: &XPublic) -> Result<Zeroizing<[u8; 32]>, Error> {
    dh(secret, public)
}

/// The KEM's output: `enc` (the ephemeral public key) and the shared secret.
fn encap(
    ephemeral: &StaticSecret,
    pk_r: &XPublic,
    auth: Option<StaticDh<'_>>,
) -> Result<([u8; 32], Zeroizing<[u8; 32]>), Error> {
    let enc = XPublic::from(ephemeral).to_bytes();
    let mut dh_bytes = Zeroizing::new(dh(ephemeral, pk_r)?.to_vec());
    let mut kem_context = Vec::with_capacity(96);
    kem_context.extend_from_slice(&enc);
    kem_context.extend_from_slice(pk_r.as_bytes());
    if let Some(a) = auth {
        dh_bytes.extend_from_slice(a.shared);
        kem_context.extend_from_slice(a.sender.as_bytes());
    }
    Ok((enc, extract_and_expand(&dh_bytes, &kem_context)))
}

fn decap(
    enc: &[u8; 32],
    (sk_r, pk_r): (&StaticSecret, &XPublic),
    auth: Option<StaticDh<'_>>,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    let pk_e = XPublic::from(*enc);
    let mut dh_bytes = Zeroizing::new(dh(sk_r, &pk_e)?.to_vec());
    let mut kem_context = Vec::with_capacity(96);
    kem_context.extend_from_slice(enc);
    kem_context.extend_from_slice(pk_r.as_bytes());
    if let Some(a) = auth {
        dh_bytes.extend_from_slice(a.shared);
        kem_context.extend_from_slice(a.sender.as_bytes());
    }
    Ok(extract_and_expand(&dh_bytes, &kem_context))
}

/// The values the key schedule derives.
pub(crate) struct Schedule {
    /// `mode || psk_id_hash || info_hash`; only the known-answer tests read it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) key_schedule_context: Vec<u8>,
    /// The schedule's secret; only the known-answer tests read it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) secret: Zeroizing<[u8; 32]>,
    /// The AEAD key.
    pub(crate) key: Zeroizing<Vec<u8>>,
    /// The base nonce.
    pub(crate) base_nonce: [u8; N_NONCE],
    /// The exporter secret.
    pub(crate) exporter_secret: Zeroizing<[u8; 32]>,
}

fn key_schedule(aead: Aead, mode: Mode, shared_secret: &[u8], info: &[u8]) -> Schedule {
    let suite = hpke_suite_id(aead);
    let psk_id_hash = labeled_extract(&suite, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(&suite, b"", b"info_hash", info);
    let mut context = vec![mode.id()];
    context.extend_from_slice(&*psk_id_hash);
    context.extend_from_slice(&*info_hash);
    let secret = labeled_extract(&suite, shared_secret, b"secret", b"");
    let mut key = Zeroizing::new(vec![0u8; aead.key_len()]);
    labeled_expand(&suite, &*secret, b"key", &context, &mut key);
    let mut base_nonce = [0u8; N_NONCE];
    labeled_expand(&suite, &*secret, b"base_nonce", &context, &mut base_nonce);
    let mut exporter_secret = Zeroizing::new([0u8; N_SECRET]);
    labeled_expand(&suite, &*secret, b"exp", &context, &mut *exporter_secret);
    Schedule {
        key_schedule_context: context,
        secret,
        key,
        base_nonce,
        exporter_secret,
    }
}

/// An encryption context: seals or opens messages in order.
pub struct Context {
    aead: Aead,
    schedule: Schedule,
    seq: u64,
}

impl Context {
    fn nonce(&self) -> [u8; N_NONCE] {
        let mut n = self.schedule.base_nonce;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    /// The derived schedule values (for known-answer tests).
    #[cfg(test)]
    pub(crate) fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Sets the sequence number, so the known-answer tests can jump to the
    /// vectors' sequence numbers 255 and 256. Outside tests `seq` only ever
    /// increases, which is what keeps nonces unique.
    #[cfg(test)]
    pub(crate) fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    fn crypt(&mut self, aad: &[u8], data: &[u8], seal: bool) -> Result<Vec<u8>, Error> {
        let nonce = self.nonce();
        let payload = Payload { msg: data, aad };
        let key = &self.schedule.key;
        let out = match (self.aead, seal) {
            (Aead::Aes128Gcm, true) => aead128(key)?.encrypt(&nonce.into(), payload),
            (Aead::Aes128Gcm, false) => aead128(key)?.decrypt(&nonce.into(), payload),
            (Aead::Aes256Gcm, true) => aead256(key)?.encrypt(&nonce.into(), payload),
            (Aead::Aes256Gcm, false) => aead256(key)?.decrypt(&nonce.into(), payload),
        }
        .map_err(|_| Error::Decryption)?;
        self.seq = self.seq.checked_add(1).ok_or(Error::Decryption)?;
        Ok(out)
    }

    /// Encrypts `pt` with `aad` under the next nonce.
    pub fn seal(&mut self, aad: &[u8], pt: &[u8]) -> Result<Vec<u8>, Error> {
        self.crypt(aad, pt, true)
    }

    /// Decrypts `ct` with `aad` under the next nonce.
    pub fn open(&mut self, aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, Error> {
        self.crypt(aad, ct, false)
    }

    /// The secret export interface (RFC 9180 §5.3): fills `out` with a secret
    /// bound to this context and `exporter_context`.
    ///
    /// Fails if `out` is longer than [`MAX_EXPORT_LEN`] (255 × 32 = 8160
    /// bytes), the most HKDF-SHA256 can expand; `out` is then left untouched.
    pub fn export(&self, exporter_context: &[u8], out: &mut [u8]) -> Result<(), Error> {
        if out.len() > MAX_EXPORT_LEN {
            // `e2ee::Error` has no variant for a bad argument; `Malformed`
            // names the field at fault and the limit it broke.
            return Err(Error::Malformed {
                field: "export length",
                reason: format!(
                    "{} bytes requested; RFC 9180 §5.3 allows at most {MAX_EXPORT_LEN} (255 × 32)",
                    out.len()
                ),
            });
        }
        let suite = hpke_suite_id(self.aead);
        labeled_expand(
            &suite,
            &*self.schedule.exporter_secret,
            b"sec",
            exporter_context,
            out,
        );
        Ok(())
    }
}

fn aead128(key: &[u8]) -> Result<Aes128Gcm, Error> {
    Aes128Gcm::new_from_slice(key).map_err(|_| Error::Decryption)
}

fn aead256(key: &[u8]) -> Result<Aes256Gcm, Error> {
    Aes256Gcm::new_from_slice(key).map_err(|_| Error::Decryption)
}

impl Drop for Context {
    fn drop(&mut self) {
        self.seq.zeroize();
    }
}

/// SetupBaseS / SetupAuthS with a given ephemeral secret and, for Auth mode,
/// the sender's static secret (the known-answer tests' entry point). Returns
/// `enc` and the context.
#[cfg(test)]
pub(crate) fn setup_sender_with(
    aead: Aead,
    pk_r: &XPublic,
    info: &[u8],
    ephemeral: &StaticSecret,
    sender: Option<&StaticSecret>,
) -> Result<([u8; 32], Context), Error> {
    match sender {
        None => setup_sender_keys(aead, pk_r, info, ephemeral, None),
        Some(sk_s) => {
            let pk_s = XPublic::from(sk_s);
            let shared = dh(sk_s, pk_r)?;
            let auth = StaticDh {
                sender: &pk_s,
                shared: &shared,
            };
            setup_sender_keys(aead, pk_r, info, ephemeral, Some(auth))
        }
    }
}

/// SetupBaseS / SetupAuthS with a given ephemeral secret (deterministic;
/// use [`setup_sender`] unless the ephemeral key comes from elsewhere), given
/// the static–static half ([`StaticDh`]) for Auth mode, or `None` for Base
/// mode. Returns `enc` and the context.
pub fn setup_sender_keys(
    aead: Aead,
    pk_r: &XPublic,
    info: &[u8],
    ephemeral: &StaticSecret,
    auth: Option<StaticDh<'_>>,
) -> Result<([u8; 32], Context), Error> {
    let (enc, shared) = encap(ephemeral, pk_r, auth)?;
    let mode = if auth.is_some() {
        Mode::Auth
    } else {
        Mode::Base
    };
    let schedule = key_schedule(aead, mode, &*shared, info);
    Ok((
        enc,
        Context {
            aead,
            schedule,
            seq: 0,
        },
    ))
}

/// SetupBaseS / SetupAuthS with a fresh ephemeral key from the OS.
pub fn setup_sender(
    aead: Aead,
    pk_r: &XPublic,
    info: &[u8],
    auth: Option<StaticDh<'_>>,
) -> Result<([u8; 32], Context), Error> {
    let mut ikm = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *ikm).map_err(|_| Error::Rng)?;
    let ephemeral = StaticSecret::from(*ikm);
    setup_sender_keys(aead, pk_r, info, &ephemeral, auth)
}

/// SetupBaseR / SetupAuthR.
pub fn setup_receiver(
    aead: Aead,
    enc: &[u8; 32],
    sk_r: &StaticSecret,
    info: &[u8],
    sender: Option<&XPublic>,
) -> Result<Context, Error> {
    let pk_r = XPublic::from(sk_r);
    match sender {
        None => setup_receiver_keys(aead, enc, (sk_r, &pk_r), info, None),
        Some(pk_s) => {
            let shared = dh(sk_r, pk_s)?;
            let auth = StaticDh {
                sender: pk_s,
                shared: &shared,
            };
            setup_receiver_keys(aead, enc, (sk_r, &pk_r), info, Some(auth))
        }
    }
}

/// [`setup_receiver`] given the receiver's public key and, for Auth mode,
/// the static–static half.
pub fn setup_receiver_keys(
    aead: Aead,
    enc: &[u8; 32],
    receiver: (&StaticSecret, &XPublic),
    info: &[u8],
    auth: Option<StaticDh<'_>>,
) -> Result<Context, Error> {
    let shared = decap(enc, receiver, auth)?;
    let mode = if auth.is_some() {
        Mode::Auth
    } else {
        Mode::Base
    };
    Ok(Context {
        aead,
        schedule: key_schedule(aead, mode, &*shared, info),
        seq: 0,
    })
}

/// The shared secret a receiver derives (for known-answer tests).
#[cfg(test)]
pub(crate) fn shared_secret_for_tests(
    enc: &[u8; 32],
    sk_r: &StaticSecret,
    sender: Option<&XPublic>,
) -> Result<[u8; 32], Error> {
    let pk_r = XPublic::from(sk_r);
    let shared = match sender {
        Some(pk_s) => Some(dh(sk_r, pk_s)?),
        None => None,
    };
    let auth = sender
        .zip(shared.as_deref())
        .map(|(sender, shared)| StaticDh { sender, shared });
    Ok(*decap(enc, (sk_r, &pk_r), auth)?)
}

#[cfg(test)]
mod vectors;

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        let (_, pk_r) = derive_key_pair(b"receiver");
        let (ephemeral, _) = derive_key_pair(b"ephemeral");
        setup_sender_keys(Aead::Aes256Gcm, &pk_r, b"info", &ephemeral, None)
            .unwrap()
            .1
    }

    #[test]
    fn export_allows_255_hashes_and_refuses_one_byte_more() {
        assert_eq!(MAX_EXPORT_LEN, 8160);
        let ctx = context();
        let mut longest = vec![0u8; MAX_EXPORT_LEN];
        ctx.export(b"ctx", &mut longest).unwrap();
        // HKDF-Expand's last block is filled too.
        assert!(longest[MAX_EXPORT_LEN - 32..].iter().any(|&b| b != 0));

        let mut too_long = vec![0u8; MAX_EXPORT_LEN + 1];
        let err = ctx.export(b"ctx", &mut too_long).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Malformed {
                    field: "export length",
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("8161 bytes requested"), "{message}");
        assert!(message.contains("at most 8160"), "{message}");
        assert!(too_long.iter().all(|&b| b == 0), "out left untouched");
    }

    #[test]
    fn export_of_nothing_is_fine() {
        context().export(b"ctx", &mut []).unwrap();
    }
}
