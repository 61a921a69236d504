//! `lathe serve`: open and migrate the store, bind, serve HTTP or HTTPS, and shut down
//! gracefully on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::Handle;
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use lathe_edge::ProblemAcceptor;

use crate::auth::{Hasher, LoginLimiter};
use crate::authz::InstancePolicy;
use crate::config::ServeArgs;
use crate::connectors::Connectors;
use crate::http::metrics::Metrics;
use crate::http::parse_errors::unparsable_request;
use crate::mail::Mailer;
use crate::state::{AppState, Settings};
use crate::store::{AuditQueue, Store};
use crate::vault::Vault;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.store).await?;
    store.migrate().await?;
    if !store.instance_admin_exists().await? {
        tracing::warn!(
            "no instance admin exists yet: create one with `lathe admin create --email EMAIL` \
             (password on stdin)"
        );
    }

    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("binding {}", args.listen))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    let base_url = args.effective_base_url(bound);

    let vault = Vault::open(
        store.clone(),
        args.keys.master_key.as_ref(),
        &args.keys.key_file(&args.store.data_dir),
    )
    .await?;
    let connectors = Connectors::load(&args.connectors, &args.store.data_dir)?;

    let mailer = match &args.smtp_url {
        Some(url) => Some(Mailer::new(url.expose(), &args.smtp_from)?),
        None => None,
    };
    let state = Arc::new(AppState {
        store: store.clone(),
        hasher: Hasher::new()?,
        limiter: LoginLimiter::new(
            store.clone(),
            "login",
            args.login_account_limit,
            args.login_address_limit,
        ),
        reset_limiter: LoginLimiter::new(
            store.clone(),
            "reset",
            args.login_account_limit,
            args.login_address_limit,
        ),
        public_limiter: LoginLimiter::new(store.clone(), "public", 0, args.public_rate_limit),
        mailer,
        metrics: Metrics::default(),
        settings: Settings::new(
            base_url.clone(),
            Duration::from_secs(args.session_ttl_secs),
            Duration::from_secs(args.session_idle_secs),
            args.trusted_proxies.clone(),
        ),
        vault,
        connectors,
        run_audit: AuditQueue::start(store.clone())?,
        caches: Default::default(),
        instance_policy: InstancePolicy::build().await?,
    });
    let app = super::app(
        state,
        args.builder_dir.as_deref(),
        args.body_limit_bytes,
        Duration::from_secs(args.request_timeout_secs),
        super::AccessLog {
            every_request: args.access_log,
        },
    )
    .into_make_service_with_connect_info::<SocketAddr>();

    let handle: Handle<SocketAddr> = Handle::new();
    tokio::spawn(shutdown_on_signal(
        handle.clone(),
        Duration::from_secs(args.shutdown_grace_secs),
    ));
    let header_timeout = Duration::from_secs(args.header_timeout_secs);
    let send_timeout = Duration::from_secs(args.send_timeout_secs);

    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(address = %bound, %base_url, "lathe listening");
    // One line on stdout that scripts and tests can wait for.
    println!("lathe listening on {scheme}://{bound}");

    // HTTP/1.1 only: hyper's HTTP/2 server bounds neither how long a connection may stay idle
    // after its first request nor how long later requests' headers may take, so the header
    // limit would hold for the first request only. A proxy in front can speak HTTP/2 to
    // browsers.
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            // rustls needs one process-wide crypto provider; ring is the one the workspace builds.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| {
                    format!(
                        "loading TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            // HTTP/1.1 only (see below): offering h2 in the handshake would make clients that
            // prefer it fail to connect.
            let mut only_http1 = (*config.get_inner()).clone();
            only_http1.alpn_protocols = vec![b"http/1.1".to_vec()];
            config.reload_from_config(Arc::new(only_http1));
            let acceptor = ProblemAcceptor::new(
                RustlsAcceptor::new(config),
                send_timeout,
                unparsable_request,
            );
            let mut server = axum_server::from_tcp(listener)
                .context("serving the listener")?
                .acceptor(acceptor)
                .handle(handle)
                .first_request_timeout(header_timeout)
                .http1_only();
            server
                .http_builder()
                .http1()
                .timer(hyper_util_timer())
                .header_read_timeout(header_timeout);
            server.serve(app).await.context("serving HTTPS")?;
        }
        _ => {
            let mut server = axum_server::from_tcp(listener)
                .context("serving the listener")?
                .acceptor(ProblemAcceptor::new(
                    DefaultAcceptor,
                    send_timeout,
                    unparsable_request,
                ))
                .handle(handle)
                .first_request_timeout(header_timeout)
                .http1_only();
            server
                .http_builder()
                .http1()
                .timer(hyper_util_timer())
                .header_read_timeout(header_timeout);
            server.serve(app).await.context("serving HTTP")?;
        }
    }

    store.close().await;
    tracing::info!("lathe stopped");
    Ok(())
}

fn hyper_util_timer() -> hyper_util::rt::TokioTimer {
    hyper_util::rt::TokioTimer::new()
}

async fn shutdown_on_signal(handle: Handle<SocketAddr>, grace: Duration) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "can't listen for SIGTERM");
            let _ = ctrl_c.await;
            handle.graceful_shutdown(Some(grace));
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    handle.graceful_shutdown(Some(grace));
}
