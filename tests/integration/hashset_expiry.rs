//! Rollback protection through the public API: a set's signed expiry
//! (`HashSet::open` refuses an expired set) and its version
//! (`VersionPins` refuses a lower one than already accepted).

use std::path::Path;

use cssim::hash::{Algorithm, Digest};
use cssim::hashset::format::{self, SectionKind};
use cssim::hashset::manifest::parse_rfc3339;
use cssim::hashset::{Builder, Error, HashSet, Label, Representation, VersionPins, sign};

use crate::util::key;

const CREATED: &str = "2025-06-01T00:00:00Z";
/// 2026-01-01T00:00:00Z in seconds since the Unix epoch.
const NEW_YEAR_2026: u64 = 1_767_225_600;

fn builder(version: u32, expires: Option<&str>) -> Builder {
    let mut b = Builder::new("test", "Test issuer");
    b.created(CREATED)
        .version(version)
        .representations(&[Representation::List]);
    if let Some(e) = expires {
        b.expires(e);
    }
    b.add(
        Digest::new(Algorithm::Md5, vec![0xab; 16]),
        Some(Label::new("demo")),
    );
    b
}

fn write(dir: &Path, file: &str, version: u32, expires: Option<&str>) -> std::path::PathBuf {
    let p = dir.join(file);
    builder(version, expires).write_to(&p, &key()).unwrap();
    p
}

#[test]
fn an_expired_set_is_refused_naming_file_expiry_and_now() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "old.hashset", 1, Some("2026-01-01T00:00:00Z"));
    let vk = key().verifying_key();

    // One second before the expiry it is fresh; at the expiry it is not.
    let set = HashSet::open_ignoring_expiry(&p, &vk).unwrap();
    assert_eq!(
        set.manifest().expires.as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    set.check_fresh(NEW_YEAR_2026 - 1).unwrap();
    let e = set.check_fresh(NEW_YEAR_2026).unwrap_err();
    assert_eq!(
        e.to_string(),
        "expired at 2026-01-01T00:00:00Z (it is now 2026-01-01T00:00:00Z): a client refuses \
         an expired set; the issuer must publish a newer one"
    );

    let e = HashSet::open_at(&p, &vk, NEW_YEAR_2026 + 86_400 + 3_661).unwrap_err();
    assert!(matches!(e.kind(), Error::Expired { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: expired at 2026-01-01T00:00:00Z (it is now 2026-01-02T01:01:01Z): a client \
             refuses an expired set; the issuer must publish a newer one",
            p.display()
        )
    );
    assert!(HashSet::open_at(&p, &vk, NEW_YEAR_2026 - 1).is_ok());

    // By the system clock (this test runs after 2026-01-01).
    let e = HashSet::open(&p, &vk).unwrap_err();
    assert!(matches!(e.kind(), Error::Expired { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: expired at 2026-01-01T00:00:00Z (it is now 20",
            p.display()
        )),
        "{msg}"
    );
}

#[test]
fn a_set_expiring_in_the_future_opens() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "fresh.hashset",
        1,
        Some("2099-01-01T00:00:00+01:00"),
    );
    let set = HashSet::open(&p, &key().verifying_key()).unwrap();
    assert_eq!(set.manifest().total_entries(), 1);
    // The offset counts: 2099-01-01T00:00:00+01:00 is 2098-12-31T23:00:00Z.
    let until = parse_rfc3339("t", "2098-12-31T23:00:00Z").unwrap() as u64;
    set.check_fresh(until - 1).unwrap();
    let e = set.check_fresh(until).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("expired at 2099-01-01T00:00:00+01:00 (it is now 2098-12-31T23:00:00Z)"),
        "{e}"
    );
}

#[test]
fn a_set_without_expiry_opens_at_any_time_and_keeps_the_old_bytes() {
    let (bytes, _) = builder(1, None).build(&key()).unwrap();
    let set = HashSet::from_bytes(&bytes, &key().verifying_key()).unwrap();
    assert_eq!(set.manifest().expires, None);
    set.check_fresh(u64::MAX).unwrap();
    // No `"expires": null`: a set built without an expiry has the bytes it
    // had before the field existed, and older readers' files still read.
    let container = format::parse_structure(&bytes).unwrap();
    let manifest = container.section(SectionKind::Manifest).unwrap();
    assert!(!String::from_utf8_lossy(manifest).contains("expires"));
}

#[test]
fn the_builder_refuses_a_bad_or_early_expiry() {
    let e = builder(1, Some("next year")).build(&key()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "expires: 'next year' is not an RFC 3339 date-time like 2025-06-01T12:00:00Z"
    );
    let e = builder(1, Some(CREATED)).build(&key()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "expires: '2025-06-01T00:00:00Z' is not after the creation time 2025-06-01T00:00:00Z"
    );
    let e = builder(1, Some("2025-02-29T00:00:00Z"))
        .build(&key())
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("expires: '2025-02-29T00:00:00Z' is not an RFC 3339")
    );
}

#[test]
fn a_signed_manifest_with_an_unusable_expiry_is_refused() {
    // Re-sign a manifest whose expiry precedes its creation: the signature
    // is good, the contents are not.
    let (bytes, _) = builder(1, None).build(&key()).unwrap();
    let container = format::parse_structure(&bytes).unwrap();
    let mut manifest = format::parse_manifest(&container).unwrap();
    manifest.expires = Some("2024-01-01T00:00:00Z".into());
    let json = serde_json::to_vec_pretty(&manifest).unwrap();
    let sections: Vec<(SectionKind, &[u8])> = container
        .sections
        .iter()
        .map(|(k, b)| {
            (
                *k,
                if *k == SectionKind::Manifest {
                    &json[..]
                } else {
                    *b
                },
            )
        })
        .collect();
    let forged = format::encode(&sections, &key());
    let e = HashSet::from_bytes(&forged, &key().verifying_key()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "manifest: expires: '2024-01-01T00:00:00Z' is not after the creation time 2025-06-01T00:00:00Z"
    );
}

#[test]
fn pins_refuse_a_rollback_across_loads() {
    let dir = tempfile::tempdir().unwrap();
    let vk = key().verifying_key();
    let v2 = write(dir.path(), "v2.hashset", 2, None);
    let v1 = write(dir.path(), "v1.hashset", 1, None);
    let v3 = write(dir.path(), "v3.hashset", 3, Some("2099-01-01T00:00:00Z"));
    let pins_path = dir.path().join("state/pins.json");
    std::fs::create_dir(dir.path().join("state")).unwrap();

    // A client accepts v2 and remembers it.
    let mut pins = VersionPins::load(&pins_path).unwrap();
    assert!(pins.is_empty());
    let set = HashSet::open(&v2, &vk).unwrap();
    pins.check_and_record(set.manifest()).unwrap();
    pins.save(&pins_path).unwrap();

    // Later, offered v1: refused, and the pins file is unchanged.
    let saved = std::fs::read(&pins_path).unwrap();
    let mut pins = VersionPins::load(&pins_path).unwrap();
    let set = HashSet::open(&v1, &vk).unwrap();
    let e = pins
        .check_and_record(set.manifest())
        .map_err(|e| e.in_file(&v1))
        .unwrap_err();
    let fp = sign::fingerprint(&vk);
    assert_eq!(
        e.to_string(),
        format!(
            "{}: version 1 of 'test' by issuer {fp} is older than version 2 already accepted: \
             a rollback to an older signed set is refused",
            v1.display()
        )
    );
    assert!(matches!(
        e.kind(),
        Error::Rollback {
            version: 1,
            pinned: 2,
            ..
        }
    ));
    pins.save(&pins_path).unwrap();
    assert_eq!(std::fs::read(&pins_path).unwrap(), saved);

    // v2 again and then v3 are accepted; v3 becomes the pin.
    for (p, pinned) in [(&v2, 2), (&v3, 3)] {
        let set = HashSet::open(p, &vk).unwrap();
        pins.check_and_record(set.manifest()).unwrap();
        assert_eq!(pins.pinned(&fp, "test"), Some(pinned));
    }
    pins.save(&pins_path).unwrap();
    let pins = VersionPins::load(&pins_path).unwrap();
    assert_eq!(pins.pinned(&fp, "test"), Some(3));
    assert!(
        pins.check(HashSet::open(&v2, &vk).unwrap().manifest())
            .is_err()
    );
}

#[test]
fn the_shipped_demo_set_expires_in_2036_and_is_pinned_by_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let issuer = sign::PublicKey::read(&root.join("hashsets/demo-issuer.key.pub")).unwrap();
    let set = HashSet::from_bytes(cssim::workspace::DEMO_HASHSET, &issuer.key).unwrap();
    let m = set.manifest();
    assert_eq!((m.name.as_str(), m.version), ("demo", 1));
    assert_eq!(m.issuer.fingerprint, "dd4bc08c5e67c17e");
    assert_eq!(m.expires.as_deref(), Some("2036-01-01T00:00:00Z"));
    set.check_fresh(2_082_758_400 - 1).unwrap();
    assert!(matches!(
        set.check_fresh(2_082_758_400),
        Err(Error::Expired { .. })
    ));

    // A client that has accepted a version 2 of 'demo' refuses this one.
    let mut newer = m.clone();
    newer.version = 2;
    let mut pins = VersionPins::new();
    pins.check_and_record(&newer).unwrap();
    let e = pins
        .check_and_record(m)
        .map_err(|e| e.in_file("hashsets/demo.hashset"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "hashsets/demo.hashset: version 1 of 'demo' by issuer dd4bc08c5e67c17e is older than \
         version 2 already accepted: a rollback to an older signed set is refused"
    );
}
