//! The connection pool: live instances of one datasource's connector, each holding its own
//! open connection. Instances are never shared between datasources. An instance goes back
//! to the pool only after a call that returned normally (a connector error such as a SQL
//! error counts as normal); it is dropped on any trap, deadline, cancellation or cut-off
//! result, after `max_calls` calls, or when idle longer than `idle_timeout`.

use crate::bindings::types::Schema;
use crate::egress::EgressPolicy;
use crate::error::{ConnectorError, RuntimeError};
use crate::instance::{Instance, Limits, RunRequest};
use crate::output::QueryOutput;
use crate::plugin::Plugin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The most instances (connections) at once.
    pub max_size: usize,
    /// An idle instance older than this is closed instead of reused.
    pub idle_timeout: Duration,
    /// An instance is recycled after this many calls (guest memory never shrinks).
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
            max_calls: 1_000,
            acquire_timeout: Duration::from_secs(10),
            limits: Limits::default(),
        }
    }
}

/// Instances of one datasource.
pub struct Pool {
    plugin: Arc<Plugin>,
    config: serde_json::Value,
    policy: EgressPolicy,
    settings: PoolConfig,
    idle: Mutex<Vec<Instance>>,
    slots: Semaphore,
}

impl Pool {
    pub fn new(
        plugin: Arc<Plugin>,
        config: serde_json::Value,
        policy: EgressPolicy,
        settings: PoolConfig,
    ) -> Pool {
        Pool {
            slots: Semaphore::new(settings.max_size),
            plugin,
            config,
            policy,
            settings,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub async fn run(&self, request: RunRequest) -> Result<QueryOutput, RuntimeError> {
        self.plugin
            .check_query(&request.operation, &request.query)?;
        self.with_instance(async |instance| instance.run(request).await)
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
        self.lock().len()
    }

    /// Closes every idle instance.
    pub async fn clear(&self) {
        let idle: Vec<Instance> = std::mem::take(&mut *self.lock());
        for instance in idle {
            instance.close().await;
        }
    }

    async fn with_instance<T>(
        &self,
        f: impl AsyncFnOnce(&mut Instance) -> Result<T, RuntimeError>,
    ) -> Result<T, RuntimeError> {
        // A free slot is the usual case: taken without arming a timer.
        let _permit = match self.slots.try_acquire() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout(self.settings.acquire_timeout, self.slots.acquire())
                .await
                .map_err(|_| RuntimeError::PoolExhausted {
                    plugin: self.plugin.label(),
                    size: self.settings.max_size,
                })?
                .expect("the pool's semaphore is never closed"),
        };

        let mut instance = match self.take_idle().await {
            Some(instance) => instance,
            None => {
                Instance::open(
                    &self.plugin,
                    &self.config,
                    &self.policy,
                    &self.settings.limits,
                )
                .await?
            }
        };
        // If this future is dropped mid-call, `instance` is dropped with it: a cancelled
        // call never returns an instance to the pool.
        let result = f(&mut instance).await;
        let lost = matches!(&result, Err(RuntimeError::Connector { error, .. }) if connection_ended(error));
        let broken = lost || instance.is_poisoned() || instance.is_dirty();
        if broken || instance.calls() >= self.settings.max_calls {
            if !broken {
                instance.close().await;
            }
        } else {
            self.lock().push(instance);
        }
        result
    }

    /// The most recently used idle instance that is still fresh; stale ones are closed.
    async fn take_idle(&self) -> Option<Instance> {
        loop {
            let instance = self.lock().pop()?;
            if instance.idle_for() < self.settings.idle_timeout {
                return Some(instance);
            }
            instance.close().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether an error says the connector's connection is gone or can't be trusted: a lost
/// connection, a timeout, or a remote error whose SQLSTATE is a connection exception (class
/// 08) or an operator intervention that ends the session (57P01-57P03, e.g. the server
/// shutting down or an admin terminating the backend). Such an instance is dropped, so the
/// next call opens a fresh connection instead of failing on the dead one.
fn connection_ended(error: &ConnectorError) -> bool {
    match error {
        ConnectorError::Connection { .. } | ConnectorError::Timeout { .. } => true,
        ConnectorError::Remote { code, .. } => {
            code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03")
        }
        _ => false,
    }
}
