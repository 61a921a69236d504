//! The start of a session: the startup message, authentication, the server's greeting
//! and the session settings.
//!
//! The settings pin everything the text-format type mapping depends on (UTC, ISO dates,
//! ISO 8601 intervals, round-trip floats, hex bytea), so that `types` can convert values
//! without asking the server how it formats them. Only the settings that connection
//! poolers such as PgBouncer pass through ride in the startup message; the others are
//! SET once authenticated, because PgBouncer refuses a startup message with settings it
//! does not know.

use crate::binding;
use crate::config::{Config, SslMode};
use crate::transport::{Socket, Transport};
use crate::wire::{Wire, server_error};
use lathe_plugin_sdk::Error;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{
    ChannelBinding, SCRAM_SHA_256, SCRAM_SHA_256_PLUS, ScramSha256,
};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

/// What the server tells a new session about itself.
#[derive(Debug, Default, Clone)]
pub struct Greeting {
    /// `server_version` as reported, `15.19 (Debian 15.19-0+deb12u1)`.
    pub server_version: String,
    /// How the server authenticated the user: `trust` (it asked for nothing), `password`,
    /// `md5`, `SCRAM-SHA-256` or `SCRAM-SHA-256-PLUS`.
    pub authentication: &'static str,
}

/// Sends the startup message, authenticates and applies the session settings; returns
/// once the server is ready for queries.
pub fn start<S: Socket>(wire: &mut Wire<Transport<S>>, config: &Config) -> Result<Greeting, Error> {
    let parameters = [
        ("user", config.username.as_str()),
        ("database", config.database.as_str()),
        ("application_name", "lathe"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, YMD"),
        ("TimeZone", "UTC"),
    ];
    frontend::startup_message(parameters, wire.out())
        .map_err(|e| Error::InvalidConfig(format!("the startup message can't be built: {e}")))?;
    wire.send()?;

    let authentication = authenticate(wire, config)?;
    let greeting = Greeting {
        authentication,
        ..greeting(wire)?
    };
    settle(wire, config, &greeting.server_version)?;
    Ok(greeting)
}

/// The session settings the type mapping relies on, and the statement timeout.
///
/// `standard_conforming_strings` is on because the connector reads statements the standard
/// way (a backslash is plain text in `'…'`): it finds templates, quoted text and comments
/// so. A role or database default of `off` would make the server read `'\''` differently,
/// and text the connector took for a string (comments included, which it counts against
/// the server's quadratic scanner) would be code to the server.
fn settings(config: &Config) -> String {
    let mut sql = String::from(
        "set IntervalStyle = iso_8601; set extra_float_digits = 3; set bytea_output = hex; \
         set standard_conforming_strings = on",
    );
    if let Some(timeout) = config.statement_timeout {
        sql.push_str(&format!(
            "; set statement_timeout = {}",
            timeout.as_millis()
        ));
    }
    sql
}

/// Asks the server to check every so often, while a statement runs, that the client is
/// still there. When the host kills an instance at its deadline the socket closes, and
/// without the check the server would run the abandoned statement to its end.
const CONNECTION_CHECK: &str = "set client_connection_check_interval = 2000";

/// Applies [`settings`] with one simple query (several statements), and then
/// [`CONNECTION_CHECK`] where the server has it (PostgreSQL 14 and later, on platforms
/// with the needed poll flag), in the same round trip. The check is a second query
/// because a failure inside one query undoes the whole query, and its failure is fine.
pub fn settle<S: Socket>(
    wire: &mut Wire<Transport<S>>,
    config: &Config,
    server_version: &str,
) -> Result<(), Error> {
    frontend::query(&settings(config), wire.out()).map_err(encode_error)?;
    let check = major_version(server_version).is_some_and(|major| major >= 14);
    if check {
        frontend::query(CONNECTION_CHECK, wire.out()).map_err(encode_error)?;
    }
    wire.send()?;

    let mut failure = None;
    let mut pending = if check { 2 } else { 1 };
    let mut first = true;
    loop {
        match wire.receive()? {
            Message::ReadyForQuery(_) => {
                pending -= 1;
                first = false;
                if pending == 0 {
                    return failure.map_or(Ok(()), Err);
                }
            }
            Message::ErrorResponse(body) if first => {
                failure = Some(server_error(body.fields()));
            }
            Message::ErrorResponse(_)
            | Message::CommandComplete(_)
            | Message::ParameterStatus(_)
            | Message::NoticeResponse(_) => {}
            _ => return Err(unexpected("the session settings")),
        }
    }
}

/// `15` from `15.19 (Debian 15.19-0+deb12u1)`, `9` from `9.6.24`.
fn major_version(server_version: &str) -> Option<u32> {
    let digits: String = server_version
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Answers the server's challenges until it accepts; returns the method it used.
fn authenticate<S: Socket>(
    wire: &mut Wire<Transport<S>>,
    config: &Config,
) -> Result<&'static str, Error> {
    let mut method = "trust";
    loop {
        match wire.receive()? {
            Message::AuthenticationOk => return Ok(method),
            Message::AuthenticationCleartextPassword => {
                method = "password";
                cleartext_allowed(config, wire.stream())?;
                frontend::password_message(password(config)?.as_bytes(), wire.out())
                    .map_err(encode_error)?;
                wire.send()?;
            }
            Message::AuthenticationMd5Password(body) => {
                method = "md5";
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
                let (mechanism, channel_binding) = choose_scram(&offered, wire.stream())?;
                scram(wire, password(config)?, mechanism, channel_binding)?;
                method = mechanism;
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

/// The password goes out as it is only over TLS with a verified certificate, or when the
/// datasource allows it. Over plain TCP anyone on the path reads it; over TLS without
/// verification, a server impersonating the real one (which is how it would come to ask
/// for it in clear text) does.
fn cleartext_allowed<S: Socket>(config: &Config, transport: &Transport<S>) -> Result<(), Error> {
    let verified = transport.is_tls() && config.ssl_mode == SslMode::VerifyFull;
    if verified || config.allow_cleartext_password {
        return Ok(());
    }
    let over = if transport.is_tls() {
        "TLS whose certificate is not verified"
    } else {
        "an unencrypted connection"
    };
    Err(Error::Unsupported(format!(
        "the server asks for the password in clear text over {over}; refused so that the \
         password is not exposed. Use ssl_mode verify-full, have the server use \
         scram-sha-256, or set allow_cleartext_password if the network is trusted"
    )))
}

/// SCRAM-SHA-256-PLUS, bound to the TLS certificate, when the server offers it over TLS;
/// plain SCRAM-SHA-256 otherwise, telling the server whether the client could have bound
/// (so that a middle that stripped the PLUS offer is caught by the server).
fn choose_scram<S: Socket>(
    offered: &[String],
    transport: &Transport<S>,
) -> Result<(&'static str, ChannelBinding), Error> {
    let offers = |name: &str| offered.iter().any(|m| m == name);
    let hash = transport
        .server_certificate()
        .and_then(binding::end_point_hash);
    match hash {
        Some(hash) if offers(SCRAM_SHA_256_PLUS) => Ok((
            SCRAM_SHA_256_PLUS,
            ChannelBinding::tls_server_end_point(hash),
        )),
        _ if !offers(SCRAM_SHA_256) => Err(Error::Unsupported(format!(
            "the server offers SASL mechanisms {offered:?}; this connector supports \
             {SCRAM_SHA_256}, and {SCRAM_SHA_256_PLUS} over TLS"
        ))),
        Some(_) => Ok((SCRAM_SHA_256, ChannelBinding::unrequested())),
        None => Ok((SCRAM_SHA_256, ChannelBinding::unsupported())),
    }
}

/// The SCRAM exchange. The final message proves that the server knows the password too;
/// `finish` refuses a server that can't prove it.
fn scram<S: Socket>(
    wire: &mut Wire<Transport<S>>,
    password: &str,
    mechanism: &str,
    channel_binding: ChannelBinding,
) -> Result<(), Error> {
    let mut scram = ScramSha256::new(password.as_bytes(), channel_binding);
    frontend::sasl_initial_response(mechanism, scram.message(), wire.out())
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
            // The key would serve a CancelRequest, which is not sent: by the time a call's
            // deadline passes the host has stopped the guest. Instead the host keeps
            // statement_timeout under the call's limit (README, "Statements never outlive
            // the call"), so the server cancels a statement itself.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn statement_timeout_joins_the_settings_only_when_set() {
        let mut config =
            Config::from_json(&serde_json::json!({"host": "h", "username": "u"})).unwrap();
        assert!(!settings(&config).contains("statement_timeout"));
        config.statement_timeout = Some(Duration::from_millis(250));
        assert!(settings(&config).ends_with("; set statement_timeout = 250"));
    }

    #[test]
    fn major_versions_are_read_from_old_and_new_version_strings() {
        assert_eq!(major_version("15.19 (Debian 15.19-0+deb12u1)"), Some(15));
        assert_eq!(major_version("9.6.24"), Some(9));
        assert_eq!(major_version("17beta1"), Some(17));
        assert_eq!(major_version(""), None);
    }
}
