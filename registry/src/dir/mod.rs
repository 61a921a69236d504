//! A registry on disk, laid out exactly as it is served, so copying the directory (to a USB
//! stick, behind a static file server) makes another registry:
//!
//! ```text
//! DIR/index.json                     the index (crate::index)
//! DIR/packages/sha256-<hex>.lpkg     each package, named by its digest
//! DIR/tokens.json                    publisher tokens, hashed (mode 0600)
//! DIR/.lock                          taken by every writer
//! ```
//!
//! Writes are serialised by [`fs::write_lock`] and each file is replaced atomically, the
//! package blob before the index that refers to it: a crash at any point leaves the old
//! index or the new one, and at worst an unreferenced blob or a temporary file, which the
//! next open removes.

mod fs;
mod tokens;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use time::format_description::well_known::Rfc3339;

use crate::index::{Index, VersionEntry};
use crate::package::{Package, PackageError, digest, digest_hex};
use fs::io_error;
pub use fs::read_regular;
use tokens::{TOKENS_FILE, Tokens};

const INDEX_FILE: &str = "index.json";
const PACKAGES_DIR: &str = "packages";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a registry directory: {reason}", path.display())]
    NotARegistry { path: PathBuf, reason: String },
    #[error("{}: the index is unreadable: {reason}", path.display())]
    CorruptIndex { path: PathBuf, reason: String },
    #[error("{}: the token file is unreadable: {reason}", path.display())]
    CorruptTokens { path: PathBuf, reason: String },
    #[error(
        "invalid package digest `{}`: expected `sha256:` followed by 64 lowercase hex digits",
        .0.escape_debug()
    )]
    InvalidDigest(String),
    #[error("no package with digest {0} in this registry")]
    PackageNotFound(String),
    #[error("the stored package {expected} has digest {actual}: the registry's storage is damaged")]
    DigestMismatch { expected: String, actual: String },
    #[error("invalid token name {0}")]
    InvalidTokenName(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Invalid(#[from] PackageError),
    #[error("{id}@{version} is already published; a version never changes, publish a new one")]
    Exists { id: String, version: String },
    #[error("package {id} belongs to publisher `{owner}`; only its owner may publish or yank it")]
    NotOwner { id: String, owner: String },
    #[error("{id}@{version} is not in this registry")]
    NotFound { id: String, version: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

pub struct DirRegistry {
    dir: PathBuf,
    /// Serialises this process's writers; the lock file serialises processes.
    writers: Mutex<()>,
}

impl DirRegistry {
    /// Makes the layout in `dir` (creating it if needed) and opens it. An existing registry
    /// is left as it is, so creating twice is harmless.
    pub fn create(dir: &Path) -> Result<DirRegistry, RegistryError> {
        let packages = dir.join(PACKAGES_DIR);
        std::fs::create_dir_all(&packages).map_err(io_error(&packages))?;
        let registry = DirRegistry {
            dir: dir.to_owned(),
            writers: Mutex::new(()),
        };

        let lock = fs::write_lock(dir, &registry.writers)?;
        if !dir.join(INDEX_FILE).exists() {
            fs::write_atomic(dir, INDEX_FILE, &Index::default().to_json(), 0o644)?;
        }
        if !dir.join(TOKENS_FILE).exists() {
            fs::write_atomic(dir, TOKENS_FILE, &Tokens::default().to_json(), 0o600)?;
        }
        drop(lock);

        DirRegistry::open(dir)
    }

    /// Opens an existing registry, removing temporary files an interrupted write left. A
    /// registry on read-only storage opens too (for reading): the clean-up is skipped.
    pub fn open(dir: &Path) -> Result<DirRegistry, RegistryError> {
        let not_registry = |reason: &str| RegistryError::NotARegistry {
            path: dir.to_owned(),
            reason: reason.to_owned(),
        };
        if !dir.is_dir() {
            return Err(not_registry("it does not exist or is not a directory"));
        }
        if !dir.join(INDEX_FILE).is_file() || !dir.join(PACKAGES_DIR).is_dir() {
            return Err(not_registry(
                "it has no index.json and packages/; is this the registry directory?",
            ));
        }
        let registry = DirRegistry {
            dir: dir.to_owned(),
            writers: Mutex::new(()),
        };
        registry.index()?;

        if let Ok(_lock) = fs::write_lock(dir, &registry.writers) {
            let removed =
                fs::remove_temp_files(dir)? + fs::remove_temp_files(&dir.join(PACKAGES_DIR))?;
            if removed > 0 {
                tracing::info!(dir = %dir.display(), removed, "registry.cleanup");
            }
        }
        Ok(registry)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn index(&self) -> Result<Index, RegistryError> {
        let path = self.dir.join(INDEX_FILE);
        let bytes = fs::read_regular(&path, fs::MAX_FILE_BYTES).map_err(io_error(&path))?;
        Index::from_json(&bytes).map_err(|e| RegistryError::CorruptIndex {
            path,
            reason: e.to_string(),
        })
    }

    /// The index file's bytes, as a static file server would serve them.
    pub fn index_bytes(&self) -> Result<Vec<u8>, RegistryError> {
        let path = self.dir.join(INDEX_FILE);
        fs::read_regular(&path, fs::MAX_FILE_BYTES).map_err(io_error(&path))
    }

    /// Where the package with `digest` is (or would be) stored. Only a well-formed digest
    /// makes a path, so no caller's text ever reaches the file system.
    pub fn package_path(&self, digest: &str) -> Result<PathBuf, RegistryError> {
        package_file(&self.dir, digest)
    }

    /// The package's bytes, checked against its digest.
    pub fn read_package(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let path = self.package_path(digest)?;
        let bytes = fs::read_regular(&path, fs::MAX_FILE_BYTES).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RegistryError::PackageNotFound(digest.into()),
            _ => io_error(&path)(e),
        })?;
        let actual = crate::package::digest(&bytes);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                expected: digest.into(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Checks and stores a package for `owner`. The stored archive is the canonical form
    /// ([`Package::to_bytes`]), so the digest depends only on the contents; the signature
    /// covers the contents, so it stays valid.
    pub fn publish(&self, bytes: &[u8], owner: &str) -> Result<VersionEntry, PublishError> {
        self.publish_package(&Package::from_bytes(bytes)?, owner)
    }

    /// [`DirRegistry::publish`] for a package already read (its signature is checked here).
    pub fn publish_package(
        &self,
        package: &Package,
        owner: &str,
    ) -> Result<VersionEntry, PublishError> {
        let publisher = package.verify()?;
        let canonical = package.to_bytes();
        let digest = digest(&canonical);
        let head = package.head();

        let _lock = fs::write_lock(&self.dir, &self.writers)?;
        let mut index = self.index()?;
        if let Some(current) = index.owner(&head.id)
            && current != owner
        {
            return Err(PublishError::NotOwner {
                id: head.id.clone(),
                owner: current.to_owned(),
            });
        }
        if index.find(&head.id, Some(&head.version)).is_some() {
            return Err(PublishError::Exists {
                id: head.id.clone(),
                version: head.version.to_string(),
            });
        }

        // The blob first: an index entry must never name a file that is not there yet.
        // Content-addressed, so an existing blob is reused; unless it was damaged, which
        // would make the new index entry name bytes that fail their digest.
        let blob = self.package_path(&digest)?;
        let intact =
            std::fs::read(&blob).is_ok_and(|stored| crate::package::digest(&stored) == digest);
        if !intact {
            let name = blob
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            fs::write_atomic(&self.dir.join(PACKAGES_DIR), name, &canonical, 0o644)?;
        }
        let entry = VersionEntry {
            version: head.version.to_string(),
            digest,
            size: canonical.len() as u64,
            name: head.name.clone(),
            description: head.description.clone(),
            kind: head.kind.clone(),
            wit: head.wit.clone(),
            capabilities: head.capabilities.clone(),
            publisher,
            yanked: false,
            published_at: now(),
        };
        index.insert(&head.id, owner, entry.clone());
        fs::write_atomic(&self.dir, INDEX_FILE, &index.to_json(), 0o644)?;
        Ok(entry)
    }

    /// Yanks (or restores) a version: it stays downloadable by exact version and digest, so
    /// installs that use it keep working, but it is no longer anyone's "newest".
    pub fn set_yanked(
        &self,
        id: &str,
        version: &semver::Version,
        owner: &str,
        yanked: bool,
    ) -> Result<VersionEntry, PublishError> {
        let not_found = || PublishError::NotFound {
            id: id.into(),
            version: version.to_string(),
        };
        let _lock = fs::write_lock(&self.dir, &self.writers)?;
        let mut index = self.index()?;
        let current = index.owner(id).ok_or_else(not_found)?;
        if current != owner {
            return Err(PublishError::NotOwner {
                id: id.into(),
                owner: current.to_owned(),
            });
        }
        let entry = index.find_mut(id, version).ok_or_else(not_found)?;
        if entry.yanked == yanked {
            return Ok(entry.clone());
        }
        entry.yanked = yanked;
        let entry = entry.clone();
        fs::write_atomic(&self.dir, INDEX_FILE, &index.to_json(), 0o644)?;
        Ok(entry)
    }

    /// Makes a publisher token for `name` and returns it: the only time it is ever shown.
    pub fn add_token(&self, name: &str) -> Result<String, RegistryError> {
        let _lock = fs::write_lock(&self.dir, &self.writers)?;
        let mut tokens = self.tokens()?;
        let token = tokens.add(name)?;
        fs::write_atomic(&self.dir, TOKENS_FILE, &tokens.to_json(), 0o600)?;
        Ok(token)
    }

    /// Revokes every token of the publisher `name` (what it published stays, owned by that
    /// name, so a new token for it can publish more). Returns how many were revoked.
    pub fn revoke_tokens(&self, name: &str) -> Result<usize, RegistryError> {
        let _lock = fs::write_lock(&self.dir, &self.writers)?;
        let mut tokens = self.tokens()?;
        let revoked = tokens.revoke(name);
        if revoked > 0 {
            fs::write_atomic(&self.dir, TOKENS_FILE, &tokens.to_json(), 0o600)?;
        }
        Ok(revoked)
    }

    /// The name of the publisher `token` belongs to, if any. An unreadable token file
    /// admits no one.
    pub fn check_token(&self, token: &str) -> Option<String> {
        match self.tokens() {
            Ok(tokens) => tokens.check(token),
            Err(error) => {
                tracing::warn!(%error, "registry.tokens");
                None
            }
        }
    }

    fn tokens(&self) -> Result<Tokens, RegistryError> {
        let path = self.dir.join(TOKENS_FILE);
        match fs::read_regular(&path, fs::MAX_FILE_BYTES) {
            Ok(bytes) => Tokens::parse(&bytes)
                .map_err(|reason| RegistryError::CorruptTokens { path, reason }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tokens::default()),
            Err(e) => Err(io_error(&path)(e)),
        }
    }
}

/// `dir/packages/sha256-<hex>.lpkg` for a well-formed digest; for readers that need no
/// [`DirRegistry`] (a registry on read-only media).
pub(crate) fn package_file(dir: &Path, digest: &str) -> Result<PathBuf, RegistryError> {
    let hex = digest_hex(digest).ok_or_else(|| RegistryError::InvalidDigest(digest.into()))?;
    Ok(dir.join(PACKAGES_DIR).join(format!("sha256-{hex}.lpkg")))
}

/// `dir/index.json`, for readers that need no [`DirRegistry`].
pub(crate) fn index_file(dir: &Path) -> PathBuf {
    dir.join(INDEX_FILE)
}

impl std::fmt::Debug for DirRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirRegistry")
            .field("dir", &self.dir)
            .finish()
    }
}

fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&Rfc3339)
        .expect("a current UTC time formats as RFC 3339")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use crate::package::fixtures;

    fn registry() -> (tempfile::TempDir, DirRegistry) {
        let dir = tempfile::tempdir().unwrap();
        let registry = DirRegistry::create(&dir.path().join("reg")).unwrap();
        (dir, registry)
    }

    fn v(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    #[test]
    fn create_makes_the_layout_and_is_harmless_twice() {
        let (dir, registry) = registry();
        let root = dir.path().join("reg");
        assert!(root.join("index.json").is_file());
        assert!(root.join("packages").is_dir());
        assert!(registry.index().unwrap().packages.is_empty());
        registry.add_token("alice").unwrap();
        let tokens = std::fs::read(root.join("tokens.json")).unwrap();

        DirRegistry::create(&root).unwrap();
        assert_eq!(std::fs::read(root.join("tokens.json")).unwrap(), tokens);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("tokens.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn open_refuses_what_is_not_a_registry() {
        let dir = tempfile::tempdir().unwrap();
        let error = DirRegistry::open(&dir.path().join("missing")).unwrap_err();
        assert!(error.to_string().contains("does not exist"), "{error}");
        let error = DirRegistry::open(dir.path()).unwrap_err();
        assert!(error.to_string().contains("no index.json"), "{error}");
    }

    #[test]
    fn published_packages_are_stored_by_digest_and_indexed() {
        let (_dir, registry) = registry();
        let key = SigningKey::generate();
        let mut package = fixtures::package("pg", "1.0.0");
        package.sign(&key);
        let bytes = package.to_bytes();

        let entry = registry.publish(&bytes, "alice").unwrap();
        assert_eq!(entry.digest, digest(&bytes));
        assert_eq!(entry.size, bytes.len() as u64);
        assert_eq!(entry.publisher, Some(key.public()));
        assert!(time::OffsetDateTime::parse(&entry.published_at, &Rfc3339).is_ok());
        assert_eq!(registry.read_package(&entry.digest).unwrap(), bytes);
        assert!(registry.package_path(&entry.digest).unwrap().is_file());

        let index = registry.index().unwrap();
        assert_eq!(index.find("pg", None), Some(&entry));
        assert_eq!(index.owner("pg"), Some("alice"));
    }

    #[test]
    fn a_version_is_published_once_and_only_by_its_owner() {
        let (_dir, registry) = registry();
        let bytes = fixtures::package("pg", "1.0.0").to_bytes();
        registry.publish(&bytes, "alice").unwrap();

        let error = registry.publish(&bytes, "alice").unwrap_err();
        assert!(matches!(error, PublishError::Exists { .. }), "{error}");
        let newer = fixtures::package("pg", "1.0.1").to_bytes();
        let error = registry.publish(&newer, "mallory").unwrap_err();
        assert!(matches!(error, PublishError::NotOwner { .. }), "{error}");
        registry.publish(&newer, "alice").unwrap();
        assert_eq!(registry.index().unwrap().packages["pg"].len(), 2);
    }

    #[test]
    fn yanking_hides_a_version_from_newest_only() {
        let (_dir, registry) = registry();
        for version in ["1.0.0", "1.1.0"] {
            let bytes = fixtures::package("pg", version).to_bytes();
            registry.publish(&bytes, "alice").unwrap();
        }
        let entry = registry
            .set_yanked("pg", &v("1.1.0"), "alice", true)
            .unwrap();
        assert!(entry.yanked);
        let index = registry.index().unwrap();
        assert_eq!(index.find("pg", None).unwrap().version, "1.0.0");
        assert!(index.find("pg", Some(&v("1.1.0"))).unwrap().yanked);

        let error = registry
            .set_yanked("pg", &v("1.0.0"), "bob", true)
            .unwrap_err();
        assert!(matches!(error, PublishError::NotOwner { .. }), "{error}");
        let error = registry
            .set_yanked("pg", &v("9.0.0"), "alice", true)
            .unwrap_err();
        assert!(matches!(error, PublishError::NotFound { .. }), "{error}");
        let error = registry
            .set_yanked("nope", &v("1.0.0"), "alice", true)
            .unwrap_err();
        assert!(matches!(error, PublishError::NotFound { .. }), "{error}");

        registry
            .set_yanked("pg", &v("1.1.0"), "alice", false)
            .unwrap();
        assert_eq!(
            registry.index().unwrap().find("pg", None).unwrap().version,
            "1.1.0"
        );
    }

    #[test]
    fn only_well_formed_digests_name_a_file() {
        let (_dir, registry) = registry();
        let good = digest(b"x");
        let path = registry.package_path(&good).unwrap();
        assert!(path.ends_with(format!("packages/sha256-{}.lpkg", &good[7..])));
        for bad in ["../index.json", "sha256:../../etc/passwd", "sha256-abc", ""] {
            let error = registry.package_path(bad).unwrap_err();
            assert!(matches!(error, RegistryError::InvalidDigest(_)), "{bad}");
        }
        let error = registry.read_package(&good).unwrap_err();
        assert!(
            matches!(error, RegistryError::PackageNotFound(_)),
            "{error}"
        );
    }

    #[test]
    fn a_damaged_blob_is_detected_on_read() {
        let (_dir, registry) = registry();
        let entry = registry
            .publish(&fixtures::package("pg", "1.0.0").to_bytes(), "alice")
            .unwrap();
        std::fs::write(registry.package_path(&entry.digest).unwrap(), b"tampered").unwrap();
        let error = registry.read_package(&entry.digest).unwrap_err();
        assert!(
            matches!(error, RegistryError::DigestMismatch { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_damaged_blob_in_the_way_is_replaced_on_publish() {
        let (_dir, registry) = registry();
        let bytes = fixtures::package("pg", "1.0.0").to_bytes();
        let path = registry.package_path(&digest(&bytes)).unwrap();
        std::fs::write(&path, b"garbage under the package's name").unwrap();
        let entry = registry.publish(&bytes, "alice").unwrap();
        assert_eq!(registry.read_package(&entry.digest).unwrap(), bytes);
    }

    #[test]
    fn open_removes_temp_files_left_by_a_crash() {
        let (dir, registry) = registry();
        let root = dir.path().join("reg");
        std::fs::write(root.join(".tmp-deadbeef"), b"{ half an ind").unwrap();
        std::fs::write(root.join("packages/.tmp-cafe"), b"half a blob").unwrap();
        drop(registry);

        let registry = DirRegistry::open(&root).unwrap();
        assert!(!root.join(".tmp-deadbeef").exists());
        assert!(!root.join("packages/.tmp-cafe").exists());
        registry
            .publish(&fixtures::package("pg", "1.0.0").to_bytes(), "alice")
            .unwrap();
    }

    #[test]
    fn tokens_are_checked_against_the_file() {
        let (_dir, registry) = registry();
        let token = registry.add_token("alice").unwrap();
        assert_eq!(registry.check_token(&token).as_deref(), Some("alice"));
        assert_eq!(registry.check_token("lathe-registry-0000"), None);
        assert!(registry.add_token("../alice").is_err());
    }
}
