//! Outgoing e-mail for Keyway (verification links, invitations, password resets).
//!
//! A [`Mailer`] delivers through one of two transports chosen at construction:
//!
//! - **SMTP** (`smtp://`, `smtp://…?tls=required|opportunistic` for STARTTLS, `smtps://` for
//!   implicit TLS), through lettre's pooled async transport over rustls. Credentials come from
//!   the URL's userinfo and never appear in `Debug` output, [`Mailer::describe`], errors or logs.
//! - **Outbox**, the embedded default: every message is written as an `.eml` file into a
//!   directory and the first link of its text body is logged at info level, so someone running
//!   Keyway on a laptop without a mail server can still follow a verification link.

mod error;
mod message;
mod outbox;
mod smtp;

use std::fmt;
use std::path::Path;

use lettre::message::Mailbox;

pub use crate::error::MailerError;
use crate::outbox::Outbox;
use crate::smtp::SmtpRelay;

/// One e-mail to send: a plain-text body and, optionally, an HTML alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Recipient, as `user@example.com` or `Name <user@example.com>`.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body; always sent, and where the outbox looks for the link it logs.
    pub text: String,
    /// HTML body; when set the message becomes `multipart/alternative` (text, then HTML).
    pub html: Option<String>,
}

/// Sends [`OutgoingEmail`]s through SMTP or into an on-disk outbox.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    Smtp(SmtpRelay),
    Outbox(Outbox),
}

impl Mailer {
    /// Builds a mailer sending as `from`.
    ///
    /// With `smtp_url` set, mail goes to that SMTP server (see the crate docs for the URL forms);
    /// with `None`, it is written under `outbox_dir`, created on first use. An SMTP mailer must be
    /// built inside a Tokio runtime (its connection pool runs a cleanup task there).
    pub fn new(smtp_url: Option<&str>, from: &str, outbox_dir: &Path) -> Result<Self, MailerError> {
        let from = message::parse_mailbox("sender", from)?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(SmtpRelay::from_url(url)?),
            None => Transport::Outbox(Outbox::new(outbox_dir)),
        };
        Ok(Self { from, transport })
    }

    /// Sends one message; returns once the SMTP server accepted it or the `.eml` file is in place.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), MailerError> {
        let built = message::build(&self.from, email)?;
        match &self.transport {
            Transport::Smtp(relay) => relay.send(built).await,
            Transport::Outbox(outbox) => outbox.write(&built, email).await,
        }
    }

    /// Readiness check: the SMTP server answers `NOOP`, or the outbox directory is writable.
    pub async fn ping(&self) -> Result<(), MailerError> {
        match &self.transport {
            Transport::Smtp(relay) => relay.ping().await,
            Transport::Outbox(outbox) => outbox.ping().await,
        }
    }

    /// Where mail goes, safe to log: `smtp://host:port` (with `?tls=…` when set, never
    /// credentials), `smtps://host:port`, or `outbox:<dir>`.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(relay) => relay.endpoint().to_owned(),
            Transport::Outbox(outbox) => format!("outbox:{}", outbox.dir().display()),
        }
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &self.describe())
            .finish()
    }
}
