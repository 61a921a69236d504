//! HTTPS with rustls when a certificate and key are configured. Uses the machine's `openssl`
//! (to make a throwaway certificate) and `curl` (as a TLS client that trusts only it).

mod common;

use std::path::Path;
use std::process::Command;

use common::{ADMIN_EMAIL, ADMIN_PASSWORD, Server};

fn make_cert(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl is installed");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn curl(cert: &Path, args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "30", "--cacert"])
        .arg(cert)
        .args(args)
        .output()
        .expect("curl is installed");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn with_a_certificate_lathe_serves_https_only_and_marks_cookies_secure() {
    let certs = tempfile::tempdir().unwrap();
    make_cert(certs.path());
    let cert = certs.path().join("cert.pem");
    let key = certs.path().join("key.pem");
    let server = Server::start_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    assert!(
        server
            .store
            .admin_create(ADMIN_EMAIL, ADMIN_PASSWORD)
            .status
            .success()
    );

    let live = curl(&cert, &[&format!("{}/livez", server.url)]);
    assert!(
        live.starts_with("HTTP/2 200") || live.starts_with("HTTP/1.1 200"),
        "{live}"
    );

    let body = format!("{{\"email\":\"{ADMIN_EMAIL}\",\"password\":\"{ADMIN_PASSWORD}\"}}");
    let login = curl(
        &cert,
        &[
            "-H",
            "content-type: application/json",
            "-H",
            &format!("origin: {}", server.url),
            "--data",
            &body,
            &format!("{}/api/v1/auth/login", server.url),
        ],
    );
    let set_cookie = login
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie in {login}"));
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = curl(
        &cert,
        &[&format!(
            "{}/livez",
            server.url.replace("https://", "http://")
        )],
    );
    assert!(!plain.contains("200"), "{plain}");
}
