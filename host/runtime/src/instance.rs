//! One live connector instance: its own store, its own component instance, and the one
//! connection it opened. Every call runs under a deadline; a call that traps, runs out of
//! memory, passes its deadline or is cancelled poisons the instance, which is then dropped.

use crate::bindings::types::{self as wit, Param};
use crate::bindings::{Connector, on_connection, types::Schema};
use crate::egress::{EgressPolicy, Grants, apply_defaults};
use crate::engine::EPOCH_TICK;
use crate::error::{ConnectorError, RuntimeError, redact};
use crate::manifest::bound_by_call_timeout;
use crate::output::{Collector, QueryOutput};
use crate::plugin::Plugin;
use crate::sandbox::LOG_LINES_PER_CALL;
use crate::state::HostState;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceAny;
use wasmtime::{Store, Trap, UpdateDeadline};

/// Limits applied to each call and each result.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The longest any one call (open, run, each fetch, …) may take.
    pub call_timeout: Duration,
    /// The most rows a result keeps; the rest are cut and `truncated` is set.
    pub max_rows: usize,
    /// The most bytes of the host's memory a result may hold: every kept cell is charged
    /// its in-memory size and its serialised text ([`crate::held`]), so that the limit
    /// bounds the host whatever the connector returns. A result that reaches it is cut and
    /// marked `truncated`.
    pub max_bytes: usize,
    /// Rows asked for per batch.
    pub batch_rows: u32,
    /// The most sockets an instance may have open at once: TCP sockets it created and HTTP
    /// connections its requests hold. One more is refused with `new-socket-limit` (HTTP:
    /// `connection-limit-reached`), which the SDK reports as a denial; other datasources
    /// keep their file descriptors.
    pub max_sockets: usize,
    /// The most host-side resources (sockets, streams, pollables, HTTP header maps,
    /// requests, responses, …) an instance's guest may hold at once. Past it the call fails
    /// and the instance is dropped. An instance still holding more than a quarter of it
    /// after a call is retired, so that what it holds is freed at once.
    pub max_host_resources: usize,
    /// The most bytes one `wasi:http` header map the guest builds may hold. With
    /// `max_host_resources` it bounds header memory per instance.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout: Duration::from_secs(30),
            max_rows: 10_000,
            max_bytes: 64 << 20,
            batch_rows: 1_000,
            max_sockets: 16,
            max_host_resources: 256,
            max_header_bytes: 64 << 10,
        }
    }
}

/// A request for [`Instance::run`].
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub operation: String,
    /// The query object, templates in place.
    pub query: serde_json::Value,
    /// The values of its templates, resolved by the host ([`crate::params::bind`]).
    pub params: Vec<Param>,
}

pub struct Instance {
    world: Connector,
    connection: ResourceAny,
    core: Core,
}

/// The store and the bookkeeping of calls, apart from the bindings so that a call can
/// borrow both.
struct Core {
    store: Store<HostState>,
    label: String,
    /// The configuration's secret values, scrubbed from every error text.
    secrets: Vec<String>,
    limits: Limits,
    calls: u32,
    last_used: Instant,
    /// Set before each call and cleared when it returns normally: a call that never
    /// returned (cancelled, trapped) leaves the instance unusable.
    poisoned: bool,
    /// A result was cut before its end: the connection still has rows in flight.
    dirty: bool,
    /// The guest still holds more host resources after a call than a healthy connector
    /// needs; the instance is not pooled again, so that they are freed now.
    bloated: bool,
}

impl Instance {
    /// Resolves and pins the plugin's grants for `config`, instantiates the component and
    /// opens its connection.
    pub async fn open(
        plugin: &Plugin,
        config: &serde_json::Value,
        policy: &EgressPolicy,
        limits: &Limits,
    ) -> Result<Instance, RuntimeError> {
        let label = plugin.label();
        let mut config = config.clone();
        apply_defaults(&plugin.manifest.config, &mut config);
        let secrets = secret_values(&plugin.manifest.secrets, &config);
        plugin
            .check_config(&config)
            .map_err(|e| e.redacted(&secrets))?;
        bound_by_call_timeout(&plugin.manifest.config, &mut config, limits.call_timeout);
        let mut grants = Grants::resolve(&label, &plugin.manifest.capabilities, &config, policy)
            .await
            .map_err(|e| e.redacted(&secrets))?;
        grants.secrets = secrets.clone();
        let max_memory = plugin.engine.config().max_memory_bytes;
        let mut state = HostState::new(&label, Arc::new(grants), max_memory, limits);
        state.secrets = secrets.clone();
        let mut store = Store::new(plugin.engine.wasmtime(), state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|context| {
            if Instant::now() >= context.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });

        let pre = &plugin.pre;
        let world = guard(
            &mut store,
            &label,
            &secrets,
            (limits, limits.call_timeout),
            "instantiate",
            async |store| pre.instantiate(store).await,
        )
        .await?;
        let config_text = config.to_string();
        let opened = guard(
            &mut store,
            &label,
            &secrets,
            (limits, limits.call_timeout),
            "open",
            async |store| on_connection!(&world, call_open(store, &config_text)),
        )
        .await?;
        let connection = opened.map_err(|e| connector_error(&label, &secrets, e))?;
        Ok(Instance {
            world,
            connection,
            core: Core {
                store,
                label,
                secrets,
                limits: limits.clone(),
                calls: 0,
                last_used: Instant::now(),
                poisoned: false,
                dirty: false,
                bloated: false,
            },
        })
    }

    /// `id@version` of the plugin.
    pub fn label(&self) -> &str {
        &self.core.label
    }

    /// Calls made on this instance so far.
    pub fn calls(&self) -> u32 {
        self.core.calls
    }

    /// Whether the instance can't be used again (a call failed hard or was cancelled).
    pub fn is_poisoned(&self) -> bool {
        self.core.poisoned
    }

    /// Whether the instance should not be pooled again: the last result was cut before its
    /// end, leaving rows on the connection, or the guest holds more host resources than a
    /// healthy connector needs between calls.
    pub fn is_dirty(&self) -> bool {
        self.core.dirty || self.core.bloated
    }

    pub(crate) fn idle_for(&self) -> Duration {
        self.core.last_used.elapsed()
    }

    pub async fn test(&mut self) -> Result<(), RuntimeError> {
        let (world, connection) = (&self.world, self.connection);
        let result = self
            .core
            .call("test", async |store| {
                on_connection!(world, call_test(store, connection))
            })
            .await?;
        result.map_err(|e| connector_error(&self.core.label, &self.core.secrets, e))
    }

    pub async fn schema(&mut self) -> Result<Schema, RuntimeError> {
        let (world, connection) = (&self.world, self.connection);
        let result = self
            .core
            .call("schema", async |store| {
                on_connection!(world, call_schema(store, connection))
            })
            .await?;
        result.map_err(|e| connector_error(&self.core.label, &self.core.secrets, e))
    }

    /// Runs `request` and reads its result in batches until it ends or a limit is reached.
    pub async fn run(&mut self, request: RunRequest) -> Result<QueryOutput, RuntimeError> {
        let started = Instant::now();
        let wit_request = self.wit_request(request);
        let (world, connection) = (&self.world, self.connection);
        let head = self
            .core
            .call("run", async |store| {
                on_connection!(world, call_run(store, connection, &wit_request))
            })
            .await?
            .map_err(|e| connector_error(&self.core.label, &self.core.secrets, e))?;

        let (mut collector, metadata, mut more) = self.core.collect(head)?;
        while more {
            // Each call has its own deadline; the whole result shares one too, so a connector
            // that keeps answering with empty batches can't hold the caller forever.
            if started.elapsed() > self.core.limits.call_timeout {
                self.core.dirty = true;
                return Err(RuntimeError::Deadline {
                    plugin: self.core.label.clone(),
                    operation: "fetch",
                    limit_ms: self.core.limits.call_timeout.as_millis() as u64,
                });
            }
            let wanted = collector.wanted().min(self.core.limits.batch_rows);
            let batch = self
                .core
                .call("fetch", async |store| {
                    on_connection!(world, call_fetch(store, connection, wanted))
                })
                .await?
                .map_err(|e| connector_error(&self.core.label, &self.core.secrets, e))?;
            more = collector.push(batch).map_err(|e| self.core.bad_result(e))?;
        }
        self.core.dirty = collector.truncated;
        let elapsed = started.elapsed().as_millis() as u64;
        Ok(collector.finish(metadata, elapsed))
    }

    /// Whether the connector takes several runs in one call (`run-many`, contract 0.2.0).
    pub fn runs_many(&self) -> bool {
        matches!(self.world, Connector::V2(_))
    }

    /// Runs `requests` in one `run-many` call and answers one result per request, in order.
    /// Each result is whole up to the row limit (a longer one is cut and marked
    /// `truncated`, as is one the connector reports not done); one request's error leaves
    /// the others alone. A failure of the call
    /// itself (a trap, the deadline) fails every request, since none can be told apart. A
    /// connector without `run-many` runs them one by one.
    pub async fn run_many(
        &mut self,
        requests: Vec<RunRequest>,
    ) -> Vec<Result<QueryOutput, RuntimeError>> {
        if !self.runs_many() || requests.len() == 1 {
            let mut outputs = Vec::with_capacity(requests.len());
            for request in requests {
                outputs.push(self.run(request).await);
            }
            return outputs;
        }
        let started = Instant::now();
        let count = requests.len();
        let wit_requests: Vec<wit::Request> =
            requests.into_iter().map(|r| self.wit_request(r)).collect();
        // The statements of a batch run one after another on the connection, each within
        // the call limit (a connector bounds its statements by it): the call as a whole
        // may take that long for each of them.
        let limit = self.core.limits.call_timeout * count as u32;
        let (world, connection) = (&self.world, self.connection);
        let answers = self
            .core
            .call_within("run", limit, async |store| {
                world.run_many(store, connection, &wit_requests).await
            })
            .await;
        let answers = match answers {
            Ok(answers) if answers.len() == count => answers,
            Ok(answers) => {
                let detail = format!(
                    "run-many answered {} results for {count} requests",
                    answers.len()
                );
                return (0..count)
                    .map(|_| Err(self.core.bad_result(detail.clone())))
                    .collect();
            }
            Err(e) => return (0..count).map(|_| Err(e.for_another_run())).collect(),
        };
        let elapsed = started.elapsed().as_millis() as u64;
        answers
            .into_iter()
            .map(|answer| {
                let head =
                    answer.map_err(|e| connector_error(&self.core.label, &self.core.secrets, e))?;
                let (mut collector, metadata, more) = self.core.collect(head)?;
                // Not done: the connector cut the result short to bound its own memory.
                collector.truncated |= more;
                Ok(collector.finish(metadata, elapsed))
            })
            .collect()
    }

    fn wit_request(&self, request: RunRequest) -> wit::Request {
        // One row more than is kept, to learn whether the result goes on past the limit.
        let max_rows = self.core.limits.max_rows.saturating_add(1);
        wit::Request {
            operation: request.operation,
            query: request.query.to_string(),
            params: request.params,
            max_rows: max_rows.min(u32::MAX as usize) as u32,
        }
    }

    /// Asks the connector to end its session, then drops the instance.
    pub async fn close(mut self) {
        if self.core.poisoned {
            return;
        }
        let (world, connection) = (&self.world, self.connection);
        let _ = self
            .core
            .call("close", async |store| {
                on_connection!(world, call_close(store, connection))
            })
            .await;
    }
}

impl Core {
    /// A result's collector after its head: the columns, the metadata and the first batch
    /// taken in, and whether more rows may follow.
    fn collect(
        &mut self,
        head: wit::ResultHead,
    ) -> Result<(Collector, serde_json::Value, bool), RuntimeError> {
        let mut collector =
            Collector::new(head.columns, self.limits.max_rows, self.limits.max_bytes)
                .map_err(|e| self.bad_result(e))?;
        let metadata = collector
            .metadata(&head.metadata)
            .map_err(|e| self.bad_result(e))?;
        let more = collector.push(head.first).map_err(|e| self.bad_result(e))?;
        Ok((collector, metadata, more))
    }

    /// A result that breaks the contract: the instance is not used again.
    fn bad_result(&mut self, detail: String) -> RuntimeError {
        self.dirty = true;
        RuntimeError::BadResult {
            plugin: self.label.clone(),
            detail,
        }
    }

    async fn call<T>(
        &mut self,
        operation: &'static str,
        f: impl AsyncFnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, RuntimeError> {
        self.call_within(operation, self.limits.call_timeout, f)
            .await
    }

    /// [`Core::call`] with its own time limit.
    async fn call_within<T>(
        &mut self,
        operation: &'static str,
        limit: Duration,
        f: impl AsyncFnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, RuntimeError> {
        if self.poisoned {
            return Err(RuntimeError::Crashed {
                plugin: self.label.clone(),
                operation,
                detail: "the instance was stopped by an earlier failure".into(),
            });
        }
        self.poisoned = true;
        self.calls += 1;
        let result = guard(
            &mut self.store,
            &self.label,
            &self.secrets,
            (&self.limits, limit),
            operation,
            f,
        )
        .await;
        self.last_used = Instant::now();
        if result.is_ok() {
            self.poisoned = false;
        }
        self.check_held();
        result
    }

    /// Retires the instance when its guest kept more than a quarter of its resource cap, or
    /// header maps larger than one may be, past the call; or when its linear memory has
    /// grown past a quarter of its cap. A guest's memory never shrinks: an instance that
    /// once held a large result would otherwise keep that memory for as long as it is
    /// pooled. Retiring on memory rather than after a fixed number of calls keeps the
    /// connections of a busy datasource open (each new one costs the database a session).
    fn check_held(&mut self) {
        let state = self.store.data_mut();
        state.sockets.recount(&mut state.table);
        let (entries, header_bytes) = state.held_resources();
        if entries > self.limits.max_host_resources / 4
            || header_bytes > self.limits.max_header_bytes
        {
            tracing::warn!(
                plugin = self.label,
                entries,
                header_bytes,
                "connector instance retired: it holds too many host resources"
            );
            self.bloated = true;
        }
        let memory = &state.limiter;
        if memory.largest > memory.max_memory / 4 {
            // Expected after a large result, so not worth an operator's attention.
            tracing::debug!(
                plugin = self.label,
                memory_bytes = memory.largest,
                "connector instance retired: its memory grew past a quarter of its cap"
            );
            self.bloated = true;
        }
    }
}

/// Runs one guest call within `limit` (usually the call timeout of `limits`), and turns
/// traps into typed errors.
async fn guard<T>(
    store: &mut Store<HostState>,
    label: &str,
    secrets: &[String],
    (limits, limit): (&Limits, Duration),
    operation: &'static str,
    f: impl AsyncFnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
) -> Result<T, RuntimeError> {
    {
        let state = store.data_mut();
        state.deadline = Instant::now() + limit;
        state.log_budget = LOG_LINES_PER_CALL + 1;
        state.limiter.denied = false;
    }
    store.set_epoch_deadline(1);

    // The epoch stops a guest that computes; this timeout stops one that waits in the host
    // (a socket read that never completes). Either way the instance is not used again.
    let outcome = tokio::time::timeout(limit + 4 * EPOCH_TICK, f(store)).await;
    let deadline = || RuntimeError::Deadline {
        plugin: label.to_string(),
        operation,
        limit_ms: limit.as_millis() as u64,
    };
    match outcome {
        Err(_) => Err(deadline()),
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            let state = store.data();
            if state.limiter.denied {
                return Err(RuntimeError::MemoryLimit {
                    plugin: label.to_string(),
                    limit_mib: (state.limiter.max_memory >> 20) as u64,
                });
            }
            if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
                return Err(deadline());
            }
            if let Some(detail) = resource_limit(&error, limits) {
                return Err(RuntimeError::ResourceLimit {
                    plugin: label.to_string(),
                    detail,
                });
            }
            let output = state.output.take();
            // The caller gets the cause ("wasm trap: …", a host call's own error), not
            // wasmtime's "error while executing at wasm backtrace" wrapper around it; the
            // operator's log keeps the backtrace.
            let mut detail = match error.downcast_ref::<Trap>() {
                Some(trap) => trap.to_string(),
                None => error.root_cause().to_string(),
            };
            if !output.is_empty() {
                detail = format!("{detail}; the connector printed: {output}");
            }
            let detail = redact(detail, secrets);
            let backtrace = redact(format!("{error:?}"), secrets);
            tracing::warn!(plugin = label, operation, %detail, %backtrace, "connector crashed");
            Err(RuntimeError::Crashed {
                plugin: label.to_string(),
                operation,
                detail,
            })
        }
    }
}

/// What limit on host resources stopped a call, if one did: the resource table was full,
/// or a header map grew past its size limit (`wasi:http` traps for that).
fn resource_limit(error: &wasmtime::Error, limits: &Limits) -> Option<String> {
    use wasmtime::component::ResourceTableError;
    use wasmtime_wasi_http::FieldMapError;
    error.chain().find_map(|cause| {
        if let Some(ResourceTableError::Full) = cause.downcast_ref() {
            return Some(format!(
                "held more than {} host resources (sockets, streams, HTTP headers, …) at once",
                limits.max_host_resources
            ));
        }
        match cause.downcast_ref() {
            Some(FieldMapError::TotalSizeTooBig | FieldMapError::TooManyFields) => Some(format!(
                "built an HTTP header map larger than {} bytes",
                limits.max_header_bytes
            )),
            _ => None,
        }
    })
}

fn connector_error(label: &str, secrets: &[String], error: wit::Error) -> RuntimeError {
    RuntimeError::Connector {
        plugin: label.to_string(),
        error: ConnectorError::from(error).redacted(secrets),
    }
}

/// The values of the configuration's secret fields, scrubbed from errors and log lines
/// (very short ones only as whole words: [`crate::error::MIN_SECRET_LEN`]).
fn secret_values(fields: &[String], config: &serde_json::Value) -> Vec<String> {
    fields
        .iter()
        .filter_map(|field| config.get(field).and_then(|v| v.as_str()))
        .filter(|value| !value.is_empty())
        .map(str::to_string)
        .collect()
}
