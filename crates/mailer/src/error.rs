//! The mailer's error type. No variant carries SMTP credentials.

use std::path::PathBuf;

/// Why a [`Mailer`](crate::Mailer) could not be built, send, or answer a ping.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The SMTP URL is malformed or uses an unsupported scheme or `tls` mode.
    #[error("invalid SMTP URL: {reason}")]
    InvalidSmtpUrl {
        /// What is wrong, without repeating the URL (it may hold a password).
        reason: String,
    },
    /// An SMTP mailer was built outside a Tokio runtime.
    #[error("the SMTP mailer must be created inside a Tokio runtime")]
    NoRuntime,
    /// A sender or recipient is not a valid mailbox.
    #[error("invalid {role} address {address:?}: {source}")]
    InvalidAddress {
        /// `sender` or `recipient`.
        role: &'static str,
        /// The address as given.
        address: String,
        /// What lettre found wrong with it.
        #[source]
        source: lettre::address::AddressError,
    },
    /// The message could not be assembled.
    #[error("could not build the e-mail: {0}")]
    Build(#[from] lettre::error::Error),
    /// The SMTP server could not be reached or refused the message.
    #[error("SMTP server {server}: {source}")]
    Smtp {
        /// The server, as [`Mailer::describe`](crate::Mailer::describe) prints it.
        server: String,
        /// The transport error (connection, TLS, authentication or an SMTP reply).
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The SMTP server accepted a connection but did not answer `NOOP`.
    #[error("SMTP server {server} did not answer NOOP")]
    SmtpUnresponsive {
        /// The server, as [`Mailer::describe`](crate::Mailer::describe) prints it.
        server: String,
    },
    /// The outbox directory or a file in it could not be written.
    #[error("outbox {}: {source}", path.display())]
    Outbox {
        /// The directory or file concerned.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
