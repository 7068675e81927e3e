//! Email through SMTP (lettre).

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::Error;
use crate::config::{SmtpConfig, SmtpTls};

/// An SMTP client with its sender address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// Builds the transport (no connection is made until the first email).
    pub fn new(config: &SmtpConfig) -> Result<Self, Error> {
        let bad = |e: &dyn std::fmt::Display| Error::Config(format!("smtp: {e}"));
        let mut builder = match config.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            }
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| bad(&e))?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(|e| bad(&e))?
            }
        }
        .port(config.port)
        .timeout(Some(config.timeout));
        let password = match (&config.password, &config.password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(file)) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| bad(&format!("password_file {}: {e}", file.display())))?
                    .trim_end()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        if let (Some(user), Some(password)) = (&config.username, password) {
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let from = config.from.parse().map_err(|e| bad(&e))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Sends a plain-text email to every recipient.
    pub async fn send(&self, to: &[String], subject: &str, body: &str) -> Result<String, String> {
        let mut message = Message::builder().from(self.from.clone()).subject(subject);
        for recipient in to {
            let mailbox: Mailbox = recipient
                .parse()
                .map_err(|e| format!("recipient `{recipient}`: {e}"))?;
            message = message.to(mailbox);
        }
        let message = message
            .body(body.to_owned())
            .map_err(|e| format!("cannot build the email: {e}"))?;
        let response = self
            .transport
            .send(message)
            .await
            .map_err(|e| format!("SMTP: {e}"))?;
        Ok(format!(
            "SMTP {}: {}",
            response.code(),
            response.message().collect::<Vec<_>>().join(" ")
        ))
    }
}
