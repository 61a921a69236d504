//! Structured logs on standard error: human-readable text or one JSON object per line.
//! `RUST_LOG` overrides the default `info` level.

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry, fmt};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    // Without RUST_LOG, a plain level: `EnvFilter` takes a lock on every entry into and exit
    // from a span (the request's span is entered at each poll of its future), which is
    // worth paying only for per-target directives.
    let (directives, level) = match std::env::var_os("RUST_LOG") {
        Some(_) => (
            Some(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))),
            LevelFilter::TRACE,
        ),
        None => (None, LevelFilter::INFO),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Json => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .boxed(),
    };
    // A second call (tests, or a command that initialises twice) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(directives)
        .with(level)
        .try_init();
}
