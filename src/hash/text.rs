//! Hashes of message text, normalised so that trivial variations of the same
//! text hash alike, and of the URLs in it.
//!
//! Normalisation, in order:
//! 1. Unicode NFKC: compatibility forms fold to their plain letters
//!    (`ｆｕｌｌｗｉｄｔｈ` → `fullwidth`, `ﬁ` → `fi`, `①` → `1`);
//! 2. full Unicode case folding (`Straße` → `strasse`, `ΣΊΣΥΦΟΣ` → `σίσυφοσ`);
//! 3. whitespace collapsed: every run of Unicode white space becomes one
//!    space, and leading and trailing space goes.
//!
//! So `"  Hello,\tWORLD \u{FF01} "` and `"hello, world !"` are the same text.
//!
//! URLs (`http(s)://…` and bare `www.` style links found by `linkify`) are
//! extracted from the NFKC form, *before* case folding, because URL paths are
//! case-sensitive: `https://Example.com/A` and `https://example.com/a` are
//! different resources. Only the scheme and host are lower-cased. Each URL is
//! hashed on its own, so a list entry for a link matches a message that
//! contains it among other words.
//!
//! Every digest is SHA-256 of the UTF-8 bytes, under [`Algorithm::Text`].

use linkify::{LinkFinder, LinkKind};
use sha2::{Digest as _, Sha256};
use unicode_normalization::UnicodeNormalization;

use super::digest::{Algorithm, Digest};

/// The digests of one piece of text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextDigests {
    /// The normalised text.
    pub normalized: String,
    /// SHA-256 of the normalised text.
    pub text: Digest,
    /// Each URL found (normalised as the module docs say) and its digest.
    pub urls: Vec<(String, Digest)>,
}

/// Normalises `text` (NFKC, case fold, collapse white space).
pub fn normalize(text: &str) -> String {
    let nfkc: String = text.nfkc().collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// SHA-256 of the normalised form of `text`.
pub fn hash(text: &str) -> Digest {
    digest_of(&normalize(text))
}

/// The URLs in `text`, normalised (scheme and host lower-case).
pub fn urls(text: &str) -> Vec<String> {
    let nfkc: String = text.nfkc().collect();
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    finder.url_must_have_scheme(false);
    finder
        .links(&nfkc)
        .map(|l| normalize_url(l.as_str()))
        .collect()
}

/// Normalises and hashes `text` and each URL in it.
pub fn digests(text: &str) -> TextDigests {
    let normalized = normalize(text);
    TextDigests {
        text: digest_of(&normalized),
        urls: urls(text)
            .into_iter()
            .map(|u| {
                let d = digest_of(&u);
                (u, d)
            })
            .collect(),
        normalized,
    }
}

/// SHA-256 of one URL, normalised as URLs found in text are (NFKC, scheme
/// and host lower-case), so a link attachment and the same link in a text
/// hash alike.
pub fn hash_url(url: &str) -> Digest {
    let nfkc: String = url.trim().nfkc().collect();
    digest_of(&normalize_url(&nfkc))
}

fn digest_of(s: &str) -> Digest {
    Digest::new(Algorithm::Text, Sha256::digest(s.as_bytes()).to_vec())
}

fn normalize_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (url[..i].to_ascii_lowercase(), &url[i + 3..]),
        None => ("https".to_string(), url),
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest[..host_end].to_lowercase();
    format!("{scheme}://{host}{}", &rest[host_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples_hold() {
        assert_eq!(normalize("ｆｕｌｌｗｉｄｔｈ ﬁ ①"), "fullwidth fi 1");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize("  Hello,\tWORLD \u{FF01} "), "hello, world !");
        assert_eq!(hash("  Hello,\tWORLD \u{FF01} "), hash("hello, world !"));
        assert_ne!(hash("hello world"), hash("hello world."));
    }

    #[test]
    fn text_digest_is_sha256_of_the_normal_form() {
        assert_eq!(
            hash(" ABC ").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn urls_keep_path_case_and_fold_scheme_and_host() {
        let found = urls("see HTTPS://Example.COM/Path?Q=1 and www.Test.org/x.");
        assert_eq!(
            found,
            vec!["https://example.com/Path?Q=1", "https://www.test.org/x"]
        );
        let d = digests("Look: https://example.com/A");
        assert_eq!(d.urls.len(), 1);
        assert_eq!(d.urls[0].1, digest_of("https://example.com/A"));
        assert_eq!(hash_url(" HTTPS://EXAMPLE.com/A"), d.urls[0].1);
    }
}
