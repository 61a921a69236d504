//! The start of a session: the startup message, authentication and the server's greeting.
//!
//! The session parameters sent at startup pin every setting the text-format type mapping
//! depends on (UTC, ISO dates, ISO 8601 intervals, round-trip floats), so that `types`
//! can convert values without asking the server how it formats them.

use crate::config::Config;
use crate::transport::{Socket, Transport};
use crate::wire::{Wire, server_error};
use lathe_plugin_sdk::Error;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

/// What the server tells a new session about itself.
#[derive(Debug, Default, Clone)]
pub struct Greeting {
    /// `server_version` as reported, `15.19 (Debian 15.19-0+deb12u1)`.
    pub server_version: String,
}

/// Sends the startup message and authenticates; returns once the server is ready for
/// queries.
pub fn start<S: Socket>(wire: &mut Wire<Transport<S>>, config: &Config) -> Result<Greeting, Error> {
    let statement_timeout = config.statement_timeout.map(|t| t.as_millis().to_string());
    let mut parameters = vec![
        ("user", config.username.as_str()),
        ("database", config.database.as_str()),
        ("application_name", "lathe"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, YMD"),
        ("TimeZone", "UTC"),
        ("IntervalStyle", "iso_8601"),
        ("extra_float_digits", "3"),
        ("bytea_output", "hex"),
    ];
    // Any server setting may ride in the startup message; this one bounds every
    // statement of the session without a SET round trip.
    if let Some(ms) = &statement_timeout {
        parameters.push(("statement_timeout", ms));
    }
    frontend::startup_message(parameters, wire.out())
        .map_err(|e| Error::InvalidConfig(format!("the startup message can't be built: {e}")))?;
    wire.send()?;

    authenticate(wire, config)?;
    greeting(wire)
}

fn authenticate<S: Socket>(wire: &mut Wire<Transport<S>>, config: &Config) -> Result<(), Error> {
    loop {
        match wire.receive()? {
            Message::AuthenticationOk => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(password(config)?.as_bytes(), wire.out())
                    .map_err(encode_error)?;
                wire.send()?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hash = md5_hash(
                    config.username.as_bytes(),
                    password(config)?.as_bytes(),
                    body.salt(),
                );
                frontend::password_message(hash.as_bytes(), wire.out()).map_err(encode_error)?;
                wire.send()?;
            }
            Message::AuthenticationSasl(body) => {
                use fallible_iterator::FallibleIterator;
                let offered: Vec<String> =
                    body.mechanisms()
                        .map(|m| Ok(m.to_string()))
                        .collect()
                        .map_err(|e| Error::Connection(format!("bad SASL offer: {e}")))?;
                if !offered.iter().any(|m| m == SCRAM_SHA_256) {
                    return Err(Error::Unsupported(format!(
                        "the server offers SASL mechanisms {offered:?}; only {SCRAM_SHA_256} \
                         is supported"
                    )));
                }
                scram(wire, password(config)?)?;
            }
            Message::ErrorResponse(body) => return Err(server_error(body.fields())),
            Message::NoticeResponse(_) => {}
            _ => {
                return Err(Error::Unsupported(
                    "the server asks for an authentication method other than SCRAM-SHA-256, \
                     md5, password or trust (Kerberos, GSSAPI and SSPI are not supported)"
                        .into(),
                ));
            }
        }
    }
}

/// SCRAM-SHA-256 without channel binding. The final message proves that the server knows
/// the password too; `finish` refuses a server that can't prove it.
fn scram<S: Socket>(wire: &mut Wire<Transport<S>>, password: &str) -> Result<(), Error> {
    // TODO: offer SCRAM-SHA-256-PLUS (tls-server-end-point binding) over TLS; it needs the
    // server certificate's signature hash, which rustls exposes but this code does not
    // compute yet. Without it a man in the middle with a trusted certificate could relay.
    let mut scram = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
    frontend::sasl_initial_response(SCRAM_SHA_256, scram.message(), wire.out())
        .map_err(encode_error)?;
    wire.send()?;

    let body = match wire.receive()? {
        Message::AuthenticationSaslContinue(body) => body,
        Message::ErrorResponse(body) => return Err(server_error(body.fields())),
        _ => return Err(unexpected("SCRAM challenge")),
    };
    scram
        .update(body.data())
        .map_err(|e| Error::Connection(format!("SCRAM exchange failed: {e}")))?;
    frontend::sasl_response(scram.message(), wire.out()).map_err(encode_error)?;
    wire.send()?;

    match wire.receive()? {
        Message::AuthenticationSaslFinal(body) => scram.finish(body.data()).map_err(|e| {
            Error::Connection(format!(
                "the server failed to prove it knows the password: {e}"
            ))
        }),
        Message::ErrorResponse(body) => Err(server_error(body.fields())),
        _ => Err(unexpected("SCRAM final message")),
    }
}

/// Reads the parameter reports and the backend key up to the first ReadyForQuery.
fn greeting<S: Socket>(wire: &mut Wire<Transport<S>>) -> Result<Greeting, Error> {
    let mut greeting = Greeting::default();
    loop {
        match wire.receive()? {
            Message::ReadyForQuery(_) => return Ok(greeting),
            // TODO: keep the key once something sends CancelRequest; the host's deadline
            // and statement_timeout are the only ways to stop a statement for now.
            Message::BackendKeyData(_) => {}
            Message::ParameterStatus(body) => {
                if body.name().ok() == Some("server_version") {
                    greeting.server_version = body.value().unwrap_or_default().to_string();
                }
            }
            Message::ErrorResponse(body) => return Err(server_error(body.fields())),
            Message::NoticeResponse(_) => {}
            _ => return Err(unexpected("session start")),
        }
    }
}

fn password(config: &Config) -> Result<&str, Error> {
    config.password.as_ref().map(|p| p.expose()).ok_or_else(|| {
        Error::InvalidConfig(format!(
            "the server asks for a password for `{}`, and the datasource has none",
            config.username
        ))
    })
}

fn encode_error(e: std::io::Error) -> Error {
    Error::InvalidConfig(format!("a message can't be encoded: {e}"))
}

pub fn unexpected(during: &str) -> Error {
    Error::Connection(format!(
        "the server sent an unexpected message during {during}"
    ))
}
