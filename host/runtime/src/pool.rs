//! The connection pool: live instances of one datasource's connector, each holding its own
//! open connection. Instances are never shared between datasources. An instance goes back
//! to the pool only after a call that returned normally (a connector error such as a SQL
//! error counts as normal); it is dropped on any trap, deadline, cancellation or cut-off
//! result, when its memory grew past a quarter of its cap ([`crate::Instance`]), after
//! `max_calls` calls, or when idle longer than `idle_timeout`.
//!
//! A call that finds every instance busy waits in line. An instance that comes free goes to
//! the first in line. When that is a run and the connector takes several runs per call
//! (`run-many`, contract 0.2.0), it takes up to [`MAX_BATCH`]` - 1` more runs waiting
//! behind it into the same call: a busy datasource then answers in fewer calls and, for a
//! database, fewer round trips. A run that finds every instance idle goes alone, at once;
//! one that finds a call under way waits briefly to join the next batch ([`PATIENCE`]).
//! Behind slow calls ([`SLOW_CALL`]) runs go one by one.

use crate::bindings::types::Schema;
use crate::egress::EgressPolicy;
use crate::error::{ConnectorError, RuntimeError};
use crate::instance::{Instance, Limits, RunRequest};
use crate::output::QueryOutput;
use crate::plugin::Plugin;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The most runs one call carries. A batch waits for its slowest query, so the bound keeps
/// a slow query from holding many others; eight already shares most of the round trips.
pub const MAX_BATCH: usize = 8;

/// A call that took longer than this per run marks the connector's calls slow: until a
/// quicker one, runs go one by one, without batches or [`PATIENCE`]. Batches pay off for
/// quick queries; behind slow ones a batch would make each run wait for all the others
/// (and for the request's own time limit, past it).
pub const SLOW_CALL: Duration = Duration::from_millis(250);

/// How long a run that finds a batching connector's call under way waits to join the next
/// batch, while an instance is free. Under load calls end well within it, and runs gather
/// into a few large batches instead of many small ones; behind a slow query a run loses
/// no more than this before it takes a free instance.
pub const PATIENCE: Duration = Duration::from_millis(1);

#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The most instances (connections) at once.
    pub max_size: usize,
    /// An idle instance older than this is closed instead of reused.
    pub idle_timeout: Duration,
    /// An instance is recycled after this many calls, whatever its memory. A backstop: an
    /// instance whose memory grew is retired after the call that grew it, and each new
    /// instance opens a new connection, which costs the database a session (at 1,000, a
    /// busy datasource reconnected several times a second).
    pub max_calls: u32,
    /// How long a caller waits for a free instance.
    pub acquire_timeout: Duration,
    pub limits: Limits,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_size: 4,
            idle_timeout: Duration::from_secs(300),
            max_calls: 100_000,
            acquire_timeout: Duration::from_secs(10),
            limits: Limits::default(),
        }
    }
}

/// Instances of one datasource.
pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    plugin: Arc<Plugin>,
    config: serde_json::Value,
    policy: EgressPolicy,
    settings: PoolConfig,
    state: Mutex<State>,
    next_waiter: AtomicU64,
    /// The connector takes several runs per call.
    batches: bool,
    /// The last call took longer than [`SLOW_CALL`] per run.
    slow: AtomicBool,
}

struct State {
    idle: Vec<Instance>,
    /// Slots not leased; `idle` holds the open instances of some of them.
    free: usize,
    line: VecDeque<Waiter>,
}

/// A call waiting for an instance. A run's request waits with it, so that whoever gets an
/// instance first may take it into a batch.
struct Waiter {
    id: u64,
    request: Option<RunRequest>,
    turn: oneshot::Sender<Turn>,
}

enum Turn {
    /// The waiter's own slot, with the request it queued.
    Lease(Box<Lease>, Option<RunRequest>),
    /// The waiter's run went in another's batch; this is its result.
    Done(Result<QueryOutput, RuntimeError>),
}

/// A leased slot of the pool, with its instance once one is open. Dropped, it passes to the
/// next in line, or back to the pool.
struct Lease {
    shared: Option<Arc<Shared>>,
    instance: Option<Instance>,
}

impl Pool {
    pub fn new(
        plugin: Arc<Plugin>,
        config: serde_json::Value,
        policy: EgressPolicy,
        settings: PoolConfig,
    ) -> Pool {
        Pool {
            shared: Arc::new(Shared {
                batches: plugin.runs_many(),
                state: Mutex::new(State {
                    idle: Vec::new(),
                    free: settings.max_size,
                    line: VecDeque::new(),
                }),
                plugin,
                config,
                policy,
                settings,
                next_waiter: AtomicU64::new(0),
                slow: AtomicBool::new(false),
            }),
        }
    }

    pub async fn run(&self, request: RunRequest) -> Result<QueryOutput, RuntimeError> {
        self.shared
            .plugin
            .check_query(&request.operation, &request.query)?;
        let (mut lease, request) = match self.shared.acquire(Some(request)).await? {
            Turn::Lease(lease, request) => (*lease, request.expect("a run queues its request")),
            Turn::Done(result) => return result,
        };
        if lease.ready().await?.runs_many() && !self.shared.slow.load(Ordering::Relaxed) {
            let others = self.shared.take_batch(MAX_BATCH - 1);
            if !others.is_empty() {
                // The batch runs in a task of its own: this run's caller going away must not
                // take the other runs' answers with it.
                let (turn, answer) = oneshot::channel();
                tokio::spawn(run_batch(lease, request, turn, others));
                return match answer.await {
                    Ok(Turn::Done(result)) => result,
                    _ => Err(lost_batch(&self.shared.plugin)),
                };
            }
        }
        lease
            .with(async |instance| instance.run(request).await)
            .await
    }

    pub async fn test(&self) -> Result<(), RuntimeError> {
        self.with_instance(async |instance| instance.test().await)
            .await
    }

    pub async fn schema(&self) -> Result<Schema, RuntimeError> {
        self.with_instance(async |instance| instance.schema().await)
            .await
    }

    /// Idle instances right now (for tests and metrics).
    pub fn idle_count(&self) -> usize {
        self.shared.lock().idle.len()
    }

    /// Closes every idle instance.
    pub async fn clear(&self) {
        let idle: Vec<Instance> = std::mem::take(&mut self.shared.lock().idle);
        for instance in idle {
            instance.close().await;
        }
    }

    async fn with_instance<T>(
        &self,
        f: impl AsyncFnOnce(&mut Instance) -> Result<T, RuntimeError>,
    ) -> Result<T, RuntimeError> {
        match self.shared.acquire(None).await? {
            Turn::Lease(lease, _) => (*lease).with(f).await,
            Turn::Done(_) => unreachable!("only runs are batched"),
        }
    }
}

impl Shared {
    /// Notes how long a call of `runs` runs took, before its slot passes on.
    fn took(&self, elapsed: Duration, runs: usize) {
        let slow = elapsed > SLOW_CALL * runs.max(1) as u32;
        self.slow.store(slow, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot, or the run's answer from another's batch. A slot is taken at once (without
    /// arming a timer) when one is free, except by a run that finds a call of a batching
    /// connector under way: that one waits in line up to [`PATIENCE`] first, to join the
    /// batch that follows, and takes a free slot only if the call outlasts it. Otherwise
    /// the caller waits in line for a slot until `acquire_timeout`.
    async fn acquire(self: &Arc<Self>, request: Option<RunRequest>) -> Result<Turn, RuntimeError> {
        let id = self.next_waiter.fetch_add(1, Ordering::Relaxed);
        let (mut answer, patient) = {
            let mut state = self.lock();
            let under_way = state.free < self.settings.max_size;
            let patient = state.free > 0
                && under_way
                && self.batches
                && request.is_some()
                && !self.slow.load(Ordering::Relaxed);
            if state.free > 0 && !patient {
                state.free -= 1;
                return Ok(Turn::Lease(Box::new(Lease::new(self.clone())), request));
            }
            let (turn, answer) = oneshot::channel();
            state.line.push_back(Waiter { id, request, turn });
            (answer, patient)
        };
        if patient {
            if let Ok(turn) = tokio::time::timeout(PATIENCE, &mut answer).await {
                return turn.map_err(|_| lost_batch(&self.plugin));
            }
            let escaped = {
                let mut state = self.lock();
                let at = state.line.iter().position(|w| w.id == id);
                match at {
                    Some(at) if state.free > 0 => {
                        state.free -= 1;
                        state.line.remove(at).map(|waiter| waiter.request)
                    }
                    _ => None,
                }
            };
            if let Some(request) = escaped {
                return Ok(Turn::Lease(Box::new(Lease::new(self.clone())), request));
            }
        }
        let turn = match tokio::time::timeout(self.settings.acquire_timeout, &mut answer).await {
            Ok(turn) => turn,
            Err(_) => {
                let left_the_line = {
                    let mut state = self.lock();
                    let at = state.line.iter().position(|w| w.id == id);
                    at.and_then(|at| state.line.remove(at)).is_some()
                };
                if left_the_line {
                    return Err(RuntimeError::PoolExhausted {
                        plugin: self.plugin.label(),
                        size: self.settings.max_size,
                    });
                }
                // Out of the line already: a slot or an answer is on its way.
                answer.await
            }
        };
        turn.map_err(|_| lost_batch(&self.plugin))
    }

    /// Takes up to `count` runs from the line, first come first, for a batch. Waiters whose
    /// caller went away are dropped on the way; calls other than runs keep their place.
    fn take_batch(&self, count: usize) -> Vec<(RunRequest, oneshot::Sender<Turn>)> {
        let mut state = self.lock();
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(state.line.len());
        while let Some(waiter) = state.line.pop_front() {
            if waiter.turn.is_closed() {
                continue;
            }
            match waiter.request {
                Some(request) if taken.len() < count => taken.push((request, waiter.turn)),
                request => kept.push_back(Waiter { request, ..waiter }),
            }
        }
        state.line = kept;
        taken
    }

    /// Passes a slot, with `instance` if it may be used again, to the first in line still
    /// waiting, or back to the pool.
    fn release(self: &Arc<Self>, mut instance: Option<Instance>) {
        loop {
            let next = {
                let mut state = self.lock();
                let next = state.line.pop_front();
                if next.is_none() {
                    state.idle.extend(instance.take());
                    state.free += 1;
                }
                next
            };
            let Some(waiter) = next else {
                return;
            };
            let lease = Box::new(Lease {
                shared: Some(self.clone()),
                instance: instance.take(),
            });
            match waiter.turn.send(Turn::Lease(lease, waiter.request)) {
                Ok(()) => return,
                Err(Turn::Lease(mut lease, _)) => {
                    lease.shared = None;
                    instance = lease.instance.take();
                }
                Err(Turn::Done(_)) => unreachable!("a lease was sent"),
            }
        }
    }

    /// The most recently used idle instance that is still fresh; stale ones are closed.
    async fn take_idle(&self) -> Option<Instance> {
        loop {
            let instance = self.lock().idle.pop()?;
            if instance.idle_for() < self.settings.idle_timeout {
                return Some(instance);
            }
            instance.close().await;
        }
    }
}

impl Lease {
    fn new(shared: Arc<Shared>) -> Lease {
        Lease {
            shared: Some(shared),
            instance: None,
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        self.shared.as_ref().expect("a lease in use has its pool")
    }

    /// The slot's instance: the one it came with, an idle one, or a new one.
    async fn ready(&mut self) -> Result<&mut Instance, RuntimeError> {
        if self.instance.is_none() {
            let shared = self.shared().clone();
            self.instance = match shared.take_idle().await {
                Some(instance) => Some(instance),
                None => Some(
                    Instance::open(
                        &shared.plugin,
                        &shared.config,
                        &shared.policy,
                        &shared.settings.limits,
                    )
                    .await?,
                ),
            };
        }
        Ok(self.instance.as_mut().expect("just opened"))
    }

    /// Runs `f` on the slot's instance, then gives the slot up.
    async fn with<T>(
        mut self,
        f: impl AsyncFnOnce(&mut Instance) -> Result<T, RuntimeError>,
    ) -> Result<T, RuntimeError> {
        // If this future is dropped mid-call, the lease is dropped with its instance
        // poisoned: a cancelled call never returns an instance to the pool.
        let instance = self.ready().await?;
        let started = Instant::now();
        let result = f(instance).await;
        self.shared().took(started.elapsed(), 1);
        let lost = matches!(&result, Err(e) if connection_ended(e));
        self.settle(lost).await;
        result
    }

    /// Keeps the instance for the next call if it may be used again; closes or drops it
    /// otherwise.
    async fn settle(&mut self, lost: bool) {
        let Some(instance) = self.instance.take() else {
            return;
        };
        let broken = lost || instance.is_poisoned() || instance.is_dirty();
        if broken {
            return;
        }
        if instance.calls() >= self.shared().settings.max_calls {
            instance.close().await;
        } else {
            self.instance = Some(instance);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            // An instance dropped in the middle of a call is poisoned and never reused.
            let instance = self
                .instance
                .take()
                .filter(|i| !i.is_poisoned() && !i.is_dirty());
            shared.release(instance);
        }
    }
}

/// Runs `first` and the runs taken from the line in one call, and answers each.
async fn run_batch(
    mut lease: Lease,
    first: RunRequest,
    first_turn: oneshot::Sender<Turn>,
    others: Vec<(RunRequest, oneshot::Sender<Turn>)>,
) {
    let mut requests = vec![first];
    let mut turns = vec![first_turn];
    for (request, turn) in others {
        requests.push(request);
        turns.push(turn);
    }
    let count = requests.len();
    let started = Instant::now();
    let results = match lease.ready().await {
        Ok(instance) => instance.run_many(requests).await,
        Err(e) => (0..turns.len()).map(|_| Err(e.for_another_run())).collect(),
    };
    lease.shared().took(started.elapsed(), count);
    let lost = results
        .iter()
        .any(|result| matches!(result, Err(e) if connection_ended(e)));
    for (result, turn) in results.into_iter().zip(turns) {
        // A caller that went away no longer wants its answer.
        let _ = turn.send(Turn::Done(result));
    }
    lease.settle(lost).await;
}

fn lost_batch(plugin: &Plugin) -> RuntimeError {
    RuntimeError::Crashed {
        plugin: plugin.label(),
        operation: "run",
        detail: "the call carrying this run ended without answering it".into(),
    }
}

/// Whether an error says the connector's connection is gone or can't be trusted: a lost
/// connection, a timeout, or a remote error whose SQLSTATE is a connection exception (class
/// 08) or an operator intervention that ends the session (57P01-57P03, e.g. the server
/// shutting down or an admin terminating the backend; 57P05, the idle-session timeout). Such an instance is dropped, so the
/// next call opens a fresh connection instead of failing on the dead one.
fn connection_ended(error: &RuntimeError) -> bool {
    let RuntimeError::Connector { error, .. } = error else {
        return false;
    };
    match error {
        ConnectorError::Connection { .. } | ConnectorError::Timeout { .. } => true,
        ConnectorError::Remote { code, .. } => {
            code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03" | "57P05")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(code: &str) -> RuntimeError {
        RuntimeError::Connector {
            plugin: "postgres@0.1.0".into(),
            error: ConnectorError::Remote {
                code: code.into(),
                message: "m".into(),
                detail: None,
                hint: None,
            },
        }
    }

    #[test]
    fn sessions_the_server_ended_drop_the_instance_and_query_errors_do_not() {
        // Terminated by an administrator, shut down, or past idle_session_timeout.
        for code in ["08006", "57P01", "57P02", "57P03", "57P05"] {
            assert!(connection_ended(&remote(code)), "{code}");
        }
        for code in ["22012", "42P01", "57014", "23505"] {
            assert!(!connection_ended(&remote(code)), "{code}");
        }
    }
}
