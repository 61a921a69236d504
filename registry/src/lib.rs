//! Lathe's connector packages and the registry that serves them.
//!
//! - [`keys`]: publisher signing keys (a private file) and public keys (`ed25519:…`).
//! - [`package`]: the `.lpkg` archive (manifest, component, signature), its checks, digest
//!   and signature.
//! - [`index`]: the registry's index of packages and versions, as served in `index.json`.
//! - [`dir`]: a registry on disk, which is also the plain-directory form for air-gapped sites.
//! - [`server`]: the registry's HTTP API over a [`dir::DirRegistry`].
//! - [`client`]: reads from and publishes to a registry, over HTTP(S) or in a directory.
//!
//! Nothing here depends on the runtime or the server: whether a package's signer is trusted,
//! whether its component fits a WIT world the host supports, and whether its capabilities
//! are approved are the installing host's decisions.

pub mod client;
pub mod dir;
pub mod index;
pub mod keys;
pub mod package;
pub mod server;
