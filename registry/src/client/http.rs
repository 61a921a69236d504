//! One HTTP/1.1 exchange with a registry, on a connection made here: the host name goes
//! through the caller's [`Resolve`] (IP literals too) and only the addresses it returns are
//! dialled, so the host's egress policy decides where a registry client may connect.
//! Redirects are not followed: a registry that moved is an error naming where to.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{ClientError, Resolve};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const OVERALL_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of an error response is read for its problem document.
const MAX_ERROR_BODY: u64 = 64 * 1024;

pub(super) struct Exchange<'a> {
    pub method: Method,
    pub url: url::Url,
    pub token: Option<&'a str>,
    pub body: Option<Bytes>,
    /// The most response body accepted on success.
    pub limit: u64,
}

/// Sends the request and returns the body of a 2xx response; any other status is an error
/// carrying the server's problem `detail` when it sent one.
pub(super) async fn exchange(
    resolver: &dyn Resolve,
    request: Exchange<'_>,
) -> Result<Vec<u8>, ClientError> {
    let url = request.url.to_string();
    tokio::time::timeout(OVERALL_TIMEOUT, exchange_inner(resolver, request))
        .await
        .map_err(|_| ClientError::Timeout {
            url,
            seconds: OVERALL_TIMEOUT.as_secs(),
        })?
}

async fn exchange_inner(
    resolver: &dyn Resolve,
    request: Exchange<'_>,
) -> Result<Vec<u8>, ClientError> {
    let url = &request.url;
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(ClientError::bad_source(url.as_str(), "the URL has no host")),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| ClientError::bad_source(url.as_str(), "the URL has no port"))?;

    let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect(resolver, &host, port))
        .await
        .map_err(|_| ClientError::Connect {
            host: host.clone(),
            message: format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
        })??;

    let http_request = build(&request)?;
    if url.scheme() == "https" {
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| {
            ClientError::bad_source(url.as_str(), &format!("invalid TLS server name: {e}"))
        })?;
        let tls = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_rustls::TlsConnector::from(TLS_CONFIG.clone()).connect(name, stream),
        )
        .await
        .map_err(|_| ClientError::Connect {
            host: host.clone(),
            message: "the TLS handshake did not finish in time".into(),
        })?
        .map_err(|e| ClientError::Connect {
            host: host.clone(),
            message: format!("TLS: {e}"),
        })?;
        send(tls, http_request, url, request.limit).await
    } else {
        send(stream, http_request, url, request.limit).await
    }
}

/// Tries each address the resolver returned, in order; nothing else is ever dialled.
async fn connect(resolver: &dyn Resolve, host: &str, port: u16) -> Result<TcpStream, ClientError> {
    let addresses = resolver
        .resolve(host, port)
        .await
        .map_err(|message| ClientError::Resolve {
            host: host.to_owned(),
            message,
        })?;
    if addresses.is_empty() {
        return Err(ClientError::Resolve {
            host: host.to_owned(),
            message: "no address allowed".into(),
        });
    }
    let mut failures = Vec::new();
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                // Small requests: don't hold them back waiting to coalesce.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => failures.push(format!("{address}: {e}")),
        }
    }
    Err(ClientError::Connect {
        host: host.to_owned(),
        message: failures.join("; "),
    })
}

fn build(request: &Exchange<'_>) -> Result<hyper::Request<Full<Bytes>>, ClientError> {
    let url = &request.url;
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
    let mut builder = hyper::Request::builder()
        .method(request.method.clone())
        .uri(target)
        .header(header::HOST, authority)
        .header(
            header::USER_AGENT,
            concat!("lathe-registry/", env!("CARGO_PKG_VERSION")),
        )
        .header(header::ACCEPT, "application/json, application/octet-stream");
    if let Some(token) = request.token {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            ClientError::bad_source(url.as_str(), "the token has invalid characters")
        })?;
        value.set_sensitive(true);
        builder = builder.header(header::AUTHORIZATION, value);
    }
    if request.body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/octet-stream");
    }
    builder
        .body(Full::new(request.body.clone().unwrap_or_default()))
        .map_err(|e| ClientError::bad_source(url.as_str(), &e.to_string()))
}

async fn send<S>(
    io: S,
    request: hyper::Request<Full<Bytes>>,
    url: &url::Url,
    limit: u64,
) -> Result<Vec<u8>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http_error = |e: hyper::Error| ClientError::Http {
        url: url.to_string(),
        message: e.to_string(),
    };
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(http_error)?;
    // The connection makes progress only while polled; it ends with this exchange.
    let _driver = AbortOnDrop(tokio::spawn(connection));
    let response = sender.send_request(request).await.map_err(http_error)?;

    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or("(no Location header)")
            .to_owned();
        return Err(ClientError::Redirect {
            url: url.to_string(),
            status: status.as_u16(),
            location,
        });
    }
    let limit = if status.is_success() {
        limit
    } else {
        MAX_ERROR_BODY
    };
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.parse::<u64>().ok());
    if status.is_success() && declared.is_some_and(|length| length > limit) {
        return Err(ClientError::TooLarge {
            url: url.to_string(),
            limit,
        });
    }

    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(http_error)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() as u64 + data.len() as u64 > limit {
            if !status.is_success() {
                break; // Enough of an error document to report it.
            }
            return Err(ClientError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        bytes.extend_from_slice(&data);
    }

    if status.is_success() {
        Ok(bytes)
    } else {
        Err(problem(url, status, &bytes))
    }
}

/// The error for a non-2xx answer: the problem document's detail (or title), else the start
/// of the body as text.
fn problem(url: &url::Url, status: StatusCode, body: &[u8]) -> ClientError {
    let document: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        document
            .as_ref()
            .and_then(|d| d.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let detail = field("detail")
        .or_else(|| field("title"))
        .unwrap_or_else(|| {
            let text: String = String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            match text.trim() {
                "" => status.canonical_reason().unwrap_or("error").to_owned(),
                text => text.to_owned(),
            }
        });
    ClientError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        detail,
    }
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
