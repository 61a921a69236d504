//! Group commit for the audit records of query runs. Every run writes a record before its
//! response is sent; one transaction (and one fsync) per run would cap the run rate at the
//! disk's sync rate. Instead, runs queue their records and wait: one writer task takes
//! whatever is queued, up to [`MAX_BATCH`], appends it in one transaction and then answers
//! every waiter. Under no load a batch is one record, written at once; under load many runs
//! share one commit. A record is never reported written before it is committed.

use tokio::sync::{mpsc, oneshot};

use super::{AuditEvent, Store};
use crate::error::{Error, Result};

const MAX_BATCH: usize = 256;
const QUEUE: usize = 4096;

type Waiter = oneshot::Sender<std::result::Result<(), String>>;

#[derive(Clone)]
pub struct AuditQueue {
    sender: mpsc::Sender<(AuditEvent, Waiter)>,
}

impl AuditQueue {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: Store) -> AuditQueue {
        let (sender, mut receiver) = mpsc::channel::<(AuditEvent, Waiter)>(QUEUE);
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (events, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let outcome = store
                    .audit_append_all(events)
                    .await
                    .map_err(|e| e.to_string());
                if let Err(e) = &outcome {
                    tracing::error!(event = "audit.batch_failed", error = %e, "audit records were not written");
                }
                for waiter in waiters {
                    let _ = waiter.send(outcome.clone());
                }
            }
        });
        AuditQueue { sender }
    }

    /// Appends `event` and returns once it is committed.
    pub async fn append(&self, event: AuditEvent) -> Result<()> {
        let (waiter, done) = oneshot::channel();
        self.sender
            .send((event, waiter))
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("the audit writer has stopped")))?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Internal(anyhow::anyhow!(
                "writing audit records: {e}"
            ))),
            Err(_) => Err(Error::Internal(anyhow::anyhow!(
                "the audit writer has stopped"
            ))),
        }
    }
}

impl Store {
    /// Appends several records in one transaction.
    pub async fn audit_append_all(&self, events: Vec<AuditEvent>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for event in events {
            super::audit::insert(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
