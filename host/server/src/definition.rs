//! The app definition: a JSON document checked against the published schema
//! (`schemas/app-definition.schema.json`, served at `/api/v1/schemas/app-definition`) and
//! then against the rules a schema can't state: unique ids and names, references between
//! parts, grid bounds, and query input schemas that compile. Size, depth and NUL characters
//! are checked first, so neither the validator nor the store ever sees an unbounded or
//! unstorable document.

use std::collections::{BTreeSet, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The schema as published.
pub const SCHEMA_TEXT: &str = include_str!("../schemas/app-definition.schema.json");

/// The largest definition accepted, as compact JSON.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

/// The deepest nesting of arrays and objects accepted. A component inside a container adds
/// two levels; the deepest sensible app (containers six deep with nested props) stays far
/// below it.
pub const MAX_DEPTH: usize = 64;

/// The width of the layout grid, in columns.
pub const GRID_COLUMNS: i64 = 24;

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA_TEXT).expect("the app schema is JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .expect("the app schema compiles")
});

/// Why a definition was refused: where (a JSON pointer into the definition) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub pointer: String,
    pub message: String,
}

impl Invalid {
    fn at(pointer: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// The message for a problem document, with the pointer made relative to the request
    /// body: `prefix` is where the definition sits in it (e.g. `/definition`).
    pub fn describe(&self, prefix: &str) -> String {
        format!("at {prefix}{}: {}", self.pointer, self.message)
    }
}

/// A new app's definition: one empty page.
pub fn empty() -> Value {
    json!({ "pages": [{ "id": "page1", "name": "Page 1", "components": [] }], "variables": {}, "queries": [] })
}

/// Checks a definition; `Ok` means it may be stored.
pub fn validate(definition: &Value) -> Result<(), Invalid> {
    let size = serde_json::to_vec(definition).map_or(usize::MAX, |v| v.len());
    if size > MAX_BYTES {
        return Err(Invalid::at(
            "",
            format!("the definition is {size} bytes; the limit is {MAX_BYTES}"),
        ));
    }
    check_shape(definition, &mut String::new(), 1)?;

    if let Some(error) = VALIDATOR.iter_errors(definition).next() {
        return Err(Invalid::at(
            error.instance_path().to_string(),
            shorten(&error.to_string()),
        ));
    }

    // The schema has passed, so the typed view can't fail; a failure would be a schema bug,
    // still reported as a 422 rather than a panic.
    let parsed: Definition = serde_json::from_value(definition.clone())
        .map_err(|e| Invalid::at("", format!("unexpected shape: {e}")))?;
    check_rules(&parsed)
}

/// Refuses NUL characters anywhere (PostgreSQL can't store them in text) and nesting
/// deeper than [`MAX_DEPTH`], before anything recursive walks the document.
fn check_shape(value: &Value, pointer: &mut String, depth: usize) -> Result<(), Invalid> {
    if depth > MAX_DEPTH {
        return Err(Invalid::at(
            pointer.clone(),
            format!("nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let nul = |pointer: &str| Invalid::at(pointer, "text must not contain NUL characters");
    match value {
        Value::String(s) if s.contains('\0') => Err(nul(pointer)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                check_shape(item, pointer, depth + 1)?;
                pointer.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape_pointer(key));
                if key.contains('\0') {
                    return Err(nul(pointer));
                }
                check_shape(item, pointer, depth + 1)?;
                pointer.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A JSON pointer reference token (RFC 6901): `~` and `/` escaped.
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Validator messages quote the offending value, which may be long: keep them readable.
fn shorten(message: &str) -> String {
    const MAX: usize = 300;
    if message.chars().count() <= MAX {
        return message.to_string();
    }
    let cut: String = message.chars().take(MAX).collect();
    format!("{cut}…")
}

/// The typed view of a valid definition: only what the server's own checks and the query
/// pipeline read. Everything else (props, layout details) stays as the client wrote it.
#[derive(Debug, Deserialize)]
struct Definition {
    pages: Vec<Page>,
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    queries: Vec<Query>,
}

#[derive(Debug, Deserialize)]
struct Page {
    id: String,
    components: Vec<Component>,
}

#[derive(Debug, Deserialize)]
struct Component {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    layout: Layout,
    #[serde(default)]
    events: Vec<Value>,
    #[serde(default)]
    children: Vec<Component>,
}

#[derive(Debug, Deserialize)]
struct Layout {
    x: i64,
    w: i64,
}

/// One stored query of an app version, as the query pipeline needs it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    pub name: String,
    /// The datasource's name in the workspace.
    pub datasource: String,
    pub operation: String,
    /// The operation's template, `{{ }}` unresolved.
    pub query: Value,
    /// The JSON Schema of the inputs; `{"type":"object"}` when the definition has none.
    #[serde(default = "object_schema")]
    pub inputs: Value,
    #[serde(default)]
    pub run_on_load: bool,
    /// onSuccess / onFailure handlers; the client runs them, the server checks what they
    /// refer to.
    #[serde(default)]
    pub events: Vec<Value>,
}

fn object_schema() -> Value {
    json!({ "type": "object" })
}

impl Query {
    /// The input properties whose values must be kept out of audit records and logs: those
    /// marked `"secret": true` or `"writeOnly": true` in the inputs schema.
    pub fn secret_inputs(&self) -> BTreeSet<String> {
        let Some(properties) = self.inputs.get("properties").and_then(Value::as_object) else {
            return BTreeSet::new();
        };
        properties
            .iter()
            .filter(|(_, schema)| {
                ["secret", "writeOnly"]
                    .iter()
                    .any(|flag| schema.get(*flag) == Some(&Value::Bool(true)))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Compiles the inputs schema for validating a run's inputs. The schema was checked
    /// when the definition was stored, so an error here means the stored text was changed
    /// behind the server's back.
    pub fn inputs_validator(&self) -> Result<jsonschema::Validator, String> {
        compile_inputs(&self.inputs)
    }
}

/// The query named `name` in a stored definition, if it has one.
pub fn find_query(definition: &Value, name: &str) -> Option<Query> {
    definition
        .get("queries")?
        .as_array()?
        .iter()
        .find(|q| q.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|q| serde_json::from_value(q.clone()).ok())
}

/// The datasource names a definition's queries refer to, sorted and without repeats.
pub fn datasource_names(definition: &Value) -> Vec<String> {
    let names: BTreeSet<String> = definition
        .get("queries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|q| q.get("datasource").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    names.into_iter().collect()
}

/// Points every query at the datasource `map` gives for its current one; names not in the
/// map are kept.
pub fn rename_datasources(
    definition: &mut Value,
    map: &std::collections::BTreeMap<String, String>,
) {
    let Some(queries) = definition.get_mut("queries").and_then(Value::as_array_mut) else {
        return;
    };
    for query in queries {
        let Some(slot) = query.get_mut("datasource") else {
            continue;
        };
        if let Some(new) = slot.as_str().and_then(|old| map.get(old)) {
            *slot = Value::String(new.clone());
        }
    }
}

/// Compiles a query's inputs schema as 2020-12, offline (a remote `$ref` fails instead of
/// being fetched), with the linear-time regex engine so that no `pattern` can backtrack
/// for ever against a crafted input.
fn compile_inputs(schema: &Value) -> Result<jsonschema::Validator, String> {
    if let Some(declared) = schema.get("$schema")
        && declared != "https://json-schema.org/draft/2020-12/schema"
    {
        return Err("`$schema` must be https://json-schema.org/draft/2020-12/schema".into());
    }
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err("an inputs schema must have \"type\": \"object\"".into());
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_pattern_options(jsonschema::PatternOptions::regex().size_limit(1 << 20))
        .build(schema)
        .map_err(|e| shorten(&format!("not a valid JSON Schema: {e}")))
}

/// The checks after the schema: uniqueness, references, grid bounds, inputs schemas.
fn check_rules(def: &Definition) -> Result<(), Invalid> {
    let mut page_ids = HashSet::new();
    for (i, page) in def.pages.iter().enumerate() {
        if !page_ids.insert(page.id.as_str()) {
            return Err(Invalid::at(
                format!("/pages/{i}/id"),
                format!("page id `{}` is used twice", page.id),
            ));
        }
    }

    let mut query_names = HashSet::new();
    for (i, query) in def.queries.iter().enumerate() {
        if !query_names.insert(query.name.as_str()) {
            return Err(Invalid::at(
                format!("/queries/{i}/name"),
                format!("query name `{}` is used twice", query.name),
            ));
        }
        compile_inputs(&query.inputs)
            .map_err(|m| Invalid::at(format!("/queries/{i}/inputs"), m))?;
    }

    // Component ids are unique across the whole app, so `components.<id>` names one thing.
    let mut components = Vec::new();
    for (i, page) in def.pages.iter().enumerate() {
        collect(
            &page.components,
            &format!("/pages/{i}/components"),
            &mut components,
        );
    }
    let mut component_ids = HashSet::new();
    let mut modals = HashSet::new();
    for (pointer, c) in &components {
        if !component_ids.insert(c.id.as_str()) {
            return Err(Invalid::at(
                format!("{pointer}/id"),
                format!("component id `{}` is used twice", c.id),
            ));
        }
        if c.kind == "modal" {
            modals.insert(c.id.as_str());
        }
        if c.layout.x + c.layout.w > GRID_COLUMNS {
            return Err(Invalid::at(
                format!("{pointer}/layout"),
                format!(
                    "x + w is {}; the grid is {GRID_COLUMNS} columns wide",
                    c.layout.x + c.layout.w
                ),
            ));
        }
    }

    let names = Names {
        pages: &page_ids,
        queries: &query_names,
        components: &component_ids,
        modals: &modals,
        variables: &def.variables,
    };
    for (pointer, c) in &components {
        for (j, handler) in c.events.iter().enumerate() {
            names.check_handler(handler, &format!("{pointer}/events/{j}"))?;
        }
    }
    for (i, query) in def.queries.iter().enumerate() {
        for (j, handler) in query.events.iter().enumerate() {
            names.check_handler(handler, &format!("/queries/{i}/events/{j}"))?;
        }
    }
    Ok(())
}

/// Every component of a tree with its pointer, parents before children.
fn collect<'a>(list: &'a [Component], pointer: &str, out: &mut Vec<(String, &'a Component)>) {
    for (i, c) in list.iter().enumerate() {
        let here = format!("{pointer}/{i}");
        out.push((here.clone(), c));
        collect(&c.children, &format!("{here}/children"), out);
    }
}

/// What an event handler may refer to.
struct Names<'a> {
    pages: &'a HashSet<&'a str>,
    queries: &'a HashSet<&'a str>,
    components: &'a HashSet<&'a str>,
    modals: &'a HashSet<&'a str>,
    variables: &'a Map<String, Value>,
}

impl Names<'_> {
    fn check_handler(&self, handler: &Value, pointer: &str) -> Result<(), Invalid> {
        let field = |name: &str| handler.get(name).and_then(Value::as_str).unwrap_or("");
        let (key, target, known, what) = match field("action") {
            "runQuery" => (
                "query",
                field("query"),
                self.queries.contains(field("query")),
                "query",
            ),
            "navigate" => (
                "page",
                field("page"),
                self.pages.contains(field("page")),
                "page",
            ),
            "openModal" | "closeModal" => (
                "modal",
                field("modal"),
                self.modals.contains(field("modal")),
                "modal component",
            ),
            "setComponentValue" => (
                "component",
                field("component"),
                self.components.contains(field("component")),
                "component",
            ),
            "setVariable" => (
                "variable",
                field("variable"),
                self.variables.contains_key(field("variable")),
                "variable",
            ),
            _ => return Ok(()),
        };
        if known {
            return Ok(());
        }
        Err(Invalid::at(
            format!("{pointer}/{key}"),
            format!("there is no {what} `{target}` in this app"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(components: Value, queries: Value) -> Value {
        json!({
            "pages": [{ "id": "main", "name": "Main", "components": components }],
            "variables": { "selected": null },
            "queries": queries,
        })
    }

    fn button(id: &str) -> Value {
        json!({ "id": id, "type": "button", "layout": { "x": 0, "y": 0, "w": 4, "h": 1 } })
    }

    fn query(name: &str) -> Value {
        json!({ "name": name, "datasource": "db", "operation": "sql", "query": { "sql": "select 1" } })
    }

    fn pointer_of(definition: &Value) -> String {
        validate(definition).unwrap_err().pointer
    }

    #[test]
    fn the_empty_app_and_the_example_are_valid() {
        validate(&empty()).unwrap();
        let example: Value =
            serde_json::from_str(include_str!("../../../examples/apps/customers.json")).unwrap();
        validate(&example).unwrap();
    }

    #[test]
    fn schema_errors_name_the_field() {
        let mut bad = button("b");
        bad["type"] = json!("slider");
        assert_eq!(
            pointer_of(&app(json!([bad]), json!([]))),
            "/pages/0/components/0/type"
        );
        let mut text = button("t");
        text["type"] = json!("text");
        text["children"] = json!([]);
        assert_eq!(
            pointer_of(&app(json!([text]), json!([]))),
            "/pages/0/components/0/children"
        );
        let mut extra = empty();
        extra["extra"] = json!(1);
        assert_eq!(pointer_of(&extra), "");
    }

    #[test]
    fn names_and_ids_are_unique() {
        let twice = app(json!([]), json!([query("q"), query("q")]));
        assert_eq!(pointer_of(&twice), "/queries/1/name");
        let mut form = button("f");
        form["type"] = json!("form");
        form["children"] = json!([button("b")]);
        let nested = app(json!([button("b"), form]), json!([]));
        assert_eq!(pointer_of(&nested), "/pages/0/components/1/children/0/id");
    }

    #[test]
    fn handlers_refer_to_things_that_exist() {
        let mut b = button("b");
        b["events"] = json!([{ "event": "onClick", "action": "runQuery", "query": "missing" }]);
        let err = validate(&app(json!([b.clone()]), json!([query("q")]))).unwrap_err();
        assert_eq!(err.pointer, "/pages/0/components/0/events/0/query");
        b["events"][0]["query"] = json!("q");
        validate(&app(json!([b.clone()]), json!([query("q")]))).unwrap();
        b["events"] = json!([{ "event": "onClick", "action": "openModal", "modal": "b" }]);
        assert!(
            validate(&app(json!([b]), json!([]))).is_err(),
            "a button is no modal"
        );
        // A query's success and failure handlers are checked the same way.
        let mut q = query("q");
        q["events"] = json!([{ "event": "onSuccess", "action": "runQuery", "query": "q" }]);
        validate(&app(json!([]), json!([q.clone()]))).unwrap();
        q["events"][0]["query"] = json!("missing");
        let err = validate(&app(json!([]), json!([q]))).unwrap_err();
        assert_eq!(err.pointer, "/queries/0/events/0/query");
    }

    #[test]
    fn layout_stays_on_the_grid() {
        let mut b = button("b");
        b["layout"]["x"] = json!(20);
        b["layout"]["w"] = json!(8);
        assert_eq!(
            pointer_of(&app(json!([b]), json!([]))),
            "/pages/0/components/0/layout"
        );
    }

    #[test]
    fn inputs_schemas_must_compile_offline_and_describe_an_object() {
        for inputs in [
            json!({ "type": "string" }),
            json!({ "type": "object", "properties": { "a": { "type": "nope" } } }),
            json!({ "type": "object", "$ref": "https://example.com/schema.json" }),
            json!({ "type": "object", "properties": { "a": { "pattern": "(" } } }),
            json!({ "$schema": "http://json-schema.org/draft-04/schema#", "type": "object" }),
        ] {
            let mut q = query("q");
            q["inputs"] = inputs.clone();
            let err = validate(&app(json!([]), json!([q]))).unwrap_err();
            assert_eq!(err.pointer, "/queries/0/inputs", "{inputs}: {err:?}");
        }
    }

    #[test]
    fn nul_depth_and_size_are_bounded() {
        let mut b = button("b");
        b["props"] = json!({ "label": "a\u{0}b" });
        assert_eq!(
            pointer_of(&app(json!([b]), json!([]))),
            "/pages/0/components/0/props/label"
        );

        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH {
            deep = json!([deep]);
        }
        let mut b = button("b");
        b["props"] = json!({ "deep": deep });
        assert!(
            validate(&app(json!([b]), json!([])))
                .unwrap_err()
                .message
                .contains("deeper")
        );

        let mut b = button("b");
        b["props"] = json!({ "big": "x".repeat(MAX_BYTES) });
        assert!(
            validate(&app(json!([b]), json!([])))
                .unwrap_err()
                .message
                .contains("limit")
        );
    }

    #[test]
    fn queries_are_found_with_their_secret_inputs() {
        let mut q = query("login");
        q["inputs"] = json!({ "type": "object", "properties": {
            "user": { "type": "string" },
            "password": { "type": "string", "writeOnly": true },
            "pin": { "type": "string", "secret": true },
        }});
        let def = app(json!([]), json!([q]));
        let found = find_query(&def, "login").unwrap();
        assert_eq!(
            found.secret_inputs(),
            BTreeSet::from(["password".into(), "pin".into()])
        );
        assert!(!found.run_on_load);
        assert!(find_query(&def, "other").is_none());
        assert_eq!(datasource_names(&def), ["db"]);
    }
}
