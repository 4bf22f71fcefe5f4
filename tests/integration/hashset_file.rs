//! The hash-set file: signatures, tampering, truncation, bad input, and
//! reproducible builds, through the public API.

use cssim::hash::{Algorithm, Digest, Distance, Threshold};
use cssim::hashset::format::{self, SectionKind};
use cssim::hashset::{Builder, Error, HashSet, Label, Representation};
use ed25519_dalek::SigningKey;

use crate::util::key;

fn pdq(fill: u8) -> Digest {
    Digest::new(Algorithm::Pdq, vec![fill; 32])
}

fn md5(fill: u8) -> Digest {
    Digest::new(Algorithm::Md5, vec![fill; 16])
}

fn small_builder(reprs: &[Representation]) -> Builder {
    let mut b = Builder::new("test", "Test issuer");
    b.created("2025-06-01T12:00:00Z")
        .seed(7)
        .fpr(1e-3)
        .representations(reprs)
        .description("two entries");
    b.add(pdq(0x0f), Some(Label::new("demo").with_source("unit test")));
    b.add(md5(0xab), None);
    b
}

fn both() -> Vec<u8> {
    small_builder(&[Representation::List, Representation::Bloom])
        .build(&key())
        .unwrap()
        .0
}

#[test]
fn a_good_file_loads_and_matches() {
    let set = HashSet::from_bytes(&both(), &key().verifying_key()).unwrap();
    assert_eq!(set.manifest().total_entries(), 2);
    assert_eq!(set.algorithms(), vec![Algorithm::Pdq, Algorithm::Md5]);
    let mut q = vec![0x0f; 32];
    q[0] ^= 0b111;
    let found = set
        .lookup(&Digest::new(Algorithm::Pdq, q), Threshold(31))
        .unwrap();
    assert_eq!(found.matches.len(), 1);
    assert_eq!(found.matches[0].distance, Distance(3));
    assert_eq!(found.matches[0].entry, Some(pdq(0x0f)));
    assert_eq!(found.matches[0].label.as_ref().unwrap().category, "demo");
    assert!(set.lookup(&md5(0xab), Threshold(0)).unwrap().matches.len() == 1);
    assert!(
        set.lookup(&md5(0xac), Threshold(0))
            .unwrap()
            .matches
            .is_empty()
    );
}

#[test]
fn flipping_any_single_byte_is_caught() {
    for reprs in [
        vec![Representation::List, Representation::Bloom],
        vec![Representation::Bloom],
    ] {
        let file = small_builder(&reprs).build(&key()).unwrap().0;
        let vk = key().verifying_key();
        for i in 0..file.len() {
            for flip in [0x01u8, 0x80] {
                let mut bad = file.clone();
                bad[i] ^= flip;
                assert!(
                    HashSet::from_bytes(&bad, &vk).is_err(),
                    "byte {i} ^ {flip:#x} of {} went unnoticed",
                    file.len()
                );
            }
        }
    }
}

/// Offsets where each section starts, from the (trusted, freshly built) table.
fn section_starts(file: &[u8]) -> Vec<(SectionKind, usize, usize)> {
    let c = format::parse_structure(file).unwrap();
    let base = file.as_ptr() as usize;
    c.sections
        .iter()
        .map(|(k, b)| (*k, b.as_ptr() as usize - base, b.len()))
        .collect()
}

#[test]
fn truncation_names_the_section() {
    let file = both();
    let vk = key().verifying_key();
    let check = |len: usize, section: &str| {
        let e = HashSet::from_bytes(&file[..len], &vk).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("truncated at section {section}"),
            "at {len}"
        );
    };
    check(0, "header");
    check(5, "header");
    check(11, "header");
    check(14, "section table");
    for (kind, start, len) in section_starts(&file) {
        check(start + 1, kind.name());
        check(start + len - 1, kind.name());
    }
    check(file.len() - 1, "signature");
    check(file.len() - 64, "signature");
    let mut long = file.clone();
    long.push(0);
    let e = HashSet::from_bytes(&long, &vk).unwrap_err();
    assert_eq!(e.to_string(), "1 unexpected bytes after the signature");
}

#[test]
fn wrong_issuer_key_is_refused_and_says_whose_it_claims() {
    let other = SigningKey::from_bytes(&[1u8; 32]).verifying_key();
    let e = HashSet::from_bytes(&both(), &other).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::SignatureInvalid { .. }));
    assert!(
        msg.starts_with("signature invalid (expected issuer fingerprint "),
        "{msg}"
    );
    let real = cssim::hashset::sign::fingerprint(&key().verifying_key());
    assert!(msg.ends_with(&format!("the file claims {real})")), "{msg}");
}

#[test]
fn a_future_version_is_named() {
    let mut file = both();
    file[8] = 3;
    let e = HashSet::from_bytes(&file, &key().verifying_key()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unsupported version 3 (this build reads 1 to 2)"
    );
}

#[test]
fn open_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("set.hashset");
    small_builder(&[Representation::List])
        .write_to(&p, &key())
        .unwrap();
    let other = SigningKey::from_bytes(&[1u8; 32]).verifying_key();
    let e = HashSet::open(&p, &other).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}: signature invalid", p.display()))
    );
    assert!(matches!(e.kind(), Error::SignatureInvalid { .. }));
}

#[test]
fn zero_entries_is_an_error() {
    let mut b = Builder::new("empty", "Test issuer");
    b.created("2025-06-01T12:00:00Z");
    assert!(matches!(b.build(&key()), Err(Error::Empty)));
}

#[test]
fn duplicates_are_dropped_counted_and_labelled_copies_kept() {
    let mut b = small_builder(&[Representation::List]);
    b.add(pdq(0x0f), None);
    b.add(md5(0xab), Some(Label::new("later label")));
    b.add(md5(0xab), None);
    let (bytes, summary) = b.build(&key()).unwrap();
    assert_eq!(summary.entries, 2);
    assert_eq!(summary.duplicates, 3);
    assert_eq!(summary.algorithms[1].added, 3);
    assert_eq!(summary.algorithms[1].duplicates, 2);
    let set = HashSet::from_bytes(&bytes, &key().verifying_key()).unwrap();
    let e = set.entries(Algorithm::Md5).unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].1.unwrap().category, "later label");
}

#[test]
fn thresholds_outside_the_hash_are_refused() {
    let set = HashSet::from_bytes(&both(), &key().verifying_key()).unwrap();
    let e = set.lookup(&pdq(0), Threshold(257)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "threshold 257 is outside 0..=256 for 256-bit pdq hashes"
    );
    assert!(set.lookup(&pdq(0), Threshold(256)).is_ok());
    let e = set.lookup(&md5(0), Threshold(1)).unwrap_err();
    assert!(matches!(e, Error::ThresholdOnExact { .. }));
    let e = set
        .lookup(&Digest::new(Algorithm::Pdq, vec![0; 8]), Threshold(3))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "a 64-bit pdq query cannot be compared with 256-bit entries"
    );
    let e = set
        .lookup(&Digest::new(Algorithm::Sha256, vec![0; 32]), Threshold(0))
        .unwrap_err();
    assert_eq!(e.to_string(), "the hash set has no sha256 entries");
    let mut b = small_builder(&[Representation::List]);
    b.threshold(Algorithm::Pdq, Threshold(300));
    assert!(matches!(
        b.build(&key()),
        Err(Error::ThresholdOutOfRange { .. })
    ));
}

#[test]
fn mixed_sizes_within_an_algorithm_are_refused() {
    let mut b = small_builder(&[Representation::List]);
    b.add(Digest::new(Algorithm::Pdq, vec![0; 8]), None);
    let e = b.build(&key()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pdq entries of different sizes: 256 and 64 bits"
    );
}

#[test]
fn rebuilds_are_byte_identical_whatever_the_order() {
    let a = both();
    let mut b = Builder::new("test", "Test issuer");
    b.created("2025-06-01T12:00:00Z")
        .seed(7)
        .fpr(1e-3)
        .representations(&[Representation::Bloom, Representation::List])
        .description("two entries");
    b.add(md5(0xab), None);
    b.add(pdq(0x0f), Some(Label::new("demo").with_source("unit test")));
    assert_eq!(a, b.build(&key()).unwrap().0);
    b.seed(8);
    assert_ne!(a, b.build(&key()).unwrap().0);
}

#[test]
fn bloom_only_sets_report_probes_and_compounded_fpr() {
    let bytes = small_builder(&[Representation::Bloom])
        .build(&key())
        .unwrap()
        .0;
    let mut set = HashSet::from_bytes(&bytes, &key().verifying_key()).unwrap();
    assert!(matches!(
        set.entries(Algorithm::Pdq),
        Err(Error::NotRecoverable)
    ));
    let mut q = vec![0x0f; 32];
    q[5] ^= 0x10;
    let miss = set
        .lookup(&Digest::new(Algorithm::Pdq, q.clone()), Threshold(31))
        .unwrap();
    let b = miss.bloom.unwrap();
    assert_eq!((b.radius, b.probes), (0, 1));
    set.set_bloom_radius(1);
    let hit = set
        .lookup(&Digest::new(Algorithm::Pdq, q), Threshold(31))
        .unwrap();
    let b = hit.bloom.unwrap();
    assert_eq!((b.radius, b.probes), (1, 257));
    assert!(
        hit.matches
            .iter()
            .any(|m| m.distance == Distance(1) && m.entry.is_none())
    );
    let expected = 1.0 - (1.0 - b.fpr_per_probe).powi(257);
    assert!((b.compounded_fpr - expected).abs() < 1e-12);
    assert!(b.fpr_per_probe > 0.0 && b.fpr_per_probe < 1e-2);
    let exact = set.lookup(&md5(0xab), Threshold(0)).unwrap();
    assert_eq!(exact.matches.len(), 1);
    assert_eq!(exact.bloom.unwrap().probes, 1);
}

#[test]
fn inspect_reads_the_manifest_without_the_key() {
    let file = both();
    let info = format::inspect(&file).unwrap();
    assert_eq!(info.manifest.name, "test");
    assert_eq!(info.manifest.created, "2025-06-01T12:00:00Z");
    assert_eq!(info.manifest.bloom.as_ref().unwrap().seed, 7);
    assert_eq!(info.sections.len(), 3);
    assert_eq!(info.file_bytes, file.len() as u64);
}

#[test]
fn bad_options_are_named() {
    let mut b = small_builder(&[Representation::Bloom]);
    b.fpr(1.5);
    assert_eq!(
        b.build(&key()).unwrap_err().to_string(),
        "fpr: '1.5' is not between 1e-12 and 0.5"
    );
    let mut b = small_builder(&[Representation::List]);
    b.created("last tuesday");
    assert!(
        b.build(&key())
            .unwrap_err()
            .to_string()
            .starts_with("created: 'last tuesday'")
    );
    let b = small_builder(&[]);
    assert!(matches!(b.build(&key()), Err(Error::NoRepresentation)));
}

#[test]
fn a_file_changed_after_signing_says_so() {
    // The issuer fingerprints agree, so "expected X; the file claims X"
    // would only puzzle: the bytes changed after the signature was made.
    let mut file = both();
    let (_, start, _) = section_starts(&file)
        .into_iter()
        .find(|(k, _, _)| *k != SectionKind::Manifest)
        .unwrap();
    file[start] ^= 1;
    let e = HashSet::from_bytes(&file, &key().verifying_key()).unwrap_err();
    let real = cssim::hashset::sign::fingerprint(&key().verifying_key());
    assert!(matches!(e, Error::ChangedAfterSigning { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "signature invalid: the file was changed after issuer {real} signed it (or the signature was damaged)"
        )
    );
}
