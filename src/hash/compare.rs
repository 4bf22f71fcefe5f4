//! [`compare`]: two files under each algorithm, and whether they match.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::pdq::{self, Quality};
use super::{Algorithm, Distance, Error, FileDigests, HashConfig, Threshold};
use crate::report::{Cell, Column, Tabular, Tone};

/// Two files compared ([`compare`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// The first file.
    pub a: Side,
    /// The second file.
    pub b: Side,
    /// One result per algorithm, in the order asked, then `pdq-dihedral`
    /// when PDQ was asked for.
    pub results: Vec<AlgorithmComparison>,
}

/// One of the files compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Side {
    /// The file (in JSON: lossy UTF-8).
    #[serde(serialize_with = "crate::report::serialize_path")]
    pub path: PathBuf,
    /// Its PDQ quality, when PDQ was computed.
    pub pdq_quality: Option<Quality>,
}

/// The two files under one algorithm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlgorithmComparison {
    /// The algorithm's name (`pdq`, `sha256`…), or `pdq-dihedral`: the
    /// smallest PDQ distance between B and any rotation or mirror image of A.
    pub algorithm: String,
    /// Whether the files match: within the threshold (and both PDQ hashes of
    /// matchable quality), or equal for an exact algorithm.
    #[serde(rename = "match")]
    pub matched: bool,
    /// The distance, or equality.
    #[serde(flatten)]
    pub measure: Measure,
}

/// How the two digests of one algorithm relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Measure {
    /// A perceptual algorithm: the Hamming distance.
    Distance {
        /// Bits that differ.
        distance: u32,
        /// Bits in the hash.
        bits: u32,
        /// The threshold applied.
        threshold: u32,
        /// Whether a PDQ hash was below the quality floor (then no match).
        below_min_quality: bool,
    },
    /// An exact algorithm: equal or not.
    Equal {
        /// Whether the digests are equal.
        equal: bool,
    },
}

/// Hashes `a` and `b` with `algorithms` (each file read and decoded once)
/// and compares them: perceptual algorithms by Hamming distance against
/// `threshold` (default: each algorithm's own; PDQ hashes below the quality
/// floor never match), exact ones by equality. With PDQ, a last result
/// `pdq-dihedral` is B against A's eight orientations.
pub fn compare(
    a: &Path,
    b: &Path,
    algorithms: &[Algorithm],
    threshold: Option<Threshold>,
    config: &HashConfig,
) -> Result<Comparison, Error> {
    let (da, dihedral) = digest_with_dihedral(a, algorithms, config, true)?;
    let (db, _) = digest_with_dihedral(b, algorithms, config, false)?;
    let threshold_for = |algo: Algorithm| threshold.unwrap_or_else(|| algo.default_threshold());
    let pdq_low = da.low_pdq_quality().is_some() || db.low_pdq_quality().is_some();
    let mut results = Vec::new();
    for (ga, gb) in da.digests.iter().zip(&db.digests) {
        let algo = ga.algorithm();
        if !algo.is_perceptual() {
            results.push(AlgorithmComparison {
                algorithm: algo.to_string(),
                matched: ga == gb,
                measure: Measure::Equal { equal: ga == gb },
            });
            continue;
        }
        let distance = ga.distance(gb).map_or(u32::MAX, |d| d.0);
        let t = threshold_for(algo);
        let low = algo == Algorithm::Pdq && pdq_low;
        results.push(AlgorithmComparison {
            algorithm: algo.to_string(),
            matched: t.admits(Distance(distance)) && !low,
            measure: Measure::Distance {
                distance,
                bits: ga.bits(),
                threshold: t.0,
                below_min_quality: low,
            },
        });
    }
    if let (Some(variants), Some(hb)) = (dihedral, db.get(Algorithm::Pdq)) {
        let best = variants
            .hashes
            .iter()
            .filter_map(|h| h.to_digest().distance(hb))
            .map(|d| d.0)
            .min()
            .unwrap_or(256);
        let t = threshold_for(Algorithm::Pdq);
        results.push(AlgorithmComparison {
            algorithm: "pdq-dihedral".into(),
            matched: t.admits(Distance(best)) && !pdq_low,
            measure: Measure::Distance {
                distance: best,
                bits: 256,
                threshold: t.0,
                below_min_quality: pdq_low,
            },
        });
    }
    Ok(Comparison {
        a: Side {
            path: a.to_path_buf(),
            pdq_quality: da.pdq_quality,
        },
        b: Side {
            path: b.to_path_buf(),
            pdq_quality: db.pdq_quality,
        },
        results,
    })
}

/// A file's digests and, with PDQ, its eight orientations' PDQ hashes, from
/// one read and one decode.
fn digest_with_dihedral(
    path: &Path,
    algorithms: &[Algorithm],
    config: &HashConfig,
    want_dihedral: bool,
) -> Result<(FileDigests, Option<pdq::Dihedral>), Error> {
    let content = |source| Error::Content {
        path: path.to_path_buf(),
        source,
    };
    let bytes = super::read_input(path, config)?;
    let decoded = if algorithms.iter().any(|a| a.needs_pixels()) {
        Some(super::decode_for(&bytes, algorithms, config).map_err(|e| content(e.into()))?)
    } else {
        None
    };
    let digests =
        super::digest_decoded(&bytes, decoded.as_ref(), algorithms, config).map_err(content)?;
    // Only A's eight orientations are compared against: B's would be a
    // second full PDQ pass thrown away.
    let dihedral = decoded
        .as_ref()
        .filter(|_| want_dihedral)
        .and_then(super::Decoded::pdq_dihedral);
    Ok((digests, dihedral))
}

impl Tabular for Comparison {
    fn columns() -> Vec<Column> {
        vec![
            Column::left("ALGORITHM", 13),
            Column::right("DISTANCE", 9),
            Column::right("THRESHOLD", 9),
            Column::left("VERDICT", 0).after("  "),
        ]
    }

    fn preamble(&self) -> Vec<String> {
        let mut lines = vec![
            format!("A: {}", self.a.path.display()),
            format!("B: {}", self.b.path.display()),
        ];
        if let (Some(qa), Some(qb)) = (self.a.pdq_quality, self.b.pdq_quality) {
            lines.push(format!(
                "PDQ quality: A {qa}, B {qb} (below {} is not matched)",
                pdq::MIN_QUALITY
            ));
        }
        lines.push(String::new());
        lines
    }

    fn rows(&self) -> Vec<Vec<Cell>> {
        self.results
            .iter()
            .map(|r| {
                let (distance, threshold, verdict) = match r.measure {
                    Measure::Equal { equal: true } => {
                        ("-".into(), "-".into(), Cell::toned("equal", Tone::Alarm))
                    }
                    Measure::Equal { equal: false } => {
                        ("-".into(), "-".into(), Cell::toned("different", Tone::Calm))
                    }
                    Measure::Distance {
                        distance,
                        bits,
                        threshold,
                        below_min_quality,
                    } => (
                        format!("{distance}/{bits}"),
                        threshold.to_string(),
                        match (r.matched, below_min_quality) {
                            (true, _) => Cell::toned("match", Tone::Alarm),
                            (false, true) => Cell::from("no match (quality too low)"),
                            (false, false) => Cell::toned("no match", Tone::Calm),
                        },
                    ),
                };
                vec![
                    r.algorithm.as_str().into(),
                    distance.into(),
                    threshold.into(),
                    verdict,
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/images")
            .join(name)
    }

    const ALGOS: [Algorithm; 3] = [Algorithm::Pdq, Algorithm::Phash, Algorithm::Sha256];

    #[test]
    fn a_file_matches_itself_under_every_algorithm() {
        let cat = shipped("listed/cat.jpg");
        let c = compare(&cat, &cat, &ALGOS, None, &HashConfig::default()).unwrap();
        let names: Vec<&str> = c.results.iter().map(|r| r.algorithm.as_str()).collect();
        assert_eq!(names, ["pdq", "phash", "sha256", "pdq-dihedral"]);
        assert!(c.results.iter().all(|r| r.matched));
        assert_eq!(c.results[2].measure, Measure::Equal { equal: true });
        assert_eq!(c.a.pdq_quality, Some(Quality(100)));
    }

    #[test]
    fn different_photos_do_not_match_and_the_distances_are_the_pinned_ones() {
        let (cat, camera) = (shipped("listed/cat.jpg"), shipped("benign/camera.jpg"));
        let c = compare(&cat, &camera, &ALGOS, None, &HashConfig::default()).unwrap();
        assert!(c.results.iter().all(|r| !r.matched));
        let distances: Vec<Option<u32>> = c
            .results
            .iter()
            .map(|r| match r.measure {
                Measure::Distance { distance, .. } => Some(distance),
                Measure::Equal { .. } => None,
            })
            .collect();
        // As `tests/cmd/compare-table.stdout` shows them.
        assert_eq!(distances, [Some(128), Some(32), None, Some(116)]);
        // A threshold wide enough admits the pHash pair.
        let wide = compare(
            &cat,
            &camera,
            &ALGOS,
            Some(Threshold(40)),
            &HashConfig::default(),
        )
        .unwrap();
        assert!(wide.results[1].matched);
    }

    #[test]
    fn a_mirrored_copy_matches_only_under_pdq_dihedral() {
        let dir = tempfile::tempdir().unwrap();
        let rocket = shipped("listed/rocket.jpg");
        let mirrored = dir.path().join("mirrored.png");
        image::open(&rocket)
            .unwrap()
            .fliph()
            .to_rgb8()
            .save(&mirrored)
            .unwrap();
        let c = compare(
            &rocket,
            &mirrored,
            &[Algorithm::Pdq],
            None,
            &HashConfig::default(),
        )
        .unwrap();
        assert_eq!(c.results[1].algorithm.as_str(), "pdq-dihedral");
        assert!(!c.results[0].matched, "plain PDQ misses the mirror");
        assert!(c.results[1].matched, "one of A's orientations is B");
        let Measure::Distance { distance, .. } = c.results[1].measure else {
            panic!("a distance")
        };
        assert!(distance <= 4, "{distance}");
    }

    #[test]
    fn a_flat_image_never_matches_by_pdq_even_itself() {
        let dir = tempfile::tempdir().unwrap();
        let flat = dir.path().join("flat.png");
        image::RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128]))
            .save(&flat)
            .unwrap();
        let c = compare(&flat, &flat, &ALGOS, None, &HashConfig::default()).unwrap();
        assert_eq!(
            c.results[0].measure,
            Measure::Distance {
                distance: 0,
                bits: 256,
                threshold: 31,
                below_min_quality: true
            }
        );
        assert!(!c.results[0].matched && !c.results[3].matched);
        assert!(c.results[1].matched && c.results[2].matched);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = compare(
            Path::new("no-such.jpg"),
            &shipped("listed/cat.jpg"),
            &ALGOS,
            None,
            &HashConfig::default(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "no-such.jpg: no such file");
    }
}
