//! The file-system primitives the registry's consistency rests on: atomic replacement, the
//! cross-process write lock, and removal of what an interrupted write left behind.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::RegistryError;

/// Every temporary file starts so; nothing else in a registry does, so cleaning them up
/// can't remove anything that matters.
pub(super) const TEMP_PREFIX: &str = ".tmp-";
const LOCK_FILE: &str = ".lock";

pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The most any registry file is read into memory: far above any package a registry accepts,
/// far below what would hurt the process.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Reads the regular file at `path` (a symlink to one is fine), at most `limit` bytes.
/// Devices (`/dev/zero`), FIFOs and directories are refused before they are opened, so a
/// registry directory can't make a reader block forever or fill memory; a file that grows
/// past `limit` while it is read is refused too.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let not_regular = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file (devices, FIFOs and directories are refused)",
        )
    };
    // Opened without blocking (a FIFO with no writer would block the open itself, and the
    // path may be swapped for one between any check and the open), then checked on what
    // was opened. Reads of a regular file ignore the flag.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    if metadata.len() > limit {
        return Err(too_large(limit));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

fn too_large(limit: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::FileTooLarge,
        format!("larger than {limit} bytes"),
    )
}

/// Replaces `dir/name` with `bytes` so that a reader sees the old file or the new one,
/// never a part: written to a temporary file in the same directory, flushed to disk,
/// renamed over the target, and the directory flushed so the rename itself survives a
/// crash.
pub(super) fn write_atomic(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), RegistryError> {
    let temp = dir.join(format!("{TEMP_PREFIX}{}", random_hex(8)));
    let target = dir.join(name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
            .map_err(io_error(&temp))?;
        file.write_all(bytes).map_err(io_error(&temp))?;
        file.sync_all().map_err(io_error(&temp))?;
        std::fs::rename(&temp, &target).map_err(io_error(&target))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(dir))
    })();
    if result.is_err() {
        // Best effort: a temporary file left here is removed at the next open anyway.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Holds the registry's write lock: the in-process mutex (threads of one server) and an
/// exclusive lock on `DIR/.lock` (other processes, such as a CLI publishing into the same
/// directory). The file lock is released when the file is closed, also when the process dies.
pub(super) struct WriteLock<'a> {
    _file: File,
    _guard: MutexGuard<'a, ()>,
}

pub(super) fn write_lock<'a>(
    dir: &Path,
    mutex: &'a Mutex<()>,
) -> Result<WriteLock<'a>, RegistryError> {
    // The mutex guards no data, so a panic while it was held left nothing inconsistent.
    let guard = mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = lock_path(dir);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_error(&path))?;
    file.lock().map_err(io_error(&path))?;
    Ok(WriteLock {
        _file: file,
        _guard: guard,
    })
}

fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK_FILE)
}

/// Removes temporary files an interrupted write left in `dir`. The caller holds the write
/// lock, so none of them belongs to a write in progress.
pub(super) fn remove_temp_files(dir: &Path) -> Result<usize, RegistryError> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        if entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(TEMP_PREFIX.as_bytes())
        {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io_error(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

pub(super) fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system's random source works");
    hex::encode(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_and_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "f.json", b"one", 0o644).unwrap();
        write_atomic(dir.path(), "f.json", b"two", 0o644).unwrap();
        assert_eq!(std::fs::read(dir.path().join("f.json")).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.json"]);
    }

    #[test]
    fn temp_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".tmp-abc"), b"partial").unwrap();
        std::fs::write(dir.path().join("index.json"), b"{}").unwrap();
        assert_eq!(remove_temp_files(dir.path()).unwrap(), 1);
        assert!(dir.path().join("index.json").exists());
        assert!(!dir.path().join(".tmp-abc").exists());
    }

    #[test]
    fn the_lock_can_be_taken_again_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let mutex = Mutex::new(());
        drop(write_lock(dir.path(), &mutex).unwrap());
        drop(write_lock(dir.path(), &mutex).unwrap());
    }
}
