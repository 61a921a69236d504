//! The few manifest fields a registry needs, read leniently: the full manifest is the
//! runtime's to check at install (`lathe_runtime::manifest`), and a registry that refused
//! fields it does not know would refuse every manifest newer than itself.

use serde_json::{Map, Value};

use super::PackageError;

/// What the index and the signature statement say about a package, from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: String,
    pub version: semver::Version,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub wit: String,
    pub capabilities: Vec<String>,
}

impl Head {
    pub(super) fn parse(manifest: &[u8]) -> Result<Head, PackageError> {
        let bad = |m: String| PackageError::Manifest(m);
        let value: Value =
            serde_json::from_slice(manifest).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(bad("it must be a JSON object".into()));
        };

        let id = required(&object, "id")?;
        check_id(&id).map_err(bad)?;
        let version_text = required(&object, "version")?;
        let version = semver::Version::parse(&version_text).map_err(|e| {
            bad(format!(
                "version `{}` is not a semantic version (like 1.2.3): {e}",
                version_text.escape_debug()
            ))
        })?;
        let name = required(&object, "name")?;
        let wit = required(&object, "wit")?;
        let description = optional(&object, "description")?.unwrap_or_default();
        let kind = optional(&object, "kind")?.unwrap_or_default();
        let capabilities = match object.get("capabilities") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("`capabilities` must be a list of strings".into()))?,
            Some(_) => return Err(bad("`capabilities` must be a list of strings".into())),
        };

        Ok(Head {
            id,
            version,
            name,
            description,
            kind,
            wit,
            capabilities,
        })
    }

    /// `id@version`, the way errors and logs name a package.
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

/// A package id: 1-64 characters of `a-z`, `0-9` and `-`, not starting with `-`. It names
/// files and URL segments on hosts, so nothing that could be a path or an option passes.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "id `{}` is not allowed: an id is 1-64 characters of a-z, 0-9 and '-', \
             not starting with '-'",
            id.escape_debug()
        ))
    }
}

fn required(object: &Map<String, Value>, field: &str) -> Result<String, PackageError> {
    optional(object, field)?
        .filter(|value| !value.is_empty())
        .ok_or_else(|| PackageError::Manifest(format!("`{field}` is missing or empty")))
}

fn optional(object: &Map<String, Value>, field: &str) -> Result<Option<String>, PackageError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(PackageError::Manifest(format!(
            "`{field}` must be a string"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Head, String> {
        Head::parse(value.to_string().as_bytes()).map_err(|e| e.to_string())
    }

    fn manifest() -> Value {
        json!({"id": "rest", "version": "1.2.3-beta.1", "name": "REST", "kind": "api",
               "wit": "lathe:connector@0.1.0", "capabilities": ["https://{base_url}"],
               "config": {}, "operations": {}, "future-field": true})
    }

    #[test]
    fn the_head_is_read_and_other_fields_ignored() {
        let head = parse(manifest()).unwrap();
        assert_eq!(head.id, "rest");
        assert_eq!(
            head.version,
            semver::Version::parse("1.2.3-beta.1").unwrap()
        );
        assert_eq!(head.capabilities, ["https://{base_url}"]);
        assert_eq!(head.description, "");
        assert_eq!(head.label(), "rest@1.2.3-beta.1");
    }

    #[test]
    fn ids_that_could_be_paths_or_options_are_refused() {
        for id in [
            "../x",
            "a/b",
            "/abs",
            "Upper",
            "-flag",
            "a.b",
            "a b",
            &"a".repeat(65),
        ] {
            let mut value = manifest();
            value["id"] = json!(id);
            let error = parse(value).unwrap_err();
            assert!(error.contains("is not allowed"), "{id}: {error}");
        }
        assert!(check_id("").is_err());
        for id in ["a", "my-connector-2", &"a".repeat(64)] {
            check_id(id).unwrap();
        }
    }

    #[test]
    fn missing_or_mistyped_fields_are_named() {
        let cases = [
            ("version", json!("1.0"), "not a semantic version"),
            ("version", json!(null), "`version` is missing"),
            ("name", json!(""), "`name` is missing"),
            ("wit", json!(null), "`wit` is missing"),
            ("kind", json!(3), "`kind` must be a string"),
            (
                "capabilities",
                json!("tcp://{host}:{port}"),
                "list of strings",
            ),
            ("capabilities", json!([1]), "list of strings"),
        ];
        for (field, value, expected) in cases {
            let mut manifest = manifest();
            manifest[field] = value;
            let error = parse(manifest).unwrap_err();
            assert!(error.contains(expected), "{field}: {error}");
        }
        assert!(parse(json!([])).unwrap_err().contains("JSON object"));
        assert!(
            Head::parse(b"{")
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
    }
}
