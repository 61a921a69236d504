//! TLS from the store to PostgreSQL, as `sslmode` in `LATHE_DATABASE_URL` asks. The local
//! PostgreSQL speaks no TLS, so the test puts a TLS terminator of its own in front of it on
//! loopback: it answers PostgreSQL's SSLRequest, completes the handshake with a throwaway
//! certificate (made by the machine's `openssl`), and relays the decrypted bytes to
//! 127.0.0.1:5432. It refuses any connection that doesn't start with an SSLRequest, so a
//! server that works through it is certainly encrypting.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{ADMIN_EMAIL, ADMIN_PASSWORD, Server, TestStore, lathe};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The first message of a client that wants TLS: length 8, then the SSLRequest code.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// A throwaway CA (`ca.pem`) and a server certificate for `localhost` only (`cert.pem`,
/// `key.pem`) that it signed.
fn make_certs(dir: &Path) {
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let steps = [
        format!("req -x509 -days 1 {ec} -keyout ca.key -out ca.pem -subj /CN=LatheTestCA"),
        format!("req {ec} -keyout key.pem -out leaf.csr -subj /CN=localhost"),
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
         -extfile leaf.ext -out cert.pem"
            .to_string(),
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A TLS terminator for PostgreSQL on a loopback port; counts completed handshakes.
struct TlsProxy {
    port: u16,
    handshakes: Arc<AtomicUsize>,
}

impl TlsProxy {
    fn start(certs: &Path) -> TlsProxy {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(certs.join("cert.pem"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(certs.join("key.pem")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counter = handshakes.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(relay(stream, acceptor.clone(), counter.clone()));
                }
            });
        });
        TlsProxy { port, handshakes }
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

async fn relay(
    mut client: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    handshakes: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut first = [0u8; 8];
    client.read_exact(&mut first).await?;
    if first != SSL_REQUEST {
        // Plain text: refused, so only TLS gets through.
        return Ok(());
    }
    client.write_all(b"S").await?;
    let mut tls = acceptor.accept(client).await?;
    handshakes.fetch_add(1, Ordering::SeqCst);
    let mut upstream = tokio::net::TcpStream::connect("127.0.0.1:5432").await?;
    tokio::io::copy_bidirectional(&mut tls, &mut upstream).await?;
    Ok(())
}

/// `lathe migrate` against `url`; its exit status and stderr.
fn migrate(url: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = lathe()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .args(["--database-url", url])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn sslmode_require_encrypts_the_connection_to_postgresql() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let proxy = TlsProxy::start(certs.path());

    let port = proxy.port;
    let store = TestStore::postgres_via(|db| {
        format!("postgres://postgres@127.0.0.1:{port}/{db}?sslmode=require")
    });
    let server = Server::start_on(store, &[]);
    let created = server.store.admin_create(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    server.admin().get("/api/v1/auth/me").expect_status(200);
    assert!(proxy.handshakes() > 0);

    // Without TLS the terminator lets nothing through: the server above really encrypted.
    let (ok, _) = migrate(&format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable&connect_timeout=5"
    ));
    assert!(!ok);
}

#[test]
fn sslmode_verify_full_checks_the_certificate_against_sslrootcert() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let proxy = TlsProxy::start(certs.path());
    let ca = certs.path().join("ca.pem");
    let port = proxy.port;

    let store = TestStore::postgres_via(|db| {
        format!(
            "postgres://postgres@localhost:{port}/{db}?sslmode=verify-full&sslrootcert={}",
            ca.display()
        )
    });
    let server = Server::start_on(store, &[]);
    server.client().get("/readyz").expect_status(200);

    // A certificate no trusted root signed is refused, and so is one for another name.
    let (ok, stderr) = migrate(&format!(
        "postgres://postgres@localhost:{port}/postgres?sslmode=verify-full"
    ));
    assert!(!ok, "an unknown issuer was accepted");
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    let (ok, _) = migrate(&format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={}",
        ca.display()
    ));
    assert!(!ok, "a certificate for another host name was accepted");
}
