//! What each instance's store holds: its WASI contexts (with nothing in them but what the
//! grants allow), its memory limiter, the current call's deadline and the guest's output.

use crate::egress::Grants;
use crate::instance::Limits;
use crate::sandbox::{EgressHooks, socket_check};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// How much of the guest's stdout and stderr is kept (the tail), to explain a crash.
const OUTPUT_TAIL: usize = 4096;

pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) hooks: EgressHooks,
    pub(crate) grants: Arc<Grants>,
    pub(crate) limiter: MemoryLimiter,
    /// When the current call must end; the epoch callback interrupts the guest after it.
    pub(crate) deadline: Instant,
    pub(crate) output: GuestOutput,
    /// `id@version`, for logs.
    pub(crate) plugin: String,
    /// Log lines the guest may still write in this call (a flood guard).
    pub(crate) log_budget: u32,
    /// The configuration's secret values, masked in the guest's log lines.
    pub(crate) secrets: Vec<String>,
    /// Open sockets against the instance's cap.
    pub(crate) sockets: Arc<SocketBudget>,
}

impl HostState {
    pub(crate) fn new(
        plugin: &str,
        grants: Arc<Grants>,
        max_memory: usize,
        limits: &Limits,
    ) -> HostState {
        let output = GuestOutput::default();
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(true)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(socket_check(grants.clone()))
            .build();
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(limits.max_header_bytes);
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.max_host_resources);
        let sockets = Arc::new(SocketBudget::new(limits.max_sockets));
        HostState {
            wasi,
            http,
            table,
            hooks: EgressHooks::new(grants.clone(), sockets.clone()),
            grants,
            limiter: MemoryLimiter {
                max_memory,
                denied: false,
                largest: 0,
            },
            deadline: Instant::now(),
            output,
            plugin: plugin.to_string(),
            log_budget: 0,
            secrets: Vec::new(),
            sockets,
        }
    }

    /// Entries in the resource table and the bytes of the header maps among them.
    pub(crate) fn held_resources(&mut self) -> (usize, usize) {
        let mut entries = 0;
        let mut header_bytes = 0;
        for entry in self.table.iter_mut() {
            entries += 1;
            if let Some(fields) = entry.downcast_ref::<wasmtime_wasi_http::FieldMap>() {
                header_bytes += fields
                    .iter()
                    .map(|(name, value)| {
                        // As `wasi:http` counts them against its limit.
                        name.as_str().len()
                            + value.len()
                            + std::mem::size_of_val(name)
                            + std::mem::size_of_val(value)
                    })
                    .sum::<usize>();
            }
        }
        (entries, header_bytes)
    }
}

/// The sockets an instance holds, against its cap ([`Limits::max_sockets`]). TCP sockets
/// live in the resource table and are counted there when the guest creates one (and after
/// each call); HTTP connections are counted exactly, each holding a [`SocketPermit`] for as
/// long as the host keeps the connection.
pub(crate) struct SocketBudget {
    pub(crate) max: usize,
    /// TCP sockets at the last count.
    pub(crate) tcp: AtomicUsize,
    /// HTTP connections open now.
    pub(crate) http: AtomicUsize,
}

impl SocketBudget {
    fn new(max: usize) -> SocketBudget {
        SocketBudget {
            max,
            tcp: AtomicUsize::new(0),
            http: AtomicUsize::new(0),
        }
    }

    /// Counts the TCP sockets in `table` again; returns the sockets open now.
    pub(crate) fn recount(&self, table: &mut ResourceTable) -> usize {
        let tcp = table
            .iter_mut()
            .filter(|entry| entry.is::<wasmtime_wasi::p2::TcpSocket>())
            .count();
        self.tcp.store(tcp, Ordering::Relaxed);
        tcp + self.http.load(Ordering::Relaxed)
    }

    /// A permit for one more HTTP connection, unless the cap is reached.
    pub(crate) fn http_permit(self: &Arc<Self>) -> Option<SocketPermit> {
        let tcp = self.tcp.load(Ordering::Relaxed);
        self.http
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |http| {
                (tcp + http < self.max).then_some(http + 1)
            })
            .ok()?;
        Some(SocketPermit(self.clone()))
    }
}

/// One HTTP connection counted against the cap until dropped.
pub(crate) struct SocketPermit(Arc<SocketBudget>);

impl Drop for SocketPermit {
    fn drop(&mut self) {
        self.0.http.fetch_sub(1, Ordering::AcqRel);
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Caps linear memory per store and remembers a refusal, so that the trap that usually
/// follows (the guest's allocator aborts) is reported as "memory limit", not as a crash.
pub(crate) struct MemoryLimiter {
    pub(crate) max_memory: usize,
    pub(crate) denied: bool,
    /// The largest linear memory granted so far: a guest's memory never shrinks.
    pub(crate) largest: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.denied = true;
            return Ok(false);
        }
        self.largest = self.largest.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The guest's stdout and stderr: the tail is kept for crash reports; nothing reaches the
/// server's own stdout. Writes never fail, so a chatty guest can't crash itself by printing.
#[derive(Clone, Default)]
pub(crate) struct GuestOutput(Arc<Mutex<Vec<u8>>>);

impl GuestOutput {
    /// The kept tail as text, and forgets it.
    pub(crate) fn take(&self) -> String {
        let mut buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&buf).trim().to_string();
        buf.clear();
        text
    }

    fn append(&self, bytes: &[u8]) {
        let mut buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        buf.extend_from_slice(bytes);
        if buf.len() > OUTPUT_TAIL {
            let cut = buf.len() - OUTPUT_TAIL;
            buf.drain(..cut);
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(OutputWriter(self.clone()))
    }
}

struct OutputWriter(GuestOutput);

impl tokio::io::AsyncWrite for OutputWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.append(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
