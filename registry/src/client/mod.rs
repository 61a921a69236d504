//! Reading from and publishing to a registry, wherever it is: an HTTP(S) registry server (or
//! any static file server over a registry directory), or the directory itself, for
//! air-gapped sites.
//!
//! Downloads are bounded by `max_package_bytes` and checked against the digest asked for,
//! so a registry (or anything between it and us) can't hand over other bytes unnoticed.

mod http;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;

use crate::dir::{self, DirRegistry, PublishError, RegistryError};
use crate::index::{Index, SearchResult, VersionEntry};
use crate::package::digest_hex;

/// The owner name of everything published straight into a directory: whoever can write the
/// directory needs no token.
pub const LOCAL_OWNER: &str = "local";
/// The most index bytes read, whatever `max_package_bytes` is: ample for many thousands of
/// versions, and bounded so a hostile registry can't exhaust memory.
const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{text}` is not a registry location: {reason}")]
    Source { text: String, reason: String },
    #[error("resolving {host}: {message}")]
    Resolve { host: String, message: String },
    #[error("connecting to {host}: {message}")]
    Connect { host: String, message: String },
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error("{url}: no complete answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("{url} redirects ({status}) to {location}; configure the registry by that address")]
    Redirect {
        url: String,
        status: u16,
        location: String,
    },
    /// The registry answered with an error status; `detail` is its problem document's.
    #[error("{url}: {status}: {detail}")]
    Status {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("{url}: the response is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{what} has digest {actual}, not the {expected} asked for; it was altered")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what}: the index is invalid: {reason}")]
    InvalidIndex { what: String, reason: String },
    #[error("{what}: unexpected answer: {reason}")]
    InvalidResponse { what: String, reason: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl ClientError {
    fn bad_source(text: &str, reason: &str) -> ClientError {
        ClientError::Source {
            text: text.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// The HTTP status this error is, or would be from a registry server, so callers can
    /// treat a directory and a server alike (409 exists, 403 not owner, 422 invalid, …).
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            ClientError::Publish(error) => Some(match error {
                PublishError::Invalid(_) => 422,
                PublishError::Exists { .. } => 409,
                PublishError::NotOwner { .. } => 403,
                PublishError::NotFound { .. } => 404,
                PublishError::Registry(_) => return None,
            }),
            ClientError::Registry(RegistryError::PackageNotFound(_)) => Some(404),
            _ => None,
        }
    }
}

/// Where a registry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A registry server or static file server; the URL's path ends in `/`.
    Http(url::Url),
    /// A registry directory (absolute path).
    Dir(PathBuf),
}

impl Source {
    /// `http://` or `https://` URLs, `file:///abs/path`, or an absolute path.
    pub fn parse(text: &str) -> Result<Source, ClientError> {
        let bad = |reason: &str| ClientError::bad_source(text, reason);
        let lower = text.trim().to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let mut url = url::Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
            if url.host().is_none() {
                return Err(bad("the URL has no host"));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(bad(
                    "credentials do not belong in the URL; give the publisher token separately",
                ));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(bad("a registry URL has no query or fragment"));
            }
            // The base of relative paths: `https://host/lathe` means `https://host/lathe/`.
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            Ok(Source::Http(url))
        } else if lower.starts_with("file:") {
            let url = url::Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
            let path = url
                .to_file_path()
                .map_err(|()| bad("expected file:///absolute/path"))?;
            Ok(Source::Dir(path))
        } else if Path::new(text).is_absolute() {
            Ok(Source::Dir(PathBuf::from(text)))
        } else {
            Err(bad(
                "use an http:// or https:// URL, a file:/// URL or an absolute directory path",
            ))
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Http(url) => write!(f, "{url}"),
            Source::Dir(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Turns a host name (or IP literal) into the addresses the client may connect to. The
/// host passes its egress-policy resolver here; an empty list or an error stops the request.
pub trait Resolve: Send + Sync {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, String>> + Send + 'a>>;
}

/// The system resolver, without any policy.
pub struct SystemResolve;

impl Resolve for SystemResolve {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, String>> + Send + 'a>> {
        Box::pin(async move {
            tokio::net::lookup_host((host, port))
                .await
                .map(|addresses| addresses.collect())
                .map_err(|e| e.to_string())
        })
    }
}

pub struct Client {
    source: Source,
    resolver: Arc<dyn Resolve>,
    max_package_bytes: u64,
}

impl Client {
    pub fn new(source: Source, resolver: Arc<dyn Resolve>, max_package_bytes: u64) -> Client {
        Client {
            source,
            resolver,
            max_package_bytes,
        }
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub async fn index(&self) -> Result<Index, ClientError> {
        let (what, bytes) = match &self.source {
            Source::Http(base) => {
                let url = join(base, "index.json")?;
                let bytes = self.get(url.clone(), MAX_INDEX_BYTES).await?;
                (url.to_string(), bytes)
            }
            Source::Dir(dir) => {
                let path = dir::index_file(dir);
                let bytes = read_bounded(path.clone(), MAX_INDEX_BYTES).await?;
                (path.display().to_string(), bytes)
            }
        };
        Index::from_json(&bytes).map_err(|e| ClientError::InvalidIndex {
            what,
            reason: e.to_string(),
        })
    }

    /// Packages matching `query` (see [`Index::search`]). A server's search route is used
    /// when it has one; a static registry is searched through its index.
    pub async fn search(&self, query: &str) -> Result<Vec<SearchResult>, ClientError> {
        let Source::Http(base) = &self.source else {
            return Ok(self.index().await?.search(query));
        };
        let mut url = join(base, "v1/search")?;
        url.query_pairs_mut().append_pair("q", query);
        match self.get(url.clone(), MAX_INDEX_BYTES).await {
            Ok(bytes) => {
                #[derive(serde::Deserialize)]
                struct Response {
                    packages: Vec<SearchResult>,
                }
                let response: Response =
                    serde_json::from_slice(&bytes).map_err(|e| ClientError::InvalidResponse {
                        what: url.to_string(),
                        reason: e.to_string(),
                    })?;
                Ok(response.packages)
            }
            Err(ClientError::Status { status: 404, .. }) => Ok(self.index().await?.search(query)),
            Err(error) => Err(error),
        }
    }

    /// The package with `digest`, at most `max_package_bytes`, checked against the digest.
    pub async fn package(&self, digest: &str) -> Result<Vec<u8>, ClientError> {
        let hex =
            digest_hex(digest).ok_or_else(|| RegistryError::InvalidDigest(digest.to_owned()))?;
        let (what, bytes) = match &self.source {
            Source::Http(base) => {
                let url = join(base, &format!("packages/sha256-{hex}.lpkg"))?;
                let bytes = self.get(url.clone(), self.max_package_bytes).await?;
                (url.to_string(), bytes)
            }
            Source::Dir(dir) => {
                let path = dir::package_file(dir, digest)?;
                let bytes = read_bounded(path.clone(), self.max_package_bytes)
                    .await
                    .map_err(|error| match error {
                        ClientError::Registry(RegistryError::Io { source, .. })
                            if source.kind() == std::io::ErrorKind::NotFound =>
                        {
                            RegistryError::PackageNotFound(digest.to_owned()).into()
                        }
                        error => error,
                    })?;
                (path.display().to_string(), bytes)
            }
        };
        let actual = crate::package::digest(&bytes);
        if actual != digest {
            return Err(ClientError::DigestMismatch {
                what,
                expected: digest.to_owned(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Publishes a `.lpkg`. A server needs the publisher's token; a directory is published
    /// into directly, as owner [`LOCAL_OWNER`].
    pub async fn publish(
        &self,
        token: Option<&str>,
        bytes: &[u8],
    ) -> Result<VersionEntry, ClientError> {
        match &self.source {
            Source::Http(base) => {
                let url = join(base, "v1/packages")?;
                let body = Bytes::copy_from_slice(bytes);
                let response = self.post(url.clone(), token, Some(body)).await?;
                parse_entry(&url, &response)
            }
            Source::Dir(dir) => {
                let dir = dir.clone();
                let bytes = bytes.to_vec();
                blocking(move || DirRegistry::open(&dir)?.publish(&bytes, LOCAL_OWNER)).await
            }
        }
    }

    /// Yanks (`yanked`) or restores a version; only the package's owner may.
    pub async fn set_yanked(
        &self,
        token: Option<&str>,
        id: &str,
        version: &semver::Version,
        yanked: bool,
    ) -> Result<VersionEntry, ClientError> {
        match &self.source {
            Source::Http(base) => {
                crate::package::check_id(id)
                    .map_err(|reason| ClientError::bad_source(id, &reason))?;
                let action = if yanked { "yank" } else { "unyank" };
                let url = join(base, &format!("v1/packages/{id}/{version}/{action}"))?;
                let response = self.post(url.clone(), token, None).await?;
                parse_entry(&url, &response)
            }
            Source::Dir(dir) => {
                let (dir, id, version) = (dir.clone(), id.to_owned(), version.clone());
                blocking(move || {
                    DirRegistry::open(&dir)?.set_yanked(&id, &version, LOCAL_OWNER, yanked)
                })
                .await
            }
        }
    }

    async fn get(&self, url: url::Url, limit: u64) -> Result<Vec<u8>, ClientError> {
        let request = http::Exchange {
            method: Method::GET,
            url,
            token: None,
            body: None,
            limit,
        };
        http::exchange(self.resolver.as_ref(), request).await
    }

    async fn post(
        &self,
        url: url::Url,
        token: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<Vec<u8>, ClientError> {
        let request = http::Exchange {
            method: Method::POST,
            url,
            token,
            body,
            limit: MAX_INDEX_BYTES,
        };
        http::exchange(self.resolver.as_ref(), request).await
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("source", &self.source)
            .field("max_package_bytes", &self.max_package_bytes)
            .finish()
    }
}

fn join(base: &url::Url, path: &str) -> Result<url::Url, ClientError> {
    base.join(path)
        .map_err(|e| ClientError::bad_source(base.as_str(), &e.to_string()))
}

fn parse_entry(url: &url::Url, bytes: &[u8]) -> Result<VersionEntry, ClientError> {
    serde_json::from_slice(bytes).map_err(|e| ClientError::InvalidResponse {
        what: url.to_string(),
        reason: e.to_string(),
    })
}

/// Reads a regular file of at most `limit` bytes (`dir::read_regular`).
async fn read_bounded(path: PathBuf, limit: u64) -> Result<Vec<u8>, ClientError> {
    blocking(move || match crate::dir::read_regular(&path, limit) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => Err(ClientError::TooLarge {
            url: path.display().to_string(),
            limit,
        }),
        Err(source) => Err(ClientError::Registry(RegistryError::Io { path, source })),
    })
    .await
}

async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ClientError>
where
    T: Send + 'static,
    E: Into<ClientError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ClientError::InvalidResponse {
            what: "registry directory".into(),
            reason: format!("the task failed: {e}"),
        })?
        .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_urls_or_absolute_directories() {
        let Source::Http(url) = Source::parse("https://registry.example.com/lathe").unwrap() else {
            panic!("not http");
        };
        assert_eq!(url.as_str(), "https://registry.example.com/lathe/");
        assert_eq!(
            Source::parse("http://127.0.0.1:8080").unwrap().to_string(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            Source::parse("file:///srv/registry").unwrap(),
            Source::Dir("/srv/registry".into())
        );
        assert_eq!(
            Source::parse("/srv/registry").unwrap(),
            Source::Dir("/srv/registry".into())
        );
    }

    #[test]
    fn other_sources_are_refused_with_the_accepted_forms() {
        let cases = [
            ("registry", "absolute directory path"),
            ("./registry", "absolute directory path"),
            ("ftp://host/x", "absolute directory path"),
            ("https://user:pw@host/", "credentials"),
            ("https://host/?token=x", "no query"),
            ("file://otherhost/x", "file:///absolute/path"),
            ("http://", "empty host"),
        ];
        for (text, expected) in cases {
            let error = Source::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn directory_and_server_errors_share_statuses() {
        let exists = ClientError::Publish(PublishError::Exists {
            id: "pg".into(),
            version: "1.0.0".into(),
        });
        assert_eq!(exists.status(), Some(409));
        let status = ClientError::Status {
            url: "http://x/".into(),
            status: 403,
            detail: "not yours".into(),
        };
        assert_eq!(status.status(), Some(403));
        assert_eq!(status.to_string(), "http://x/: 403: not yours");
    }
}
