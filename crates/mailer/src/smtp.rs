//! The SMTP transport: lettre's pooled async client over rustls, configured from a URL.

use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use url::Url;

use crate::MailerError;

/// Long enough for a slow relay's greeting, short enough that a readiness probe or a signup
/// request does not hang for lettre's default minute.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) struct SmtpRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// Scheme, host, port and TLS mode: everything about the URL except its credentials.
    endpoint: String,
}

impl SmtpRelay {
    pub(crate) fn from_url(raw: &str) -> Result<Self, MailerError> {
        let url = Url::parse(raw).map_err(|error| MailerError::InvalidSmtpUrl {
            reason: error.to_string(),
        })?;
        let tls = url
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let default_port = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => 25,
            ("smtp", Some("required" | "opportunistic")) => 587,
            ("smtps", _) => 465,
            (scheme, tls) => {
                return Err(MailerError::InvalidSmtpUrl {
                    reason: format!(
                        "unsupported scheme {scheme:?} or tls mode {tls:?}; use smtp://, \
                         smtp://…?tls=required, smtp://…?tls=opportunistic or smtps://"
                    ),
                });
            }
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| MailerError::InvalidSmtpUrl {
                reason: "no host".to_owned(),
            })?;
        let port = url.port().unwrap_or(default_port);
        let mut endpoint = format!("{}://{host}:{port}", url.scheme());
        if let (Some(mode), "smtp") = (&tls, url.scheme()) {
            endpoint.push_str("?tls=");
            endpoint.push_str(mode);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(MailerError::NoRuntime);
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(raw)
            .map_err(|error| MailerError::InvalidSmtpUrl {
                reason: error.to_string(),
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self {
            transport,
            endpoint,
        })
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) async fn send(&self, message: Message) -> Result<(), MailerError> {
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|source| self.error(source))
    }

    pub(crate) async fn ping(&self) -> Result<(), MailerError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailerError::SmtpUnresponsive {
                server: self.endpoint.clone(),
            }),
            Err(source) => Err(self.error(source)),
        }
    }

    fn error(&self, source: lettre::transport::smtp::Error) -> MailerError {
        MailerError::Smtp {
            server: self.endpoint.clone(),
            source,
        }
    }
}
