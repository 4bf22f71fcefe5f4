//! Everything that can go wrong reading, writing, signing or querying a hash set.

use std::path::PathBuf;

use crate::hash::Algorithm;

/// Why a hash-set operation failed.
///
/// The reader's checks each have their own variant, in the order they run:
/// [`BadMagic`](Error::BadMagic), [`UnsupportedVersion`](Error::UnsupportedVersion),
/// [`BadSectionTable`](Error::BadSectionTable) / [`Truncated`](Error::Truncated) /
/// [`TrailingBytes`](Error::TrailingBytes), [`SignatureInvalid`](Error::SignatureInvalid),
/// then [`Manifest`](Error::Manifest) and [`Section`](Error::Section) for
/// contents that are signed but inconsistent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read or written.
    #[error("{}: {}", path.display(), crate::files::describe_io_error(source))]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
    /// An error about the contents of a named file.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: Box<Error>,
    },
    /// The first bytes are not `CSSIMHS\0`.
    #[error("not a cssim hash set (bad magic bytes)")]
    BadMagic,
    /// The format version is not one this build reads.
    #[error("unsupported version {found} (this build reads 1 to {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The highest version this build reads.
        supported: u16,
    },
    /// A section's declared length runs past the end of the file.
    #[error("truncated at section {section}")]
    Truncated {
        /// The section (`header`, `section table`, `manifest`, `list`, `bloom`, `signature`).
        section: &'static str,
    },
    /// Bytes follow the signature.
    #[error("{count} unexpected bytes after the signature")]
    TrailingBytes {
        /// How many.
        count: u64,
    },
    /// The section table is malformed (unknown tag, wrong order, bad count).
    #[error("bad section table: {reason}")]
    BadSectionTable {
        /// What is wrong.
        reason: String,
    },
    /// The file names the expected issuer, but its signature does not
    /// verify: the file was changed after it was signed.
    #[error(
        "signature invalid: the file was changed after issuer {fingerprint} signed it (or the signature was damaged)"
    )]
    ChangedAfterSigning {
        /// The issuer's fingerprint (expected and claimed alike).
        fingerprint: String,
    },
    /// The signature does not verify under the expected issuer key.
    #[error("signature invalid (expected issuer fingerprint {expected}{})",
            claimed.as_ref().map(|c| format!("; the file claims {c}")).unwrap_or_default())]
    SignatureInvalid {
        /// Fingerprint of the key the caller expected.
        expected: String,
        /// The fingerprint the (unverified) manifest names, when readable.
        claimed: Option<String>,
    },
    /// The signed manifest is malformed or disagrees with the sections.
    #[error("manifest: {reason}")]
    Manifest {
        /// What is wrong.
        reason: String,
    },
    /// A signed section's contents are malformed.
    #[error("section {section}: {reason}")]
    Section {
        /// The section.
        section: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The set's aHash/dHash/pHash entries are not the variant this build
    /// computes (a set built before cssim followed imagehash 4.3 holds
    /// `img_hash`'s values, which differ in bit order and pixels): comparing
    /// them would give wrong distances without any error.
    #[error(
        "{algorithm} entries are {}, but this cssim computes {expected}: distances would be wrong; rebuild the set from its images (or import the list in imagehash's hex) with this cssim",
        found.as_deref().map(|f| format!("variant '{f}'")).unwrap_or_else(|| "img_hash's values (the set was built before cssim followed imagehash 4.3)".into())
    )]
    ClassicVariant {
        /// The classic algorithm.
        algorithm: Algorithm,
        /// The variant the manifest records; `None` for a set built before
        /// variants were recorded.
        found: Option<String>,
        /// The variant this build computes.
        expected: &'static str,
    },
    /// The set's expiry has passed: clients refuse it ([`super::SignedSet::open`]).
    /// Opening names the file in front of this message.
    #[error(
        "expired at {expires} (it is now {now}): a client refuses an expired set; the issuer must publish a newer one"
    )]
    Expired {
        /// The set's expiry, as the manifest states it.
        expires: String,
        /// The time it was checked against, RFC 3339 UTC.
        now: String,
    },
    /// The set's version is lower than one already accepted from the same
    /// issuer under the same name ([`super::pins::VersionPins`]).
    #[error(
        "version {version} of '{name}' by issuer {issuer} is older than version {pinned} already accepted: a rollback to an older signed set is refused"
    )]
    Rollback {
        /// The set's name.
        name: String,
        /// The issuer's fingerprint.
        issuer: String,
        /// The version offered.
        version: u32,
        /// The highest version accepted before.
        pinned: u32,
    },
    /// A version-pins file exists but cannot be read as one.
    #[error("{}: not a valid version-pins file: {reason}", path.display())]
    PinsFile {
        /// The pins file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The hash set would have, or has, no entries.
    #[error("no entries: a hash set needs at least one")]
    Empty,
    /// Entries of one algorithm have different sizes.
    #[error("{algorithm} entries of different sizes: {first} and {other} bits")]
    MixedSizes {
        /// The algorithm.
        algorithm: Algorithm,
        /// The size of the first entry.
        first: u32,
        /// The size of the odd one out.
        other: u32,
    },
    /// A threshold larger than the hash has bits.
    #[error("threshold {threshold} is outside 0..={bits} for {bits}-bit {algorithm} hashes")]
    ThresholdOutOfRange {
        /// The algorithm.
        algorithm: Algorithm,
        /// The threshold asked for.
        threshold: u32,
        /// The hash size.
        bits: u32,
    },
    /// A non-zero threshold for an exact algorithm.
    #[error("threshold {threshold} is meaningless for {algorithm}: exact hashes match only at 0")]
    ThresholdOnExact {
        /// The algorithm.
        algorithm: Algorithm,
        /// The threshold asked for.
        threshold: u32,
    },
    /// The query's algorithm is not in the hash set.
    #[error("the hash set has no {algorithm} entries")]
    AlgorithmNotInSet {
        /// The algorithm.
        algorithm: Algorithm,
    },
    /// The query's size differs from the set's entries.
    #[error("a {got}-bit {algorithm} query cannot be compared with {expected}-bit entries")]
    QuerySize {
        /// The algorithm.
        algorithm: Algorithm,
        /// The entries' size in bits.
        expected: u32,
        /// The query's size in bits.
        got: u32,
    },
    /// A Bloom radius whose probes would take too long.
    #[error("bloom radius {radius} on {bits}-bit hashes needs {probes} probes (limit {limit})")]
    RadiusTooLarge {
        /// The radius.
        radius: u32,
        /// The hash size.
        bits: u32,
        /// Probes needed (saturated).
        probes: u64,
        /// The limit.
        limit: u64,
    },
    /// An option has a value that cannot be used.
    #[error("{option}: '{value}' {reason}")]
    InvalidOption {
        /// The option (`fpr`, `created`, `name`…).
        option: &'static str,
        /// Its value.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// No representation was chosen.
    #[error("choose at least one representation (list, bloom)")]
    NoRepresentation,
    /// Entries were asked for, but the set only has a Bloom filter.
    #[error("the hash set has no list section: bloom entries cannot be read back")]
    NotRecoverable,
    /// A key file is malformed.
    #[error("{}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The system random number generator failed.
    #[error("cannot generate a key: {0}")]
    Random(String),
    /// A line of a plain list or CSV could not be read.
    #[error("line {line}: {reason}")]
    Import {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A plain list mixes algorithms.
    #[error(
        "line {line}: a {found} hash in a {expected} list (one algorithm per plain list; use CSV to mix)"
    )]
    MixedAlgorithms {
        /// 1-based line number.
        line: usize,
        /// The list's algorithm.
        expected: Algorithm,
        /// The algorithm the line looks like.
        found: Algorithm,
    },
}

impl Error {
    /// Attaches a file name to an error about that file's contents.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        match self {
            e @ (Error::Io { .. }
            | Error::Write(_)
            | Error::InFile { .. }
            | Error::Key { .. }
            | Error::PinsFile { .. }) => e,
            e => Error::InFile {
                path: path.into(),
                source: Box::new(e),
            },
        }
    }

    /// The error without a file name attached, for matching on the variant.
    pub fn kind(&self) -> &Error {
        match self {
            Error::InFile { source, .. } => source.kind(),
            e => e,
        }
    }
}
