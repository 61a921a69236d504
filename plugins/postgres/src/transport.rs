//! The byte stream under the protocol: plain TCP or TLS negotiated the PostgreSQL way.
//!
//! PostgreSQL starts every connection in plain text. To get TLS the client sends an
//! SSLRequest and the server answers with one byte, `S` (go ahead) or `N` (no TLS here);
//! only after `S` does the TLS handshake start on the same socket. TLS runs in the
//! component with rustls, so the host only ever relays ciphertext (README.md says why).

use crate::config::{Config, SslMode};
use crate::wire::io_error;
use bytes::BytesMut;
use lathe_plugin_sdk::Error;
use postgres_protocol::message::frontend;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// A blocking socket whose reads can time out. The wasm build uses the SDK's WASI stream,
/// native tests `std::net::TcpStream`.
pub trait Socket: Read + Write {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Whether bytes or the end of the stream can be read without waiting. What is found
    /// may be consumed: a `true` means the connection is to be dropped.
    fn has_unread_input(&mut self) -> bool;
}

impl Socket for std::net::TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::net::TcpStream::set_read_timeout(self, timeout)
    }

    fn has_unread_input(&mut self) -> bool {
        if self.set_nonblocking(true).is_err() {
            return true;
        }
        let found = match self.peek(&mut [0]) {
            Ok(_) => true,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        };
        found || self.set_nonblocking(false).is_err()
    }
}

impl Socket for lathe_plugin_sdk::net::TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        lathe_plugin_sdk::net::TcpStream::set_read_timeout(self, timeout);
        Ok(())
    }

    fn has_unread_input(&mut self) -> bool {
        lathe_plugin_sdk::net::TcpStream::has_unread_input(self)
    }
}

pub enum Transport<S: Socket> {
    Plain(S),
    Tls(Box<StreamOwned<ClientConnection, S>>),
}

impl<S: Socket> Transport<S> {
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.set_read_timeout(timeout),
            Transport::Tls(tls) => tls.sock.set_read_timeout(timeout),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// Whether the server sent anything or closed the connection (see
    /// [`Socket::has_unread_input`]). Over TLS, plaintext or a close rustls holds counts
    /// too (rustls wants no more records while it holds them).
    pub fn has_unread_input(&mut self) -> bool {
        match self {
            Transport::Plain(s) => s.has_unread_input(),
            Transport::Tls(tls) => !tls.conn.wants_read() || tls.sock.has_unread_input(),
        }
    }

    /// The server's own certificate (DER), over TLS.
    pub fn server_certificate(&self) -> Option<&[u8]> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(tls) => tls.conn.peer_certificates()?.first().map(|c| c.as_ref()),
        }
    }

    /// Sends TLS close_notify, so the server logs a clean end rather than an EOF.
    pub fn close(&mut self) {
        if let Transport::Tls(tls) = self {
            tls.conn.send_close_notify();
            while tls.conn.wants_write() {
                if tls.conn.write_tls(&mut tls.sock).is_err() {
                    break;
                }
            }
        }
    }
}

impl<S: Socket> Read for Transport<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(tls) => tls.read(buf),
        }
    }
}

impl<S: Socket> Write for Transport<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(tls) => tls.flush(),
        }
    }
}

/// Negotiates TLS on a fresh connection as `config.ssl_mode` asks.
pub fn negotiate<S: Socket>(mut socket: S, config: &Config) -> Result<Transport<S>, Error> {
    if config.ssl_mode == SslMode::Disable {
        return Ok(Transport::Plain(socket));
    }
    // Built before any byte is sent, so that a bad CA file fails as a config error.
    let tls_config = client_config(config)?;

    let mut request = BytesMut::new();
    frontend::ssl_request(&mut request);
    socket
        .write_all(&request)
        .and_then(|()| socket.flush())
        .map_err(|e| io_error(e, "sending the TLS request"))?;
    let mut answer = [0u8; 1];
    socket
        .read_exact(&mut answer)
        .map_err(|e| io_error(e, "reading the answer to the TLS request"))?;

    match (answer[0], config.ssl_mode) {
        (b'S', _) => handshake(socket, tls_config, &config.host),
        (b'N', SslMode::Prefer) => Ok(Transport::Plain(socket)),
        (b'N', _) => Err(Error::Connection(format!(
            "the server at {} does not accept TLS, and ssl_mode is {}; set ssl_mode to \
             `prefer` or `disable` to connect without it",
            config.host,
            if config.ssl_mode == SslMode::Require {
                "require"
            } else {
                "verify-full"
            },
        ))),
        (other, _) => Err(Error::Connection(format!(
            "the server answered the TLS request with {other:#04x}; is this a PostgreSQL \
             server?"
        ))),
    }
}

fn handshake<S: Socket>(
    mut socket: S,
    tls_config: Arc<ClientConfig>,
    host: &str,
) -> Result<Transport<S>, Error> {
    let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
        .map_err(|_| Error::InvalidConfig(format!("`{host}` is not a valid host name")))?
        .to_owned();
    let mut tls = ClientConnection::new(tls_config, name)
        .map_err(|e| Error::Connection(format!("starting TLS with {host} failed: {e}")))?;
    // Finish the handshake now, so that a certificate problem surfaces from `open` with a
    // clear message instead of from the first query.
    while tls.is_handshaking() {
        tls.complete_io(&mut socket).map_err(|e| {
            let cause = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .map_or_else(|| e.to_string(), |tls_error| tls_error.to_string());
            Error::Connection(format!("the TLS handshake with {host} failed: {cause}"))
        })?;
    }
    Ok(Transport::Tls(Box::new(StreamOwned::new(tls, socket))))
}

fn client_config(config: &Config) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(guest_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Connection(format!("TLS is unavailable: {e}")))?;

    let tls_config = if config.ssl_mode == SslMode::VerifyFull {
        builder
            .with_root_certificates(trusted_roots(config.ssl_root_cert.as_deref())?)
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(tls_config))
}

/// ring's suites, minus AES-256-GCM, ChaCha20-Poly1305 first.
///
/// Inside the component there are no AES instructions, and ring's portable AES-GCM is
/// much slower there than ChaCha20-Poly1305 (measured: a 100,000-row, 10-column result
/// took 1.15 s with AES-256-GCM and 0.45 s with ChaCha20). The server picks the suite
/// by its own order, which in OpenSSL's default is AES-256-GCM, then ChaCha20, then
/// AES-128-GCM; without AES-256-GCM on offer a default server picks ChaCha20, and any
/// TLS 1.3 server can still fall back to AES-128-GCM, which it must implement.
fn guest_provider() -> rustls::crypto::CryptoProvider {
    use rustls::CipherSuite::{
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TLS13_AES_256_GCM_SHA384,
    };
    use rustls::CipherSuite::{
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS13_CHACHA20_POLY1305_SHA256,
    };

    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.retain(|s| {
        !matches!(
            s.suite(),
            TLS13_AES_256_GCM_SHA384
                | TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
                | TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        )
    });
    provider.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            TLS13_CHACHA20_POLY1305_SHA256
                | TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                | TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        )
    });
    provider
}

/// The public web roots plus every certificate in `extra_pem`.
fn trusted_roots(extra_pem: Option<&str>) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let Some(pem) = extra_pem else {
        return Ok(roots);
    };
    let bad = |detail: String| {
        Error::InvalidConfig(format!(
            "`ssl_root_cert` is not a usable PEM certificate: {detail}"
        ))
    };
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(bad("it holds no CERTIFICATE block".into()));
    }
    Ok(roots)
}

/// `require` and `prefer`: the traffic is encrypted, but any certificate is accepted, as
/// libpq does for those modes. The handshake signatures are still checked, so the peer
/// must at least hold the key of the certificate it shows.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_cert_without_certificates_is_a_config_error() {
        let err = trusted_roots(Some("not a pem")).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(m) if m.contains("ssl_root_cert")));
    }

    #[test]
    fn chacha20_leads_and_aes_256_is_not_offered() {
        let suites: Vec<String> = guest_provider()
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert_eq!(suites[0], "TLS13_CHACHA20_POLY1305_SHA256");
        assert!(suites.iter().any(|s| s == "TLS13_AES_128_GCM_SHA256"));
        assert!(!suites.iter().any(|s| s.contains("AES_256")));
    }

    #[test]
    fn no_extra_roots_means_web_roots_only() {
        let roots = trusted_roots(None).unwrap();
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len());
    }
}
