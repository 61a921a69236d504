//! The host side of everything a guest can reach: TCP connects, name lookups, outgoing HTTP
//! and the log. Each is checked against the instance's pinned [`Grants`]; every refusal is
//! logged for the operator with the plugin, the grant and the destination.

use crate::bindings::v1::lathe::connector::log as wit_log;
use crate::bindings::v2::lathe::connector::log as wit_log_v2;
use crate::egress::Grants;
use crate::state::{HostState, SocketBudget};
use http_body_util::BodyExt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, Network,
};
use wasmtime_wasi::p2::bindings::sockets::{ip_name_lookup, tcp_create_socket};
use wasmtime_wasi::p2::{SocketError, TcpSocket};
use wasmtime_wasi::sockets::{SocketAddrUse, WasiSocketsCtxView};
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode as ErrorCodeHttp;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

/// Log lines a guest may write per call before the rest are dropped.
pub(crate) const LOG_LINES_PER_CALL: u32 = 100;
/// Longest guest log line kept, in bytes.
const LOG_LINE_MAX: usize = 2048;
/// Connect timeout for outgoing HTTP when the guest sets none.
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a response's head when the guest sets no limit; the call's own
/// deadline usually ends it sooner.
const HTTP_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(300);

fn refused(grants: &Grants, kind: &str, destination: &str) {
    let destination = crate::error::redact(destination.to_string(), &grants.secrets);
    tracing::warn!(
        target: "lathe::egress",
        plugin = %grants.plugin,
        grants = %grants.describe(),
        destination = %destination,
        kind,
        "egress refused: destination is not granted to this datasource"
    );
}

/// The `socket_addr_check` of an instance: connects only to pinned addresses on granted
/// ports; the implicit wildcard bind that precedes a connect is allowed; nothing else.
pub(crate) fn socket_check(
    grants: Arc<Grants>,
) -> impl Fn(SocketAddr, SocketAddrUse) -> Pin<Box<dyn Future<Output = bool> + Send + Sync>>
+ Send
+ Sync
+ 'static {
    move |addr, usage| {
        let allowed = match usage {
            SocketAddrUse::TcpConnect => grants.allows_tcp(addr.ip(), addr.port()),
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            _ => false,
        };
        if !allowed {
            refused(&grants, &format!("{usage:?}"), &addr.to_string());
        }
        Box::pin(async move { allowed })
    }
}

/// Adds the host's interfaces on top of WASI: the log, a name lookup that answers only
/// for granted hosts, with their pinned addresses, without asking any DNS server, and TCP
/// socket creation under the instance's socket cap.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit_log::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
        linker,
        |state| state,
    )?;
    wit_log_v2::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
        linker,
        |state| state,
    )?;
    linker.allow_shadowing(true);
    ip_name_lookup::add_to_linker::<HostState, PinnedLookup>(linker, |state| PinnedLookupView {
        table: &mut state.table,
        grants: &state.grants,
    })?;
    tcp_create_socket::add_to_linker::<HostState, CappedSockets>(linker, |state| {
        CappedSocketsView {
            inner: WasiSocketsCtxView {
                ctx: state.wasi.sockets(),
                table: &mut state.table,
            },
            budget: &state.sockets,
            grants: &state.grants,
        }
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

impl wit_log_v2::Host for HostState {
    fn log(&mut self, level: wit_log_v2::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            wit_log_v2::Level::Debug => wit_log::Level::Debug,
            wit_log_v2::Level::Info => wit_log::Level::Info,
            wit_log_v2::Level::Warn => wit_log::Level::Warn,
            wit_log_v2::Level::Error => wit_log::Level::Error,
        };
        wit_log::Host::log(self, level, message)
    }
}

impl wit_log::Host for HostState {
    fn log(&mut self, level: wit_log::Level, message: String) -> wasmtime::Result<()> {
        // The budget starts one above the limit: the last unit pays for the line that says
        // the rest are dropped, so a flood is visible to the operator, once per call.
        match self.log_budget {
            0 => return Ok(()),
            1 => {
                self.log_budget = 0;
                tracing::warn!(
                    target: "lathe::plugin",
                    plugin = %self.plugin,
                    limit = LOG_LINES_PER_CALL,
                    "the connector logged more lines than a call may; the rest of this call's are dropped"
                );
                return Ok(());
            }
            _ => self.log_budget -= 1,
        }
        let mut message = message;
        if message.len() > LOG_LINE_MAX {
            let mut cut = LOG_LINE_MAX;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let message = log_text(message, &self.secrets);
        let plugin = &self.plugin;
        match level {
            wit_log::Level::Debug => tracing::debug!(target: "lathe::plugin", plugin, "{message}"),
            wit_log::Level::Info => tracing::info!(target: "lathe::plugin", plugin, "{message}"),
            wit_log::Level::Warn => tracing::warn!(target: "lathe::plugin", plugin, "{message}"),
            wit_log::Level::Error => tracing::error!(target: "lathe::plugin", plugin, "{message}"),
        }
        Ok(())
    }
}

/// A guest's log message as the host writes it. One guest line stays one log line: line
/// breaks and other control characters are escaped, so a connector can't forge lines that
/// look like the host's; the configuration's secret values are masked.
fn log_text(message: String, secrets: &[String]) -> String {
    let escaped: String = message
        .chars()
        .flat_map(|c| -> Vec<char> {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            }
        })
        .collect();
    crate::error::redact(escaped, secrets)
}

struct PinnedLookup;

impl HasData for PinnedLookup {
    type Data<'a> = PinnedLookupView<'a>;
}

struct PinnedLookupView<'a> {
    table: &'a mut ResourceTable,
    grants: &'a Grants,
}

/// A finished lookup: the pinned addresses, handed out one by one.
struct PinnedAddresses(std::vec::IntoIter<IpAddr>);

#[async_trait::async_trait]
impl Pollable for PinnedAddresses {
    async fn ready(&mut self) {}
}

type WasiStream = ip_name_lookup::ResolveAddressStream;

// wasmtime-wasi's bindings fix the resource type of the stream to its own; this lookup
// stores its own type in the table under the same handle instead. Every method of the
// resource is implemented here, so no other code reads the entry with the other type.
fn ours(stream: &Resource<WasiStream>) -> Resource<PinnedAddresses> {
    Resource::new_own(stream.rep())
}

/// The network interface's traits, which the lookup and socket-creation traits require
/// for error conversion, for a view that holds the resource table at `self.$table`.
macro_rules! network_host {
    ($view:ident, $($table:ident).+) => {
        impl wasmtime_wasi::p2::bindings::sockets::network::Host for $view<'_> {
            fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
                error.downcast()
            }

            fn network_error_code(
                &mut self,
                _error: Resource<wasmtime::Error>,
            ) -> wasmtime::Result<Option<ErrorCode>> {
                Ok(None)
            }
        }

        impl wasmtime_wasi::p2::bindings::sockets::network::HostNetwork for $view<'_> {
            fn drop(&mut self, network: Resource<Network>) -> wasmtime::Result<()> {
                self.$($table).+.delete(network)?;
                Ok(())
            }
        }
    };
}

network_host!(PinnedLookupView, table);
network_host!(CappedSocketsView, inner.table);

impl ip_name_lookup::Host for PinnedLookupView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<WasiStream>, SocketError> {
        self.table.get(&network)?;
        let Some(addresses) = self.grants.lookup(&name) else {
            refused(self.grants, "name-lookup", &name);
            return Err(ErrorCode::AccessDenied.into());
        };
        let stream = PinnedAddresses(Vec::from(addresses).into_iter());
        let handle = self.table.push(stream)?;
        Ok(Resource::new_own(handle.rep()))
    }
}

impl ip_name_lookup::HostResolveAddressStream for PinnedLookupView<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<WasiStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        let stream = self.table.get_mut(&ours(&stream))?;
        Ok(stream.0.next().map(IpAddress::from))
    }

    fn subscribe(
        &mut self,
        stream: Resource<WasiStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, ours(&stream))
    }

    fn drop(&mut self, stream: Resource<WasiStream>) -> wasmtime::Result<()> {
        self.table.delete(ours(&stream))?;
        Ok(())
    }
}

struct CappedSockets;

impl HasData for CappedSockets {
    type Data<'a> = CappedSocketsView<'a>;
}

/// `tcp-create-socket` as WASI has it, under the instance's socket cap. The socket is
/// counted at creation because that is when the host opens its file descriptor.
struct CappedSocketsView<'a> {
    inner: WasiSocketsCtxView<'a>,
    budget: &'a Arc<SocketBudget>,
    grants: &'a Grants,
}

impl tcp_create_socket::Host for CappedSocketsView<'_> {
    fn create_tcp_socket(
        &mut self,
        family: IpAddressFamily,
    ) -> Result<Resource<TcpSocket>, SocketError> {
        if self.budget.recount(self.inner.table) >= self.budget.max {
            socket_limit(self.grants, self.budget.max);
            return Err(ErrorCode::NewSocketLimit.into());
        }
        tcp_create_socket::Host::create_tcp_socket(&mut self.inner, family)
    }
}

fn socket_limit(grants: &Grants, max: usize) {
    tracing::warn!(
        target: "lathe::egress",
        plugin = %grants.plugin,
        max,
        "socket refused: the connector already holds as many sockets as an instance may"
    );
}

/// The `wasi:http` hooks of an instance: a request goes out only to a granted origin, to
/// the addresses pinned for it (checked against the policy again), with TLS verified
/// against the web PKI. Redirects are not followed here; each is a new request, checked anew.
pub(crate) struct EgressHooks {
    grants: Arc<Grants>,
    sockets: Arc<SocketBudget>,
}

impl EgressHooks {
    pub(crate) fn new(grants: Arc<Grants>, sockets: Arc<SocketBudget>) -> Self {
        EgressHooks { grants, sockets }
    }
}

/// The guest gets these as typed `wasi:http` errors and reports them; the operator's log
/// needs no second line for each.
fn quiet_error(error: &dyn std::fmt::Display) -> ErrorCodeHttp {
    tracing::debug!(target: "lathe::egress", %error, "outgoing HTTP failed");
    ErrorCodeHttp::ConnectionRefused
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>
    {
        drop(fut);
        let grants = self.grants.clone();
        let Some(permit) = self.sockets.http_permit() else {
            socket_limit(&grants, self.sockets.max);
            return Box::new(async { Err(HttpError::ConnectionLimitReached) });
        };
        Box::new(async move {
            let (response, connection) = send_pinned(&grants, request, options).await?;
            // The connection counts against the cap for as long as the host drives it.
            let connection: IoFuture = Box::new(async move {
                let _permit = permit;
                Box::into_pin(connection).await
            });
            Ok((response, connection))
        })
    }

    fn p2_error_from_connect(&mut self, error: &std::io::Error) -> ErrorCodeHttp {
        quiet_error(error)
    }

    fn p2_error_from_hyper(&mut self, error: &hyper::Error) -> ErrorCodeHttp {
        tracing::debug!(target: "lathe::egress", %error, "outgoing HTTP failed");
        if error.is_timeout() {
            ErrorCodeHttp::ConnectionReadTimeout
        } else {
            ErrorCodeHttp::HttpProtocolError
        }
    }

    fn p2_error_from_tls(&mut self, error: &std::io::Error) -> ErrorCodeHttp {
        tracing::debug!(target: "lathe::egress", %error, "outgoing TLS failed");
        ErrorCodeHttp::TlsProtocolError
    }
}

async fn send_pinned(
    grants: &Grants,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
    let uri = request.uri().clone();
    let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
    let host = uri.host().ok_or(HttpError::HttpRequestUriInvalid)?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let Some(pinned) = grants.http_host(&scheme, &host, port) else {
        refused(grants, "http", &format!("{scheme}://{host}:{port}"));
        return Err(HttpError::HttpRequestDenied);
    };
    let addresses: Vec<IpAddr> = pinned
        .addresses
        .iter()
        .copied()
        .filter(|ip| grants.policy.check(&host, *ip).is_ok())
        .collect();
    if addresses.is_empty() {
        refused(grants, "http", &format!("{scheme}://{host}:{port}"));
        return Err(HttpError::DestinationIpProhibited);
    }

    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(HTTP_CONNECT_TIMEOUT);
    let stream = connect_any(&addresses, port, connect_timeout).await?;
    let (mut sender, connection) = if scheme == "https" {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        let tls = tokio_rustls::TlsConnector::from(TLS_CONFIG.clone())
            .connect(name, stream)
            .await
            .map_err(HttpError::Tls)?;
        handshake(tls).await?
    } else {
        handshake(stream).await?
    };

    // The request line carries only the path; the authority travels in `Host`.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = path.parse().map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let first_byte = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(HTTP_FIRST_BYTE_TIMEOUT);
    let response = tokio::time::timeout(first_byte, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)?
        .map_err(HttpError::from)?;
    let response = response.map(|body| body.map_err(HttpError::from).boxed_unsync());
    Ok((response, connection))
}

async fn connect_any(
    addresses: &[IpAddr],
    port: u16,
    timeout: Duration,
) -> Result<tokio::net::TcpStream, HttpError> {
    let mut last = HttpError::ConnectionRefused;
    for ip in addresses {
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((*ip, port))).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = HttpError::Connect(e),
            Err(_) => last = HttpError::ConnectionTimeout,
        }
    }
    Err(last)
}

async fn handshake<S>(
    io: S,
) -> Result<(hyper::client::conn::http1::SendRequest<WasiBody>, IoFuture), HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(HttpError::from)?;
    // The connection must make progress while the request is sent and the body read, so it
    // runs as its own task; dropping the returned future (the instance went away) ends it.
    let task = AbortOnDrop(tokio::spawn(connection));
    let driver: IoFuture = Box::new(async move {
        let mut task = task;
        match (&mut task.0).await {
            Ok(result) => result.map_err(HttpError::from),
            Err(_) => Err(HttpError::ConnectionTerminated),
        }
    });
    Ok((sender, driver))
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

static TLS_CONFIG: LazyLock<Arc<rustls::ClientConfig>> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
});

#[cfg(test)]
mod tests {
    use super::log_text;

    #[test]
    fn guest_log_lines_cannot_forge_host_lines_or_show_secrets() {
        let text = log_text(
            "ok\nWARN lathe::egress: forged\r\x1b[31m pw=hunter22".into(),
            &["hunter22".into()],
        );
        assert!(!text.contains('\n') && !text.contains('\r') && !text.contains('\x1b'));
        assert!(text.contains("\\nWARN"), "{text}");
        assert!(!text.contains("hunter22"), "{text}");
    }
}
