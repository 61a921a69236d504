//! The query pipeline: a stored (or, for the builder's preview, ad-hoc) query, its inputs and
//! the server's own values become one connector run with bound parameters.
//!
//! `{{ expr }}` roots and where their values come from:
//! - `inputs.*`: the run's `inputs` object, checked against the query's inputs schema.
//! - `components.*`, `queries.*`, `variables.*`, `page.*`, `url.*`: browser state, evaluated by
//!   the client and sent inside `inputs` under the same names (`inputs.components.…`), so the
//!   schema checks them too.
//! - `user.*` (id, email), `constants.*`, `secrets.*`: filled here from the session and the
//!   workspace (`user.*` is null in an anonymous run of a public app). A client can't supply
//!   them: `inputs` keys with these names are refused.
//!
//! Every value reaches the connector as a typed parameter ([`lathe_runtime::params::bind`]);
//! no text is ever spliced into the query. A secret bound into a query is also scrubbed from
//! the result, so `select {{ secrets.key }}` shows a mask, not the key.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use lathe_runtime::error::{MIN_SECRET_LEN, encoded_forms};
use lathe_runtime::instance::RunRequest;
use lathe_runtime::output::ColumnOut;
use lathe_runtime::plugin::Plugin;
use lathe_runtime::{QueryOutput, RuntimeError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::api::open_secrets;
use crate::auth::Actor;
use crate::cache::InputsSchema;
use crate::connectors::OpenPool;
use crate::error::{Error, Result};
use crate::state::SharedState;
use crate::store::{AuditEvent, AuditQueue, DatasourceRow, Role, SealedKind};
use crate::telemetry::Escaped;
use crate::vault::{Row, Sealed};

/// Roots the browser evaluates and sends inside `inputs`.
pub const BROWSER_ROOTS: &[&str] = &["components", "queries", "variables", "page", "url"];
/// Roots only the server fills.
pub const SERVER_ROOTS: &[&str] = &["user", "constants", "secrets", "env"];
/// Every root a query's expression may start with.
const TEMPLATE_ROOTS: &[&str] = &[
    "inputs",
    "components",
    "queries",
    "variables",
    "page",
    "url",
    "user",
    "constants",
    "secrets",
];

/// What replaces a secret's value wherever it shows up in a result.
const MASK: &str = "••••••";

/// An ad-hoc run of a query on a datasource (the builder's preview).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// One of the plugin's operations (e.g. `sql`).
    pub operation: String,
    /// The query object for that operation; `{{ }}` templates in it are bound as parameters.
    #[schema(value_type = Object)]
    pub query: Value,
    /// Values for `{{ inputs.* }}` and the browser-state roots.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: Option<Value>,
}

/// A query's result.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunResponse {
    /// `[{"name", "type"}]`, with the source's own type name as `sourceType`.
    #[schema(value_type = Vec<Object>)]
    pub columns: Vec<ColumnOut>,
    /// One array per row, a JSON value per column (in `columns` order).
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub rows: Vec<Vec<Value>>,
    pub row_count: usize,
    /// Set when the result was cut at the datasource's row limit or the byte limit.
    pub truncated: bool,
    pub duration_ms: u64,
    /// What the connector reports besides rows (HTTP status and headers, affected rows).
    #[schema(value_type = Object)]
    pub metadata: Value,
}

/// The app query a run belongs to, for the audit record.
pub struct AppRef<'a> {
    pub app_id: &'a str,
    pub query: &'a str,
    /// `None` for the draft.
    pub version: Option<i64>,
}

pub struct Run<'a> {
    pub workspace_id: &'a str,
    pub datasource: &'a DatasourceRow,
    pub operation: &'a str,
    pub query: &'a Value,
    pub inputs: Option<Value>,
    /// The query's inputs schema; `None` for a preview.
    pub inputs_schema: Option<&'a InputsSchema>,
    pub app: Option<AppRef<'a>>,
    /// The caller's role in the workspace.
    pub role: Role,
    /// Where a stored query keeps its expressions once found; `None` for a preview.
    pub expressions: Option<&'a Expressions>,
}

/// A stored query's expressions, found at its first run and kept with it: finding them lexes
/// the whole query, which every run of a released query would otherwise do again. They are
/// kept with the plugin they were found for, since its manifest says which fields are SQL (a
/// template inside an SQL comment is no expression); under another plugin (the datasource's
/// plugin was updated or replaced) a run finds them afresh.
#[derive(Default)]
pub struct Expressions(OnceLock<Found>);

struct Found {
    /// Only compared: a `Weak` keeps the plugin's allocation, so no other plugin can take
    /// its address while this is kept.
    plugin: Weak<Plugin>,
    names: std::result::Result<Vec<String>, String>,
}

impl Expressions {
    fn names(&self, plugin: Option<&Arc<Plugin>>, run: &Run<'_>) -> Result<Vec<String>> {
        let kept = self.0.get().filter(|found| {
            plugin.is_some_and(|plugin| std::ptr::eq(found.plugin.as_ptr(), Arc::as_ptr(plugin)))
        });
        let names = match kept {
            Some(found) => found.names.clone(),
            None => {
                let names = find_expressions(plugin, run);
                if let Some(plugin) = plugin {
                    // A run racing this one may have kept the same names first.
                    let _ = self.0.set(Found {
                        plugin: Arc::downgrade(plugin),
                        names: names.clone(),
                    });
                }
                names
            }
        };
        names.map_err(Error::Validation)
    }
}

/// The expressions in `run`'s query, or why its template is wrong.
fn find_expressions(
    plugin: Option<&Arc<Plugin>>,
    run: &Run<'_>,
) -> std::result::Result<Vec<String>, String> {
    let sql_fields = plugin
        .map(|plugin| plugin.manifest.sql_fields(run.operation))
        .unwrap_or_default();
    lathe_plugin_sdk::template::expressions_in_query(run.query, &sql_fields)
        .map_err(|e| format!("in the query template: {e}"))
}

/// The datasource's pool, opened with its stored configuration when none is open with it.
pub async fn pool(state: &SharedState, datasource: &DatasourceRow) -> Result<OpenPool> {
    if let Some(reason) = &datasource.disabled {
        return Err(Error::Conflict(format!(
            "datasource `{}` is disabled ({reason}); someone who may configure it can enable it \
             again with PATCH {{\"enabled\": true}} once its plugin is installed",
            datasource.name
        )));
    }
    if let Some(open) = state.connectors.cached_pool(datasource) {
        return Ok(open);
    }
    let plugin = state
        .connectors
        .plugin(&datasource.plugin_id)
        .ok_or_else(|| {
            Error::Validation(format!(
                "datasource `{}` uses plugin `{}`, which is not installed",
                datasource.name, datasource.plugin_id
            ))
        })?;
    let mut config: Map<String, Value> =
        serde_json::from_str(&datasource.config).unwrap_or_default();
    let secrets = open_secrets(state, datasource).await?;
    let secret_values = secret_strings(&secrets);
    config.extend(secrets);
    Ok(state
        .connectors
        .open_pool(plugin, datasource, Value::Object(config), secret_values))
}

/// Runs one query and writes its audit record, whatever the outcome. `actor` is `None` for
/// an anonymous run of a public app: `{{ user.* }}` is then null, and the record says so.
pub async fn run(
    state: &SharedState,
    actor: Option<&Actor>,
    addr: IpAddr,
    run: Run<'_>,
) -> Result<RunResponse> {
    // Refused before anything reaches the datasource if the record can't be kept.
    state.run_audit.ready()?;
    let started = Instant::now();
    // The query's expressions, found once for the run and its record; a template error is
    // reported where the run checks the template.
    let plugin = state.connectors.plugin(&run.datasource.plugin_id);
    let names = match run.expressions {
        Some(kept) => kept.names(plugin.as_ref(), &run),
        None => find_expressions(plugin.as_ref(), &run).map_err(Error::Validation),
    };
    let record = RunRecord {
        queue: state.run_audit.clone(),
        started,
        pending: Some(audit_event(
            actor,
            addr,
            &run,
            names.as_deref().unwrap_or_default(),
        )),
    };
    let outcome = execute(state, actor, &run, names).await;
    if let Err(e) = &outcome {
        note_refusal(e, run.workspace_id, &run.datasource.id);
    }
    let duration_ms = elapsed_ms(record.started);
    let event = record.complete(&outcome, duration_ms);
    state.run_audit.append(event).await?;

    let output = outcome?;
    Ok(RunResponse {
        columns: output.columns,
        rows: output.rows,
        row_count: output.row_count,
        truncated: output.truncated,
        duration_ms,
        metadata: output.metadata,
    })
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A run's audit record, made before the run starts and written whatever becomes of it. When
/// the request is dropped before the run is done (the client went away, or the request's
/// time limit passed), the record is still written, with the outcome `cancelled`: by then
/// the query may well have reached the datasource and changed it.
struct RunRecord {
    queue: AuditQueue,
    started: Instant,
    pending: Option<(AuditEvent, RunDetail)>,
}

/// A run record's `detail`, typed: it is serialised once, straight into the record.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunDetail {
    datasource: String,
    datasource_id: String,
    operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<String>,
    /// The app query's name; for an ad-hoc query, the query as written (templates, never
    /// the values bound to them).
    query: Value,
    /// The released version's number, or `"draft"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<Value>,
    inputs: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets_used: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    anonymous: bool,
    duration_ms: u64,
    outcome: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    row_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<bool>,
}

impl RunRecord {
    /// The record with the run's outcome, for the caller to append and wait for.
    fn complete(mut self, outcome: &Result<QueryOutput>, duration_ms: u64) -> AuditEvent {
        let (event, mut detail) = self.pending.take().expect("a record is completed once");
        detail.duration_ms = duration_ms;
        match outcome {
            Ok(output) => {
                detail.outcome = "ok".into();
                detail.row_count = Some(output.row_count);
                detail.truncated = Some(output.truncated);
            }
            Err(e) => detail.outcome = e.problem().kind.into(),
        }
        with_detail(event, &detail)
    }
}

impl Drop for RunRecord {
    fn drop(&mut self) {
        let Some((event, mut detail)) = self.pending.take() else {
            return;
        };
        detail.duration_ms = elapsed_ms(self.started);
        detail.outcome = "cancelled".into();
        // Nobody waits for this commit; a failure is logged by the writer.
        if let Err(e) = self.queue.enqueue(with_detail(event, &detail)) {
            tracing::error!(
                event = "audit.record_lost",
                error = %e,
                "the audit record of a cancelled run could not be queued"
            );
        }
    }
}

fn with_detail(event: AuditEvent, detail: &RunDetail) -> AuditEvent {
    AuditEvent {
        // Strings and JSON values always serialise; `ok()` only spares an unreachable panic.
        encoded_detail: serde_json::value::to_raw_value(detail).ok(),
        ..event
    }
}

/// A run's audit record before its outcome is known: who, what, the inputs it was given and
/// the secrets its query binds (among its expressions, `names`).
fn audit_event(
    actor: Option<&Actor>,
    addr: IpAddr,
    run: &Run<'_>,
    names: &[String],
) -> (AuditEvent, RunDetail) {
    let secrets_used = names
        .iter()
        .filter(|n| n.starts_with("secrets."))
        .cloned()
        .collect();
    let detail = RunDetail {
        datasource: run.datasource.name.clone(),
        datasource_id: run.datasource.id.clone(),
        operation: run.operation.to_string(),
        app: run.app.as_ref().map(|app| app.app_id.to_string()),
        query: match &run.app {
            Some(app) => json!(app.query),
            // An ad-hoc query is recorded as written: templates, never the values bound to
            // them.
            None => run.query.clone(),
        },
        version: run
            .app
            .as_ref()
            .map(|app| app.version.map_or(json!("draft"), |v| json!(v))),
        inputs: audit_inputs(run.inputs.as_ref(), run.inputs_schema.map(|s| &s.schema)),
        secrets_used,
        anonymous: actor.is_none(),
        duration_ms: 0,
        outcome: "cancelled".into(),
        row_count: None,
        truncated: None,
    };
    let (action, target) = match &run.app {
        Some(app) => ("query.run", format!("{}/{}", app.app_id, app.query)),
        None => ("query.preview", run.datasource.id.clone()),
    };
    let who = match actor {
        Some(actor) => actor.audit(addr, action),
        None => AuditEvent {
            action,
            address: Some(addr.to_string()),
            via: Some("anonymous".into()),
            ..Default::default()
        },
    };
    let event = AuditEvent {
        workspace_id: Some(run.workspace_id.to_string()),
        target: Some(target),
        ..who
    };
    (event, detail)
}

async fn execute(
    state: &SharedState,
    actor: Option<&Actor>,
    run: &Run<'_>,
    names: Result<Vec<String>>,
) -> Result<QueryOutput> {
    let no_inputs = Value::Object(Map::new());
    let inputs = match &run.inputs {
        None | Some(Value::Null) => &no_inputs,
        Some(value @ Value::Object(_)) => value,
        Some(_) => return Err(Error::Validation("`inputs` must be a JSON object".into())),
    };
    if let Some(root) = SERVER_ROOTS.iter().find(|r| inputs.get(**r).is_some()) {
        return Err(Error::Validation(format!(
            "`inputs.{root}` can't be sent: `{{{{ {root}.* }}}}` is filled by the server"
        )));
    }
    if let Some(schema) = run.inputs_schema {
        schema.check(inputs)?;
    }

    let names = names?;
    let roots = template_roots(&names);
    let released = run.app.as_ref().is_some_and(|a| a.version.is_some());
    if roots.contains("secrets") && !released && run.role != Role::Admin {
        return Err(Error::Forbidden(
            "only workspace admins may run an unreleased query that uses `{{ secrets.* }}`: \
             a query can transform a secret into readable text, so secrets reach builders \
             only through released apps"
                .into(),
        ));
    }
    let user = roots.contains("user").then(|| match actor {
        Some(actor) => json!({ "id": actor.user.id, "email": actor.user.email }),
        None => json!({ "id": null, "email": null }),
    });
    let mut bound_secrets = Vec::new();
    let (mut constants, mut secrets) = (None, None);
    if roots.contains("constants") || roots.contains("secrets") {
        let (named, opened) = workspace_values(state, run.workspace_id, &roots).await?;
        bound_secrets = secret_strings(&opened);
        constants = Some(Value::Object(named));
        secrets = Some(Value::Object(opened));
    }
    // Each root where it already is: the browser's state is what the client sent under its
    // name in `inputs` (an empty object when it sent none), the rest the server's.
    let root = |name: &str| match name {
        "inputs" => Some(inputs),
        "user" => user.as_ref(),
        "constants" => constants.as_ref(),
        "secrets" => secrets.as_ref(),
        browser if BROWSER_ROOTS.contains(&browser) => inputs.get(browser).or(Some(&no_inputs)),
        _ => None,
    };
    let params =
        lathe_runtime::params::bind_roots(names, root, TEMPLATE_ROOTS).map_err(Error::from)?;
    let OpenPool { pool, secrets } = pool(state, run.datasource).await?;
    // The datasource's own secrets (a password, an API token) are masked in results too: an
    // API that echoes its request headers would show them otherwise.
    bound_secrets.extend(secrets.iter().cloned());
    let request = RunRequest {
        operation: run.operation.to_string(),
        query: run.query.clone(),
        params,
    };
    let mut output = pool
        .run(request)
        .await
        .map_err(|e| Error::from(redact(e, &bound_secrets)))?;
    scrub(&mut output, &bound_secrets);
    Ok(output)
}

/// The roots (`inputs`, `secrets`, …) the expressions `names` start with.
fn template_roots(names: &[String]) -> BTreeSet<&str> {
    names
        .iter()
        .map(|n| n.split('.').next().unwrap_or_default())
        .collect()
}

/// The workspace's constants and opened secrets, as the `constants` and `secrets` roots.
async fn workspace_values(
    state: &SharedState,
    workspace_id: &str,
    roots: &BTreeSet<&str>,
) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let mut constants = Map::new();
    let mut secrets = Map::new();
    for row in state.store.constants_list(workspace_id).await? {
        if !row.is_secret() {
            constants.insert(row.name, Value::String(row.value));
            continue;
        }
        if !roots.contains("secrets") {
            continue;
        }
        let Some(version) = row.key_version else {
            continue;
        };
        let sealed = Sealed {
            text: row.value.clone(),
            version,
        };
        let vault_row = Row {
            kind: SealedKind::Constant,
            workspace_id,
            id: &row.id,
        };
        let plaintext = state.vault.open_sealed(vault_row, &sealed).await?;
        let value = String::from_utf8(plaintext.to_vec())
            .map_err(|_| Error::Unreadable(format!("secret `{}` is not text", row.name)))?;
        secrets.insert(row.name, Value::String(value));
    }
    Ok((constants, secrets))
}

fn secret_strings(secrets: &Map<String, Value>) -> Vec<String> {
    secrets
        .values()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Writes one log line when the egress policy refused a connector a destination, for the
/// operator deciding whether to allow it. Every other failure is only the caller's.
pub fn note_refusal(error: &Error, workspace_id: &str, datasource_id: &str) {
    if let Error::Connector(RuntimeError::EgressDenied {
        plugin,
        grant,
        destination,
        reason,
    }) = error
    {
        tracing::warn!(
            event = "egress.denied",
            workspace = workspace_id,
            datasource = datasource_id,
            plugin = %Escaped(plugin),
            grant = %Escaped(grant),
            destination = %Escaped(destination),
            reason = %Escaped(reason),
            "a connector was refused a destination"
        );
    }
}

/// The error with every bound secret masked in its text: a query like
/// `select {{ secrets.key }}::int` would otherwise read the secret back in the database's
/// error message.
fn redact(error: RuntimeError, secrets: &[String]) -> RuntimeError {
    // Encoded forms too: a connector may echo a secret JSON-escaped, percent-encoded or in
    // base64 (lathe_runtime::error::redact_with).
    error.redacted_with(secrets, MASK)
}

/// Masks every appearance of a bound secret in the result's text.
/// Encoded spellings count too (an API echoing its `Authorization: Basic …` header). A secret
/// shorter than [`MIN_SECRET_LEN`] is left alone in results: masking two letters wherever
/// they occur in the data would ruin it, and errors and logs still mask it as a word.
fn scrub(output: &mut QueryOutput, secrets: &[String]) {
    let forms: Vec<String> = secrets
        .iter()
        .filter(|s| s.chars().count() >= MIN_SECRET_LEN)
        .flat_map(|s| encoded_forms(s))
        .collect();
    if forms.is_empty() {
        return;
    }
    let clean = |text: &mut String| {
        for form in &forms {
            if text.contains(form.as_str()) {
                *text = text.replace(form.as_str(), MASK);
            }
        }
    };
    for column in &mut output.columns {
        clean(&mut column.name);
        clean(&mut column.source_type);
    }
    for row in &mut output.rows {
        for cell in row {
            scrub_value(cell, &clean);
        }
    }
    scrub_value(&mut output.metadata, &clean);
}

fn scrub_value(value: &mut Value, clean: &impl Fn(&mut String)) {
    match value {
        Value::String(s) => clean(s),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, clean)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub_value(v, clean)),
        _ => {}
    }
}

/// Bounds on what an audit record keeps of a run's inputs: the log is append-only, so a
/// caller must not be able to grow it by much with one run.
const AUDIT_KEYS: usize = 50;
const AUDIT_KEY_CHARS: usize = 64;
const AUDIT_TEXT_CHARS: usize = 200;
const AUDIT_NODES: usize = 200;

/// The inputs as the audit record keeps them. Values the inputs schema marks `secret` or
/// `writeOnly` are masked at any depth (through `properties`, `items` and local `$ref`s); a
/// value whose schema marks a secret anywhere else (`additionalProperties`, `allOf`, …) is
/// masked whole.
/// Browser state (`components`, `variables`, …) keeps only its names: it is whatever the page
/// held, a password box included, and the schema seldom describes it. Without a schema (a
/// preview) only the names are kept, since nothing says which values are sensitive. Names,
/// text, counts and the total are all cut at fixed sizes.
fn audit_inputs(inputs: Option<&Value>, schema: Option<&Value>) -> Value {
    // Without a schema (a preview) only the names are kept, as a list; with one, the
    // values it doesn't mark secret, as an object. Either way the type doesn't depend on
    // whether the run had inputs.
    let empty = Map::new();
    let inputs = match inputs {
        Some(Value::Object(inputs)) => inputs,
        _ => &empty,
    };
    let Some(root) = schema else {
        return json!(key_names(inputs));
    };
    if inputs.is_empty() {
        return json!({});
    }
    let mut budget = AUDIT_NODES;
    let mut kept = Map::new();
    // Secrets marked beside the root's `properties` (`additionalProperties`, `allOf`,
    // `propertyNames`, …): which inputs they cover isn't worked out, and every input is
    // masked, names and values.
    if follow(root, root).1 {
        return json!(MASK);
    }
    for (name, value) in inputs.iter().take(AUDIT_KEYS) {
        let value = match value {
            Value::Object(state) if BROWSER_ROOTS.contains(&name.as_str()) => {
                json!(key_names(state))
            }
            _ => {
                let property = root.get("properties").and_then(|p| p.get(name));
                audit_value(value, property, root, &mut budget)
            }
        };
        kept.insert(cut(name, AUDIT_KEY_CHARS), value);
    }
    if inputs.len() > AUDIT_KEYS {
        kept.insert(
            "…".into(),
            json!(format!("{} more", inputs.len() - AUDIT_KEYS)),
        );
    }
    Value::Object(kept)
}

fn audit_value(value: &Value, schema: Option<&Value>, root: &Value, budget: &mut usize) -> Value {
    let (schema, hidden) = match schema {
        Some(s) => {
            let (at, hidden) = follow(s, root);
            (Some(at), hidden)
        }
        None => (None, false),
    };
    if hidden {
        return json!(MASK);
    }
    if *budget == 0 {
        return json!("…");
    }
    *budget -= 1;
    match value {
        Value::Object(map) => {
            let mut kept = Map::new();
            for (key, item) in map.iter().take(AUDIT_KEYS) {
                let sub = schema
                    .and_then(|s| s.get("properties"))
                    .and_then(|p| p.get(key));
                kept.insert(
                    cut(key, AUDIT_KEY_CHARS),
                    audit_value(item, sub, root, budget),
                );
            }
            Value::Object(kept)
        }
        Value::Array(items) => {
            let sub = schema.and_then(|s| s.get("items"));
            let kept = items
                .iter()
                .take(AUDIT_KEYS)
                .map(|item| audit_value(item, sub, root, budget));
            Value::Array(kept.collect())
        }
        Value::String(text) => json!(cut(text, AUDIT_TEXT_CHARS)),
        // Short by nature: only a number beyond 64 bits, kept as its exact text, can be long.
        Value::Null | Value::Bool(_) => value.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
        other => {
            let text = other.to_string();
            if text.len() > AUDIT_TEXT_CHARS {
                json!(cut(&text, AUDIT_TEXT_CHARS))
            } else {
                other.clone()
            }
        }
    }
}

/// `schema` with local `$ref`s (`#/$defs/…`) followed, a few hops at most.
/// `schema` with its local references followed, and whether a schema on the way hides the
/// value: marked `secret` or `writeOnly` itself, marking something secret where the walk of
/// [`audit_value`] doesn't follow values one by one (see [`hides_elsewhere`]), or holding a
/// reference this walk can't follow in a document that marks anything secret.
fn follow<'a>(schema: &'a Value, root: &'a Value) -> (&'a Value, bool) {
    let mut at = schema;
    let mut hidden = false;
    for _ in 0..8 {
        hidden |= marked(at) || hides_elsewhere(at, root);
        match reference(at, root) {
            Target::Nothing => return (at, hidden),
            Target::Found(next) => at = next,
            Target::Unknown => return (at, hidden || marks_secret(root, root, &mut Vec::new())),
        }
    }
    // A chain of references this long is not worth working out: masked.
    (at, true)
}

/// Where a schema's reference leads, as far as the audit walk can tell.
enum Target<'a> {
    /// No reference.
    Nothing,
    Found(&'a Value),
    /// An anchor, an `$id`, a dynamic or a remote reference, or a pointer to nothing: the
    /// validator may resolve it, this walk doesn't.
    Unknown,
}

fn reference<'a>(schema: &Value, root: &'a Value) -> Target<'a> {
    if schema.get("$dynamicRef").is_some() || schema.get("$recursiveRef").is_some() {
        return Target::Unknown;
    }
    let Some(reference) = schema.get("$ref") else {
        return Target::Nothing;
    };
    let found = reference
        .as_str()
        .and_then(|r| r.strip_prefix('#'))
        .and_then(percent_decoded)
        .filter(|pointer| pointer.is_empty() || pointer.starts_with('/'))
        .and_then(|pointer| root.pointer(&pointer));
    found.map_or(Target::Unknown, Target::Found)
}

/// A URI fragment with its `%XX` escapes decoded; `None` if one is malformed.
fn percent_decoded(fragment: &str) -> Option<String> {
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = fragment.get(at + 1..at + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn marked(schema: &Value) -> bool {
    schema.get("secret").is_some_and(says_secret)
        || schema.get("writeOnly").is_some_and(says_secret)
}

/// Whether a `secret` or `writeOnly` keyword's value marks its input secret: `true`, and
/// anything else that isn't `false` (`"yes"`, `1`, `null`): an author who wrote a mark
/// meant one, and a value kept out of the log by mistake costs less than one let in. An
/// object is not a mark but a schema: a property that happens to be named `secret`.
fn says_secret(value: &Value) -> bool {
    !matches!(value, Value::Bool(false) | Value::Object(_))
}

/// Whether `schema` marks something secret under a keyword the audit walk doesn't follow
/// value by value: anything but `properties`, an object `items`, a reference (followed by
/// [`follow`]) and the definitions references reach. `additionalProperties`,
/// `patternProperties`, `allOf`, `anyOf`, `if`, `dependentSchemas`, `prefixItems` and the
/// rest apply to parts of a value that would have to be worked out from the value; a value
/// under such a schema is masked whole instead.
fn hides_elsewhere(schema: &Value, root: &Value) -> bool {
    let Value::Object(keywords) = schema else {
        return false;
    };
    keywords
        .iter()
        .any(|(keyword, sub)| match keyword.as_str() {
            "properties" | "$ref" | "$dynamicRef" | "$recursiveRef" | "$defs" | "definitions" => {
                false
            }
            "items" if sub.is_object() => false,
            _ => marks_secret(sub, root, &mut Vec::new()),
        })
}

/// Whether `schema` marks anything `secret` or `writeOnly` anywhere inside it, following
/// local references (each once). A reference it can't follow counts as a mark when the
/// document has one anywhere.
fn marks_secret<'a>(schema: &'a Value, root: &'a Value, seen: &mut Vec<&'a Value>) -> bool {
    match schema {
        Value::Object(map) => {
            let through = match reference(schema, root) {
                Target::Nothing => false,
                Target::Found(target) if seen.iter().any(|s| std::ptr::eq(*s, target)) => false,
                Target::Found(target) => {
                    seen.push(target);
                    marks_secret(target, root, seen)
                }
                // The whole document stands in for the unknown target, scanned once.
                Target::Unknown if seen.iter().any(|s| std::ptr::eq(*s, root)) => false,
                Target::Unknown => {
                    seen.push(root);
                    marks_secret(root, root, seen)
                }
            };
            through
                || map.iter().any(|(key, sub)| match key.as_str() {
                    "secret" | "writeOnly" if says_secret(sub) => true,
                    _ => marks_secret(sub, root, seen),
                })
        }
        Value::Array(items) => items.iter().any(|item| marks_secret(item, root, seen)),
        _ => false,
    }
}

fn key_names(map: &Map<String, Value>) -> Vec<String> {
    map.keys()
        .take(AUDIT_KEYS)
        .map(|k| cut(k, AUDIT_KEY_CHARS))
        .collect()
}

/// `text` cut to `max` characters, with `…` when something was cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_masks_secret_inputs_at_any_depth_and_stays_small() {
        let schema = json!({
            "properties": {
                "creds": {"type": "object", "properties": {"password": {"type": "string", "writeOnly": true}}},
                "pin": {"$ref": "#/$defs/s"},
                "list": {"type": "array", "items": {"$ref": "#/$defs/s"}}
            },
            "$defs": {"s": {"type": "string", "writeOnly": true}}
        });
        let inputs = json!({
            "creds": {"user": "bob", "password": "Hunter2-nested"},
            "pin": "1234-by-ref",
            "list": ["in-a-list"],
            "components": {"passwordBox": {"value": "typed-in-a-box"}},
            "k".repeat(100_000): 1
        });
        let kept = audit_inputs(Some(&inputs), Some(&schema));
        let text = kept.to_string();
        for secret in ["Hunter2", "1234-by-ref", "in-a-list", "typed-in-a-box"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(kept["creds"]["user"], "bob");
        assert_eq!(kept["components"], json!(["passwordBox"]));
        assert!(text.len() < 1000, "{}", text.len());

        let many: Map<String, Value> = (0..10_000)
            .map(|i| (format!("key{i}"), json!("x".repeat(1000))))
            .collect();
        let kept = audit_inputs(Some(&Value::Object(many)), Some(&json!({})));
        assert!(
            kept.to_string().len() < 20_000,
            "{}",
            kept.to_string().len()
        );
    }

    /// A mark that isn't `true` but isn't `false` either (`"yes"`, `1`, `null`) is a mark; an
    /// input named `secret` is not one, and `false` unmarks.
    #[test]
    fn any_secret_mark_but_false_hides_the_value() {
        for mark in [json!("yes"), json!(1), json!(null), json!([true])] {
            for keyword in ["secret", "writeOnly"] {
                let schema = json!({"properties": {
                    "s": {"type": "string", keyword: mark.clone()},
                    "open": {"type": "string"}
                }});
                let inputs = json!({"s": "LEAK-marked", "open": "shown"});
                let text = audit_inputs(Some(&inputs), Some(&schema)).to_string();
                assert!(
                    !text.contains("LEAK"),
                    "{keyword}: {mark} let through {text}"
                );
                assert!(text.contains("shown"), "{text}");
            }
        }
        let schema = json!({"properties": {
            "secret": {"type": "string"},
            "plain": {"type": "string", "secret": false}
        }});
        let inputs = json!({"secret": "an input named so", "plain": "also shown"});
        let kept = audit_inputs(Some(&inputs), Some(&schema));
        assert_eq!(kept["secret"], "an input named so");
        assert_eq!(kept["plain"], "also shown");
    }

    /// A reference the walk can't follow (an anchor, an `$id`, a dynamic or absolute one)
    /// masks the value when the schema marks anything secret; escaped pointers are followed.
    #[test]
    fn audit_masks_values_behind_references_it_cannot_follow() {
        let behind = json!({"p": "S-behind"});
        let cases = [
            (
                json!({"properties": {"p": {"$ref": "#sek"}},
                       "$defs": {"s": {"$anchor": "sek", "secret": true}}}),
                behind.clone(),
            ),
            (
                json!({"properties": {"p": {"$ref": "urn:x:sek"}},
                       "$defs": {"s": {"$id": "urn:x:sek", "secret": true}}}),
                behind.clone(),
            ),
            (
                json!({"$id": "https://x.test/s", "properties": {"p": {"$ref": "https://x.test/s#/$defs/s"}},
                       "$defs": {"s": {"secret": true}}}),
                behind.clone(),
            ),
            (
                json!({"properties": {"p": {"$dynamicRef": "#dy"}},
                       "$defs": {"s": {"$dynamicAnchor": "dy", "secret": true}}}),
                behind.clone(),
            ),
            (
                json!({"properties": {"p": {"$ref": "#/%24defs/s"}}, "$defs": {"s": {"secret": true}}}),
                behind,
            ),
            (
                json!({"properties": {"o": {"allOf": [{"$ref": "#sek"}]}},
                       "$defs": {"s": {"$anchor": "sek", "secret": true}}}),
                json!({"o": {"k": "S-nested"}}),
            ),
            (
                json!({"propertyNames": {"secret": true}}),
                json!({"S-name": 1}),
            ),
        ];
        for (schema, inputs) in cases {
            let kept = audit_inputs(Some(&inputs), Some(&schema)).to_string();
            assert!(!kept.contains("S-"), "{schema} kept {kept}");
        }
        // Unfollowed references in a schema without any secret keep their values, and a
        // property named `secret` is a name, not a mark.
        let plain = json!({"properties": {"p": {"$ref": "#anchor"}, "secret": {"type": "string"}},
                           "$defs": {"a": {"$anchor": "anchor"}}});
        let kept = audit_inputs(Some(&json!({"p": "kept", "secret": "also"})), Some(&plain));
        assert_eq!(kept, json!({"p": "kept", "secret": "also"}));
        // A recursive schema ends.
        let recursive = json!({"properties": {"next": {"$ref": "#"}, "pin": {"secret": true}}});
        let deep = json!({"next": {"next": {"pin": "S-deep"}}});
        let kept = audit_inputs(Some(&deep), Some(&recursive)).to_string();
        assert!(!kept.contains("S-deep"), "{kept}");
    }

    /// A secret marked under a keyword other than `properties`, `items` or a reference masks
    /// the whole value it applies to; so does one beside a `$ref`, at any hop.
    #[test]
    fn audit_masks_secrets_marked_beyond_properties() {
        let secret = json!({"type": "string", "secret": true});
        let cases = [
            (
                json!({"additionalProperties": secret}),
                json!({"extra": "S1-additional"}),
            ),
            (
                json!({"patternProperties": {"^pw": secret}}),
                json!({"pwx": "S2-pattern"}),
            ),
            (
                json!({"allOf": [{"properties": {"pw": secret}}]}),
                json!({"pw": "S3-allof"}),
            ),
            (
                json!({"properties": {"pw": {"anyOf": [secret]}}}),
                json!({"pw": "S4-anyof"}),
            ),
            (
                json!({"dependentSchemas": {"pw": {"properties": {"pw2": secret}}}}),
                json!({"pw": "x", "pw2": "S5-dependent"}),
            ),
            (
                json!({"properties": {"pw": {"$ref": "#/$defs/a"}},
                       "$defs": {"a": {"$ref": "#/$defs/b", "secret": true}, "b": {"type": "string"}}}),
                json!({"pw": "S6-ref-sibling"}),
            ),
            (
                json!({"properties": {"o": {"type": "object", "additionalProperties": {"$ref": "#/$defs/s"}}},
                       "$defs": {"s": secret}}),
                json!({"o": {"k": "S7-ref-in-additional"}}),
            ),
            (
                json!({"properties": {"t": {"items": [secret]}}}),
                json!({"t": ["S8-tuple"]}),
            ),
        ];
        for (schema, inputs) in cases {
            let kept = audit_inputs(Some(&inputs), Some(&schema)).to_string();
            assert!(!kept.contains("S"), "{schema} kept {kept}");
        }
        // Without a secret anywhere, the same keywords keep their values.
        let plain =
            json!({"additionalProperties": {"type": "string"}, "allOf": [{"required": []}]});
        let kept = audit_inputs(Some(&json!({"q": "kept"})), Some(&plain));
        assert_eq!(kept, json!({"q": "kept"}));
    }

    #[test]
    fn audit_keeps_values_the_schema_does_not_hide() {
        let schema = json!({"properties": {"q": {"type": "string"}, "pin": {"type": "string", "secret": true}}});
        let inputs = json!({"q": "acme", "pin": "1234"});
        let kept = audit_inputs(Some(&inputs), Some(&schema));
        assert_eq!(kept, json!({"q": "acme", "pin": MASK}));
        assert_eq!(audit_inputs(Some(&inputs), None), json!(["q", "pin"]));
        // No inputs keep the type: a preview's list, a schema's object.
        assert_eq!(audit_inputs(None, None), json!([]));
        assert_eq!(audit_inputs(Some(&Value::Null), None), json!([]));
        assert_eq!(audit_inputs(None, Some(&schema)), json!({}));
    }

    #[test]
    fn bound_secrets_are_masked_in_results() {
        let mut output = QueryOutput {
            columns: Vec::new(),
            rows: vec![vec![
                json!("key=s3cr3t-value"),
                json!({"nested": ["s3cr3t-value"]}),
                json!(7),
                // `Authorization: Basic base64("user:s3cr3t-value")`, echoed by an API.
                json!("Basic dXNlcjpzM2NyM3QtdmFsdWU="),
            ]],
            row_count: 1,
            truncated: false,
            duration_ms: 0,
            metadata: json!({"echo": "s3cr3t-value"}),
        };
        scrub(&mut output, &["s3cr3t-value".to_string()]);
        let text =
            serde_json::to_string(&output.rows).unwrap() + output.metadata.to_string().as_str();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("M2NyM3Qt"), "{text}");
        assert!(text.contains(MASK));
    }
}
