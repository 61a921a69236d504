//! Authentication and TLS against a throwaway cluster of the test's own: the machine's
//! server trusts everyone, so it can't show that a password or a certificate is checked.

mod common;

use common::{
    Cluster, MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER, TRUST_USER, connect, remote_error,
    scalar,
};
use lathe_plugin_sdk::{Error, Value};

fn connection_error(result: Result<common::Conn, Error>) -> String {
    match result {
        Err(Error::Connection(message)) => message,
        Err(other) => panic!("expected a connection error, got {other:?}"),
        Ok(_) => panic!("expected a connection error, connected"),
    }
}

#[test]
fn scram_md5_and_trust_roles_authenticate() {
    let cluster = Cluster::start();

    let mut scram = connect(&cluster.config(SCRAM_USER, Some(SCRAM_PASSWORD), "disable")).unwrap();
    assert_eq!(
        scalar(&mut scram, "select current_user::text"),
        Value::Text(SCRAM_USER.into())
    );
    let mut md5 = connect(&cluster.config(MD5_USER, Some(MD5_PASSWORD), "disable")).unwrap();
    assert_eq!(
        scalar(&mut md5, "select current_user::text"),
        Value::Text(MD5_USER.into())
    );
    let mut trust = connect(&cluster.config(TRUST_USER, None, "disable")).unwrap();
    trust.test().unwrap();

    let methods: Vec<&str> = [&mut scram, &mut md5, &mut trust]
        .into_iter()
        .map(|conn| conn.session().greeting().authentication)
        .collect();
    assert_eq!(methods, ["SCRAM-SHA-256", "md5", "trust"]);
}

#[test]
fn wrong_or_missing_passwords_are_refused() {
    let cluster = Cluster::start();

    assert_eq!(
        remote_error(connect(&cluster.config(
            SCRAM_USER,
            Some("wrong"),
            "disable"
        )))
        .code,
        "28P01"
    );
    assert_eq!(
        remote_error(connect(&cluster.config(MD5_USER, Some("wrong"), "disable"))).code,
        "28P01"
    );
    match connect(&cluster.config(SCRAM_USER, None, "disable")) {
        Err(Error::InvalidConfig(m)) => assert!(m.contains("password"), "{m}"),
        other => panic!("expected invalid-config, got {:?}", other.err()),
    }
}

#[test]
fn tls_modes_encrypt_as_configured() {
    let cluster = Cluster::start();
    let in_tls = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";

    let mut plain = connect(&cluster.config(SCRAM_USER, Some(SCRAM_PASSWORD), "disable")).unwrap();
    assert_eq!(scalar(&mut plain, in_tls), Value::Boolean(false));
    assert!(!plain.session().is_tls());

    for mode in ["prefer", "require"] {
        let mut conn = connect(&cluster.config(SCRAM_USER, Some(SCRAM_PASSWORD), mode)).unwrap();
        assert_eq!(scalar(&mut conn, in_tls), Value::Boolean(true), "{mode}");
        assert!(conn.session().is_tls());
        // Over TLS the password exchange is bound to the server's certificate.
        assert_eq!(
            conn.session().greeting().authentication,
            "SCRAM-SHA-256-PLUS"
        );
        // The suite that is fast without AES instructions (see transport.rs).
        assert_eq!(
            scalar(
                &mut conn,
                "select cipher from pg_stat_ssl where pid = pg_backend_pid()"
            ),
            Value::Text("TLS_CHACHA20_POLY1305_SHA256".into())
        );
    }
}

#[test]
fn verify_full_accepts_the_right_ca_and_host_name() {
    let cluster = Cluster::start();
    let mut config = cluster.config(MD5_USER, Some(MD5_PASSWORD), "verify-full");
    config["ssl_root_cert"] = cluster.ca_pem.clone().into();

    let mut conn = connect(&config).unwrap();
    assert_eq!(
        scalar(
            &mut conn,
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()"
        ),
        Value::Boolean(true)
    );
}

#[test]
fn verify_full_refuses_an_unknown_ca_or_another_host_name() {
    let cluster = Cluster::start();

    // No extra root: only the public web roots, which never signed the test CA.
    let config = cluster.config(TRUST_USER, None, "verify-full");
    let message = connection_error(connect(&config));
    assert!(message.contains("UnknownIssuer"), "{message}");

    let mut config = cluster.config(TRUST_USER, None, "verify-full");
    config["ssl_root_cert"] = cluster.other_ca_pem.clone().into();
    let message = connection_error(connect(&config));
    assert!(message.contains("UnknownIssuer"), "{message}");

    // The right CA, but the certificate names `localhost` and not 127.0.0.1.
    let mut config = cluster.config(TRUST_USER, None, "verify-full");
    config["ssl_root_cert"] = cluster.ca_pem.clone().into();
    config["host"] = "127.0.0.1".into();
    let message = connection_error(connect(&config));
    assert!(message.contains("not valid for name"), "{message}");

    // The same certificate is fine for `require`, which encrypts without verifying.
    let config = cluster.config(TRUST_USER, None, "require");
    connect(&config).unwrap().test().unwrap();
}

#[test]
fn prefer_falls_back_to_plain_tcp_only_when_the_server_has_no_tls() {
    let cluster = Cluster::start();
    let mut admin = connect(&cluster.config("postgres", None, "disable")).unwrap();
    common::query(&mut admin, "alter system set ssl = off", &[]).unwrap();
    common::query(&mut admin, "select pg_reload_conf()", &[]).unwrap();

    // The reload is asynchronous: wait until new sessions see it.
    let in_tls = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";
    let mut plain = None;
    for _ in 0..50 {
        let mut conn =
            connect(&cluster.config(SCRAM_USER, Some(SCRAM_PASSWORD), "prefer")).unwrap();
        if scalar(&mut conn, in_tls) == Value::Boolean(false) {
            plain = Some(conn);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        !plain
            .expect("prefer connects without TLS")
            .session()
            .is_tls()
    );

    for mode in ["require", "verify-full"] {
        let message = connection_error(connect(&cluster.config(
            SCRAM_USER,
            Some(SCRAM_PASSWORD),
            mode,
        )));
        assert!(message.contains("does not accept TLS"), "{mode}: {message}");
    }
}

#[test]
fn a_quiet_tls_session_is_usable_and_a_terminated_one_is_gone() {
    let cluster = Cluster::start();
    let config = cluster.config(SCRAM_USER, Some(SCRAM_PASSWORD), "require");
    let mut conn = connect(&config).unwrap();
    assert!(conn.session().is_tls());
    // Nothing the TLS layer sends after the handshake (session tickets) reads as a goodbye.
    for _ in 0..3 {
        assert!(!conn.is_gone());
        assert_eq!(scalar(&mut conn, "select 1"), Value::Int(1));
    }
    let pid = match scalar(&mut conn, "select pg_backend_pid()") {
        Value::Int(pid) => pid,
        other => panic!("pg_backend_pid() gave {other:?}"),
    };

    let mut other = connect(&config).unwrap();
    scalar(&mut other, &format!("select pg_terminate_backend({pid})"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !conn.is_gone() {
        assert!(std::time::Instant::now() < deadline, "still looks usable");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!other.is_gone());
}
