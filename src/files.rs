//! Files: atomic writes, the secret-file permission rule, and the short
//! reason an I/O error is given in every error message.
//!
//! The one place every module (hash sets, identities, issuer keys, the
//! workspace, the relay) writes a file from: [`write_atomic`] writes a file
//! so that readers see either the old file or the whole new one, never a
//! prefix: a temporary file in the same folder, flushed to disk, then
//! renamed over the target (rename is atomic within a file system, which is
//! why the temporary file must not live in `/tmp`), then the folder flushed,
//! so that the rename itself survives a crash. Key files are read and
//! written through [`crate::keys`], which builds on this module.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file could not be written (or its folder created): the file and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", path.display(), describe_io_error(source))]
pub struct WriteError {
    /// The file (or the folder that could not be created).
    pub path: PathBuf,
    /// The underlying error.
    pub source: std::io::Error,
}

/// A short, lower-case reason for an I/O error ("no such file", "permission
/// denied"), without the OS error number: what every error message that
/// names a file says after the file's name.
pub fn describe_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}

/// Writes `bytes` to `path` atomically; the error names `path`. With
/// `private`, the file is created readable by its owner only (mode 0600 on
/// Unix) *before* any byte is written, so a secret is never briefly
/// world-readable. The folder must exist ([`create_parent`] makes it).
///
/// On failure the temporary file is removed and `path` is untouched. The
/// one exception is a failure to flush the folder after the rename: the new
/// content is then in place but may not survive a crash, and the error says
/// so.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<(), WriteError> {
    write_atomic_io(path, bytes, private).map_err(|source| WriteError {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates `path`'s folder (and the folders above it) if missing.
pub fn create_parent(path: &Path) -> Result<(), WriteError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => fs::create_dir_all(dir).map_err(|source| WriteError {
            path: dir.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

fn write_atomic_io(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?
        .to_string_lossy()
        .into_owned();
    let (tmp_path, mut file) = create_temp(&dir, &file_name, private)?;
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp_path, path));
    if let Err(e) = result {
        drop(file);
        // Best effort: the write already failed, and that is the error to report.
        let _ = fs::remove_file(&tmp_path);
        return Err(e);
    }
    sync_dir(&dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("written, but flushing its folder to disk failed: {e}"),
        )
    })
}

/// Refuses a secret file that group or others may read (Unix), as OpenSSH
/// does: a key anyone on the machine could copy is not a secret. The one
/// rule for every secret key cssim reads (identities, hash-set issuers,
/// through [`crate::keys::read_secret_text`]);
/// the error is the reason, with the command that fixes it, for the caller
/// to put next to the file's name. A file that cannot be examined passes
/// here (reading it reports why).
pub fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "permissions {mode:04o} are too open: a secret key must be readable by its owner only (chmod 600 {})",
                    path.display()
                ));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Flushes `dir`'s entries to disk. A rename only changes the folder, and
/// until the folder is flushed a crash can bring back the old entry (or
/// none), even though the file's bytes were synced.
///
/// Only where a folder can be opened like a file (Unix) can it be synced.
/// Elsewhere (Windows refuses to open a folder this way), when the folder
/// cannot be opened for reading, or on a file system that does not sync
/// folders (`EINVAL`), this is skipped and the write is as durable as the
/// platform makes a rename.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let Ok(folder) = File::open(dir) else {
        return Ok(());
    };
    match folder.sync_all() {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Creates a fresh temporary file next to the target; `create_new` makes a
/// name clash with a concurrent writer fail instead of sharing the file.
fn create_temp(dir: &Path, name: &str, private: bool) -> std::io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    let mut last_err = None;
    for attempt in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!(".{name}.tmp-{pid}-{nanos:x}-{attempt}"));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if private { 0o600 } else { 0o644 });
        }
        #[cfg(not(unix))]
        let _ = private;
        match options.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("cannot create a temporary file")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        write_atomic(&p, b"hello", false).unwrap();
        write_atomic(&p, b"world!", false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"world!");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        write_atomic(&p, b"secret", true).unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn writes_into_a_nested_folder_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("b");
        fs::create_dir_all(&nested).unwrap();
        let p = nested.join("out.bin");
        write_atomic(&p, b"first", false).unwrap();
        write_atomic(&p, b"second", true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(&nested)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.bin"]);
        // Nothing strayed into the folders above either.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(fs::read_dir(dir.path().join("a")).unwrap().count(), 1);
    }

    /// The flush itself cannot be observed from a test (only a power cut
    /// would show it); this checks that syncing a folder succeeds and that
    /// one that cannot be opened is skipped, not an error.
    #[test]
    fn sync_dir_succeeds_on_a_folder_and_skips_what_it_cannot_open() {
        let dir = tempfile::tempdir().unwrap();
        sync_dir(dir.path()).unwrap();
        sync_dir(&dir.path().join("missing")).unwrap();
    }

    #[test]
    fn errors_name_the_file_and_a_short_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-dir").join("out.bin");
        let e = write_atomic(&p, b"x", false).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: no such file", p.display()));
        create_parent(&p).unwrap();
        write_atomic(&p, b"x", false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn failure_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-dir").join("out.bin");
        assert!(write_atomic(&p, b"x", false).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
