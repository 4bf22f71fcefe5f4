//! Writing received attachments to a folder (`cssim inbox --save DIR`).
//!
//! An attachment's name is chosen by its sender, so it is never used as a
//! path: only its last component is kept (after `/` and `\`), control
//! characters are dropped, a leading dot becomes `_` (no hidden files), and
//! a name that is then empty, `.` or `..` is replaced by
//! `MESSAGE-attachment-N`. A file is never overwritten, nor a link in DIR
//! followed: each is created new (`O_EXCL`), with `-1`, `-2`, … before the
//! extension when the name is taken.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::message::{Attachment, Message};
use crate::workspace::Error;

/// The longest file name kept, in bytes (file systems allow 255).
const MAX_NAME: usize = 200;
/// How many `-N` suffixes are tried before giving up.
const MAX_SUFFIX: u32 = 10_000;

/// One attachment written to disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Saved {
    /// The name the sender gave it.
    pub name: String,
    /// Where it was written.
    pub path: PathBuf,
}

/// The file name an attachment called `sent` is saved under, or `None`
/// when nothing safe is left of it.
pub fn safe_file_name(sent: &str) -> Option<String> {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = last.chars().filter(|c| !c.is_control()).collect();
    name = name.trim().to_string();
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    if name.starts_with('.') {
        name.replace_range(..1, "_");
    }
    if name.len() > MAX_NAME {
        let mut end = MAX_NAME;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    Some(name)
}

/// `stem-N.ext` (or `name-N` without an extension).
fn with_suffix(name: &str, n: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}-{n}.{ext}"),
        _ => format!("{name}-{n}"),
    }
}

/// Writes `bytes` to a new file in `dir` named `name`, or `name` with the
/// first free suffix; never replaces or follows anything that exists.
fn create_new(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, Error> {
    for n in 0..=MAX_SUFFIX {
        let candidate = if n == 0 {
            name.to_string()
        } else {
            with_suffix(name, n)
        };
        let path = dir.join(candidate);
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(Error::Io { path, source }),
        };
        if let Err(source) = file.write_all(bytes).and_then(|()| file.sync_all()) {
            // No half-written attachment is left behind.
            let _ = std::fs::remove_file(&path);
            return Err(Error::Io { path, source });
        }
        return Ok(path);
    }
    Err(Error::Invalid {
        path: dir.join(name),
        reason: format!("{MAX_SUFFIX} files of this name already exist"),
    })
}

/// Writes each image and file attachment of `message` into `dir` (created
/// if missing) under a safe, unused name; links are not files and are
/// skipped.
pub fn save_attachments(dir: &Path, message: &Message) -> Result<Vec<Saved>, Error> {
    let mut saved = Vec::new();
    for (i, a) in message.attachments.iter().enumerate() {
        let (Attachment::Image { name, bytes } | Attachment::File { name, bytes }) = a else {
            continue;
        };
        if saved.is_empty() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let file_name = safe_file_name(name)
            .unwrap_or_else(|| format!("{}-attachment-{}", &message.id.to_hex()[..8], i + 1));
        let path = create_new(dir, &file_name, bytes)?;
        saved.push(Saved {
            name: name.clone(),
            path,
        });
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;

    #[test]
    fn sender_chosen_names_cannot_leave_the_folder() {
        assert_eq!(safe_file_name("../../x").as_deref(), Some("x"));
        assert_eq!(safe_file_name("/etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            safe_file_name("..\\..\\boot.ini").as_deref(),
            Some("boot.ini")
        );
        assert_eq!(safe_file_name("photo.jpg").as_deref(), Some("photo.jpg"));
        assert_eq!(safe_file_name(".bashrc").as_deref(), Some("_bashrc"));
        assert_eq!(safe_file_name("a\nb\u{0}c.txt").as_deref(), Some("abc.txt"));
        for refused in ["", ".", "..", "../..", "a/", " .. ", "\u{1}"] {
            assert_eq!(safe_file_name(refused), None, "{refused:?}");
        }
        let long = "é".repeat(300);
        let kept = safe_file_name(&long).unwrap();
        assert!(kept.len() <= MAX_NAME && kept.chars().all(|c| c == 'é'));
    }

    #[test]
    fn saving_never_overwrites_and_names_what_it_cannot_keep() {
        let dir = tempfile::tempdir().unwrap();
        let message = Message {
            id: MessageId([0xab; 16]),
            from: "alice".into(),
            to: "bob".into(),
            sent_at: 0,
            text: None,
            attachments: vec![
                Attachment::File {
                    name: "../../x".into(),
                    bytes: b"one".to_vec(),
                },
                Attachment::File {
                    name: "x".into(),
                    bytes: b"two".to_vec(),
                },
                Attachment::Link {
                    url: "https://example.org".into(),
                },
                Attachment::File {
                    name: "..".into(),
                    bytes: b"three".to_vec(),
                },
            ],
        };
        let saved = save_attachments(dir.path(), &message).unwrap();
        let names: Vec<_> = saved
            .iter()
            .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["x", "x-1", "abababab-attachment-4"]);
        assert_eq!(std::fs::read(dir.path().join("x")).unwrap(), b"one");
        assert_eq!(std::fs::read(dir.path().join("x-1")).unwrap(), b"two");
        // Again: nothing is replaced.
        let again = save_attachments(dir.path(), &message).unwrap();
        assert_eq!(again[0].path, dir.path().join("x-2"));
        assert_eq!(std::fs::read(dir.path().join("x")).unwrap(), b"one");
        assert_eq!(with_suffix("a.tar.gz", 3), "a.tar-3.gz");
        assert_eq!(with_suffix("_bashrc", 1), "_bashrc-1");
    }
}
