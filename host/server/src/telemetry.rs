//! Structured logs on standard error: human-readable text or one JSON object per line.
//! `RUST_LOG` overrides the default `info` level.

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry, fmt};

use crate::config::LogFormat;

/// A log field's text that may come from outside (a host name a builder typed, a
/// connector's message): control characters are written escaped (`\n`, `\u{1b}`), so the
/// value can neither start a log line of its own nor drive a terminal, in the text format
/// too (the JSON format escapes them anyway).
pub struct Escaped<'a>(pub &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

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

#[cfg(test)]
mod tests {
    use super::Escaped;

    #[test]
    fn escaped_text_keeps_to_one_line() {
        let typed = "evil.invalid\nINJECTED level=ERROR\r\u{1b}[31mred\u{7f}é";
        let shown = Escaped(typed).to_string();
        assert_eq!(
            shown,
            "evil.invalid\\nINJECTED level=ERROR\\r\\u{1b}[31mred\\u{7f}é"
        );
        assert!(!shown.chars().any(char::is_control));
    }
}
