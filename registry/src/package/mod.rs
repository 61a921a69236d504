//! A connector package (`.lpkg`): the manifest, the component, and optionally the
//! publisher's signature, in a deterministic tar archive (see [`archive`]).
//!
//! The signature covers a short statement naming the package and the digests of its two
//! files, not the archive bytes, so a package can be signed after it is built and the
//! archive can be rewritten (canonicalised) without invalidating it. A package is addressed
//! by the sha256 of its archive bytes ([`digest`]).

mod archive;
mod head;

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use head::{Head, check_id};

use crate::keys::{PublicKey, SigningKey};

/// The first line of every signed statement: a signature made for anything else (another
/// format, another program using the same key) can never pass for a package signature.
const STATEMENT_DOMAIN: &str = "lathe-package-signature-v1";

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("the package is not a valid .lpkg archive: {0}")]
    Archive(String),
    #[error("lathe-plugin.json: {0}")]
    Manifest(String),
    #[error("component.wasm is not a valid WebAssembly component: {0}")]
    Component(String),
    #[error("signature.json: {0}")]
    SignatureFile(String),
    #[error(
        "the signature by {key} does not match this package: its manifest or component \
         changed after it was signed, or the signature was made for another package"
    )]
    BadSignature { key: PublicKey },
}

/// A publisher's signature over [`Package::statement`], stored as `signature.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The key that claims to have signed; [`Package::verify`] checks the claim, and the
    /// host then decides whether it trusts that key.
    pub key: PublicKey,
    #[serde(with = "base64_signature")]
    pub signature: [u8; 64],
}

/// A checked package: the manifest gives a valid [`Head`] and the component is a valid
/// component. The signature, if any, is only parsed; [`Package::verify`] checks it.
#[derive(Clone)]
pub struct Package {
    manifest: Vec<u8>,
    component: Vec<u8>,
    signature: Option<Signature>,
    head: Head,
}

impl Package {
    /// An unsigned package from a manifest and a component.
    pub fn new(manifest: Vec<u8>, component: Vec<u8>) -> Result<Package, PackageError> {
        let head = Head::parse(&manifest)?;
        check_component(&component)?;
        Ok(Package {
            manifest,
            component,
            signature: None,
            head,
        })
    }

    /// Reads and checks a `.lpkg` archive.
    pub fn from_bytes(bytes: &[u8]) -> Result<Package, PackageError> {
        let entries = archive::read(bytes)?;
        let mut package = Package::new(entries.manifest, entries.component)?;
        if let Some(signature) = entries.signature {
            package.signature = Some(
                serde_json::from_slice(&signature)
                    .map_err(|e| PackageError::SignatureFile(e.to_string()))?,
            );
        }
        Ok(package)
    }

    /// The archive, always the same bytes for the same package.
    pub fn to_bytes(&self) -> Vec<u8> {
        let signature = self
            .signature
            .as_ref()
            .map(|s| serde_json::to_vec(s).expect("a signature serialises"));
        let mut entries: Vec<(&str, &[u8])> = vec![
            (archive::MANIFEST, &self.manifest),
            (archive::COMPONENT, &self.component),
        ];
        if let Some(signature) = &signature {
            entries.push((archive::SIGNATURE, signature));
        }
        archive::write(&entries)
    }

    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest
    }

    pub fn component_bytes(&self) -> &[u8] {
        &self.component
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    pub fn manifest_digest(&self) -> String {
        digest(&self.manifest)
    }

    pub fn component_digest(&self) -> String {
        digest(&self.component)
    }

    /// The exact bytes a publisher signs: the domain line, then id, version, manifest
    /// digest and component digest, one per line. None of them can hold a newline (the id
    /// and version are checked, digests are hex), so the lines can't be confused.
    pub fn statement(&self) -> Vec<u8> {
        format!(
            "{STATEMENT_DOMAIN}\n{}\n{}\n{}\n{}\n",
            self.head.id,
            self.head.version,
            self.manifest_digest(),
            self.component_digest()
        )
        .into_bytes()
    }

    /// Signs the package with `key`, replacing any earlier signature.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = Some(Signature {
            key: key.public(),
            signature: key.sign(&self.statement()),
        });
    }

    pub fn signature(&self) -> Option<&Signature> {
        self.signature.as_ref()
    }

    /// `Ok(None)` for an unsigned package, `Ok(Some(key))` when the signature is valid and
    /// made by `key` (whether that key is trusted is the caller's decision), and an error
    /// when it does not verify.
    pub fn verify(&self) -> Result<Option<PublicKey>, PackageError> {
        let Some(signature) = &self.signature else {
            return Ok(None);
        };
        if signature
            .key
            .verify(&self.statement(), &signature.signature)
        {
            Ok(Some(signature.key))
        } else {
            Err(PackageError::BadSignature { key: signature.key })
        }
    }
}

impl fmt::Debug for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Package")
            .field("head", &self.head)
            .field("manifest_bytes", &self.manifest.len())
            .field("component_bytes", &self.component.len())
            .field("signed_by", &self.signature.as_ref().map(|s| s.key))
            .finish()
    }
}

/// `sha256:<hex>` of `bytes`; of a package's archive bytes, it is the package's address.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a well-formed digest (`sha256:` and 64 lowercase hex digits), so that
/// a digest can name a file without any other text reaching a path.
pub(crate) fn digest_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then_some(hex)
}

/// Refuses anything but a valid component: a core module (the most common mistake, a
/// `wasm32-wasip1` build or a missing `wasm-tools component new`) gets its own message.
fn check_component(bytes: &[u8]) -> Result<(), PackageError> {
    let bad = |m: String| PackageError::Component(m);
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(bad(
            "it is a core WebAssembly module, not a component; build for wasm32-wasip2 \
             (or wrap it with `wasm-tools component new`)"
                .into(),
        ));
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(bad(
            "it does not start with the WebAssembly component header".into(),
        ));
    }
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::default())
        .validate_all(bytes)
        .map_err(|e| bad(e.to_string()))?;
    Ok(())
}

mod base64_signature {
    use super::BASE64;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 64], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 64], D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = BASE64
            .decode(&text)
            .map_err(|_| serde::de::Error::custom("`signature` is not valid base64"))?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("`signature` is not 64 bytes"))
    }
}

/// Packages for the crate's unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::Package;

    /// The empty component, `(component)`: magic, version 0x0d, layer 1.
    pub const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    pub fn manifest(id: &str, version: &str) -> Vec<u8> {
        serde_json::json!({"id": id, "version": version, "name": "Test", "kind": "api",
                           "wit": "lathe:connector@0.1.0", "capabilities": []})
        .to_string()
        .into_bytes()
    }

    pub fn package(id: &str, version: &str) -> Package {
        Package::new(manifest(id, version), EMPTY_COMPONENT.to_vec()).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{EMPTY_COMPONENT, manifest};
    use super::*;

    fn package() -> Package {
        super::fixtures::package("test", "1.0.0")
    }

    #[test]
    fn the_empty_component_is_a_valid_component() {
        assert!(wasmparser::Parser::is_component(EMPTY_COMPONENT));
        wasmparser::Validator::new()
            .validate_all(EMPTY_COMPONENT)
            .unwrap();
        check_component(EMPTY_COMPONENT).unwrap();
    }

    #[test]
    fn core_modules_and_garbage_are_not_components() {
        let core = b"\0asm\x01\x00\x00\x00";
        let error = check_component(core).unwrap_err().to_string();
        assert!(error.contains("core WebAssembly module"), "{error}");
        let error = check_component(b"#!/bin/sh\n").unwrap_err().to_string();
        assert!(error.contains("component header"), "{error}");
        // The right header followed by a section that does not parse.
        let mut broken = EMPTY_COMPONENT.to_vec();
        broken.extend_from_slice(&[0x07, 0x05, 0xff]);
        assert!(check_component(&broken).is_err());
    }

    #[test]
    fn packages_round_trip_with_the_same_digest() {
        let mut package = package();
        let bytes = package.to_bytes();
        assert_eq!(digest(&bytes), digest(&package.to_bytes()));
        let read = Package::from_bytes(&bytes).unwrap();
        assert_eq!(read.manifest_bytes(), package.manifest_bytes());
        assert_eq!(read.component_bytes(), EMPTY_COMPONENT);
        assert_eq!(read.verify().unwrap(), None);

        let key = SigningKey::generate();
        package.sign(&key);
        let signed = Package::from_bytes(&package.to_bytes()).unwrap();
        assert_eq!(signed.verify().unwrap(), Some(key.public()));
        assert_eq!(signed.to_bytes(), package.to_bytes());
    }

    #[test]
    fn the_statement_names_the_package_and_both_digests() {
        let package = package();
        let statement = String::from_utf8(package.statement()).unwrap();
        let lines: Vec<_> = statement.lines().collect();
        assert_eq!(
            lines,
            [
                "lathe-package-signature-v1",
                "test",
                "1.0.0",
                &package.manifest_digest(),
                &package.component_digest()
            ]
        );
        assert!(package.manifest_digest().starts_with("sha256:"));
        assert_eq!(package.manifest_digest().len(), 7 + 64);
    }

    #[test]
    fn a_signature_for_another_package_does_not_verify() {
        let key = SigningKey::generate();
        let mut signed = package();
        signed.sign(&key);
        let mut other = Package::new(manifest("test", "1.0.1"), EMPTY_COMPONENT.to_vec()).unwrap();
        other.signature = signed.signature.clone();
        let error = other.verify().unwrap_err().to_string();
        assert!(error.contains("changed after it was signed"), "{error}");
    }

    #[test]
    fn malformed_signature_files_are_refused() {
        let bytes = archive::write(&[
            (archive::MANIFEST, &manifest("test", "1.0.0")),
            (archive::COMPONENT, EMPTY_COMPONENT),
            (
                archive::SIGNATURE,
                br#"{"key":"ed25519:AAAA","signature":"AAAA"}"#,
            ),
        ]);
        let error = Package::from_bytes(&bytes).unwrap_err().to_string();
        assert!(error.starts_with("signature.json:"), "{error}");
    }

    #[test]
    fn digests_are_strictly_formed() {
        let good = digest(b"x");
        assert!(digest_hex(&good).is_some());
        for bad in [
            "sha256:",
            "sha512:00",
            &good.to_uppercase(),
            &format!("{good}0"),
            &good.replace("sha256:", "sha256:../"),
            &format!("sha256:{}", "g".repeat(64)),
        ] {
            assert!(digest_hex(bad).is_none(), "{bad}");
        }
    }
}
