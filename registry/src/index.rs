//! The registry's index: every package id, its owner, and its versions with their digests.
//! It is served whole as `index.json`, so a static file server is a registry too.
//!
//! ```json
//! { "format": "lathe-registry", "formatVersion": 1,
//!   "packages": { "rest": { "owner": "alice", "versions": [
//!     { "version": "1.0.0", "digest": "sha256:…", "size": 1234, "name": "REST API",
//!       "description": "…", "kind": "api", "wit": "lathe:connector@0.1.0",
//!       "capabilities": ["https://{base_url}"], "publisher": "ed25519:…",
//!       "yanked": false, "publishedAt": "2026-01-01T00:00:00Z" } ] } } }
//! ```
//!
//! Versions are kept in ascending semver order. Unknown fields are ignored, so an older
//! reader keeps working when a newer registry adds some; a newer `formatVersion` is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::keys::PublicKey;

pub const FORMAT: &str = "lathe-registry";
pub const FORMAT_VERSION: u64 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "wire::Index", into = "wire::Index")]
pub struct Index {
    /// Versions of each package id, ascending.
    pub packages: BTreeMap<String, Vec<VersionEntry>>,
    /// The publisher token name that first published each package id; only it may publish
    /// more versions or yank them.
    pub owners: BTreeMap<String, String>,
}

/// One published version of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionEntry {
    pub version: String,
    /// The address of the `.lpkg`: `sha256:<hex>` of its bytes.
    pub digest: String,
    pub size: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub kind: String,
    pub wit: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The key whose valid signature the package carried when published; `None` unsigned.
    #[serde(default)]
    pub publisher: Option<PublicKey>,
    #[serde(default)]
    pub yanked: bool,
    /// RFC 3339, UTC.
    pub published_at: String,
}

impl VersionEntry {
    pub fn semver(&self) -> Option<semver::Version> {
        semver::Version::parse(&self.version).ok()
    }
}

/// A package matched by [`Index::search`], with all its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub id: String,
    pub owner: String,
    pub versions: Vec<VersionEntry>,
}

impl Index {
    pub fn from_json(bytes: &[u8]) -> Result<Index, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the index serialises");
        bytes.push(b'\n');
        bytes
    }

    /// `version` exactly (yanked or not: an installed version stays reachable), or with
    /// `None` the newest version not yanked, preferring releases over pre-releases.
    /// Versions compare by semver precedence, so build metadata is ignored.
    pub fn find(&self, id: &str, version: Option<&semver::Version>) -> Option<&VersionEntry> {
        let versions = self.packages.get(id)?;
        let parsed = versions.iter().filter_map(|e| Some((e.semver()?, e)));
        match version {
            Some(wanted) => parsed
                .filter(|(v, _)| v.cmp_precedence(wanted).is_eq())
                .map(|(_, e)| e)
                .next(),
            None => parsed
                .filter(|(_, e)| !e.yanked)
                .max_by(|(a, _), (b, _)| (a.pre.is_empty(), a).cmp(&(b.pre.is_empty(), b)))
                .map(|(_, e)| e),
        }
    }

    /// Packages whose id, name or description contains `query`, ignoring case; an empty
    /// query matches every package.
    pub fn search(&self, query: &str) -> Vec<SearchResult> {
        let query = query.trim().to_lowercase();
        self.packages
            .iter()
            .filter(|(id, versions)| {
                id.to_lowercase().contains(&query)
                    || versions.iter().any(|e| {
                        e.name.to_lowercase().contains(&query)
                            || e.description.to_lowercase().contains(&query)
                    })
            })
            .map(|(id, versions)| SearchResult {
                id: id.clone(),
                owner: self.owners.get(id).cloned().unwrap_or_default(),
                versions: versions.clone(),
            })
            .collect()
    }

    pub fn owner(&self, id: &str) -> Option<&str> {
        self.owners.get(id).map(String::as_str)
    }

    /// Adds a version, keeping the versions in order; the caller has checked it is new.
    pub(crate) fn insert(&mut self, id: &str, owner: &str, entry: VersionEntry) {
        self.owners
            .entry(id.to_owned())
            .or_insert_with(|| owner.to_owned());
        let versions = self.packages.entry(id.to_owned()).or_default();
        versions.push(entry);
        versions.sort_by(|a, b| match (a.semver(), b.semver()) {
            (Some(a), Some(b)) => a.cmp_precedence(&b),
            _ => a.version.cmp(&b.version),
        });
    }

    pub(crate) fn find_mut(
        &mut self,
        id: &str,
        version: &semver::Version,
    ) -> Option<&mut VersionEntry> {
        self.packages.get_mut(id)?.iter_mut().find(|e| {
            e.semver()
                .is_some_and(|v| v.cmp_precedence(version).is_eq())
        })
    }
}

/// The JSON form, which groups each package's owner with its versions.
mod wire {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Index {
        format: String,
        format_version: u64,
        #[serde(default)]
        packages: BTreeMap<String, Package>,
    }

    #[derive(Serialize, Deserialize)]
    struct Package {
        #[serde(default)]
        owner: String,
        #[serde(default)]
        versions: Vec<VersionEntry>,
    }

    impl TryFrom<Index> for super::Index {
        type Error = String;

        fn try_from(wire: Index) -> Result<Self, String> {
            if wire.format != FORMAT {
                return Err(format!(
                    "this is not a Lathe registry index (format `{}`)",
                    wire.format
                ));
            }
            if wire.format_version > FORMAT_VERSION {
                return Err(format!(
                    "the index is format version {}, newer than this Lathe reads \
                     ({FORMAT_VERSION}); upgrade Lathe",
                    wire.format_version
                ));
            }
            let mut index = super::Index::default();
            for (id, package) in wire.packages {
                index.owners.insert(id.clone(), package.owner);
                index.packages.insert(id, package.versions);
            }
            Ok(index)
        }
    }

    impl From<super::Index> for Index {
        fn from(index: super::Index) -> Index {
            let mut owners = index.owners;
            let packages = index
                .packages
                .into_iter()
                .map(|(id, versions)| {
                    let owner = owners.remove(&id).unwrap_or_default();
                    (id, Package { owner, versions })
                })
                .collect();
            Index {
                format: FORMAT.to_owned(),
                format_version: FORMAT_VERSION,
                packages,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str, yanked: bool) -> VersionEntry {
        VersionEntry {
            version: version.into(),
            digest: crate::package::digest(version.as_bytes()),
            size: 1,
            name: "Postgres".into(),
            description: "Query a PostgreSQL database".into(),
            kind: "database".into(),
            wit: "lathe:connector@0.1.0".into(),
            capabilities: vec!["tcp://{host}:{port}".into()],
            publisher: None,
            yanked,
            published_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn index() -> Index {
        let mut index = Index::default();
        for (version, yanked) in [
            ("1.10.0", false),
            ("1.2.0", false),
            ("2.0.0-rc.1", false),
            ("1.11.0", true),
        ] {
            index.insert("postgres", "alice", entry(version, yanked));
        }
        let rest = VersionEntry {
            name: "REST API".into(),
            description: "Call an HTTP JSON API".into(),
            ..entry("0.1.0", false)
        };
        index.insert("rest", "bob", rest);
        index
    }

    fn v(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    #[test]
    fn newest_is_the_highest_release_not_yanked() {
        let index = index();
        assert_eq!(index.find("postgres", None).unwrap().version, "1.10.0");
        assert_eq!(
            index.find("postgres", Some(&v("1.2.0"))).unwrap().version,
            "1.2.0"
        );
        assert!(index.find("postgres", Some(&v("1.3.0"))).is_none());
        assert!(index.find("mysql", None).is_none());
    }

    #[test]
    fn a_yanked_version_is_found_only_when_asked_for() {
        let index = index();
        let yanked = index.find("postgres", Some(&v("1.11.0"))).unwrap();
        assert!(yanked.yanked);
    }

    #[test]
    fn a_pre_release_is_newest_only_without_a_release() {
        let mut index = Index::default();
        index.insert("beta", "alice", entry("0.1.0-alpha.1", false));
        index.insert("beta", "alice", entry("0.1.0-alpha.2", false));
        assert_eq!(index.find("beta", None).unwrap().version, "0.1.0-alpha.2");
        index.insert("beta", "alice", entry("0.0.9", false));
        assert_eq!(index.find("beta", None).unwrap().version, "0.0.9");
    }

    #[test]
    fn versions_are_kept_in_semver_order() {
        let index = index();
        let versions: Vec<_> = index.packages["postgres"]
            .iter()
            .map(|e| e.version.as_str())
            .collect();
        assert_eq!(versions, ["1.2.0", "1.10.0", "1.11.0", "2.0.0-rc.1"]);
        assert_eq!(index.owner("postgres"), Some("alice"));
    }

    #[test]
    fn search_ignores_case_over_id_name_and_description() {
        let index = index();
        let ids = |q: &str| {
            index
                .search(q)
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("POST"), ["postgres"]);
        assert_eq!(ids("sql database"), ["postgres"]);
        assert_eq!(ids("json"), ["rest"]);
        assert_eq!(ids("res"), ["postgres", "rest"]);
        assert_eq!(ids(""), ["postgres", "rest"]);
        assert!(ids("nothing-like-it").is_empty());
        assert_eq!(index.search("rest")[0].owner, "bob");
    }

    #[test]
    fn the_json_form_has_the_header_and_round_trips() {
        let index = index();
        let json: serde_json::Value = serde_json::from_slice(&index.to_json()).unwrap();
        assert_eq!(json["format"], "lathe-registry");
        assert_eq!(json["formatVersion"], 1);
        assert_eq!(json["packages"]["rest"]["owner"], "bob");
        assert_eq!(
            json["packages"]["rest"]["versions"][0]["publishedAt"],
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(Index::from_json(&index.to_json()).unwrap(), index);
    }

    #[test]
    fn foreign_or_newer_indexes_are_refused_and_unknown_fields_ignored() {
        let error = Index::from_json(br#"{"format":"npm","formatVersion":1}"#).unwrap_err();
        assert!(
            error.to_string().contains("not a Lathe registry index"),
            "{error}"
        );
        let error =
            Index::from_json(br#"{"format":"lathe-registry","formatVersion":2}"#).unwrap_err();
        assert!(error.to_string().contains("upgrade Lathe"), "{error}");
        let index = Index::from_json(
            br#"{"format":"lathe-registry","formatVersion":1,"mirror":"x","packages":{}}"#,
        )
        .unwrap();
        assert!(index.packages.is_empty());
    }
}
