//! Outgoing email over SMTP (lettre). Messages are sent from a background task: the HTTP
//! answer never waits on, or reveals, what the mail server did. Failures are logged without
//! the message body, which carries a single-use token.

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(smtp_url: &str, from: &str) -> anyhow::Result<Mailer> {
        // The URL may carry credentials: never include it in an error.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| anyhow::anyhow!("LATHE_SMTP_URL is not a usable SMTP URL: {e}"))?
            .build();
        let from = from
            .parse()
            .context("LATHE_SMTP_FROM is not an email address")?;
        Ok(Mailer { transport, from })
    }

    /// Queues a plain-text message to `to`.
    pub fn send(&self, to: &str, subject: &str, body: String) {
        let to: Mailbox = match to.parse() {
            Ok(to) => to,
            Err(e) => {
                tracing::warn!(error = %e, "mail.send: unusable recipient address");
                return;
            }
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "mail.send: building the message failed");
                return;
            }
        };
        let transport = self.transport.clone();
        let subject = subject.to_string();
        tokio::spawn(async move {
            match transport.send(message).await {
                Ok(_) => tracing::info!(%subject, "mail.send: delivered to the SMTP server"),
                Err(e) => tracing::error!(%subject, error = %e, "mail.send: SMTP delivery failed"),
            }
        });
    }
}
