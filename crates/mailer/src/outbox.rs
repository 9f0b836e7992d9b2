//! The embedded default transport: one `.eml` file per message in a directory.

use std::path::{Path, PathBuf};

use lettre::Message;
use tokio::fs;
use uuid::Uuid;

use crate::message::first_link;
use crate::{MailerError, OutgoingEmail};

pub(crate) struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the message as `<uuid v7>.eml` so files sort by time of sending.
    pub(crate) async fn write(
        &self,
        message: &Message,
        email: &OutgoingEmail,
    ) -> Result<(), MailerError> {
        self.ensure_dir().await?;
        let id = Uuid::now_v7();
        let path = self.dir.join(format!("{id}.eml"));
        // Write aside then rename, so whoever watches the outbox never reads half a message.
        let partial = self.dir.join(format!(".{id}.eml.partial"));
        if let Err(source) = fs::write(&partial, message.formatted()).await {
            return Err(MailerError::Outbox {
                path: partial,
                source,
            });
        }
        if let Err(source) = fs::rename(&partial, &path).await {
            // Best effort: the rename error is the one worth reporting.
            let _ = fs::remove_file(&partial).await;
            return Err(MailerError::Outbox { path, source });
        }
        match first_link(&email.text) {
            Some(link) => tracing::info!(
                path = %path.display(),
                to = %email.to,
                subject = %email.subject,
                link = %link,
                "e-mail written to the outbox"
            ),
            None => tracing::info!(
                path = %path.display(),
                to = %email.to,
                subject = %email.subject,
                "e-mail written to the outbox"
            ),
        }
        Ok(())
    }

    /// Creates and removes a probe file, which fails on a read-only or missing-permission dir.
    pub(crate) async fn ping(&self) -> Result<(), MailerError> {
        self.ensure_dir().await?;
        let probe = self.dir.join(format!(".ping-{}", Uuid::new_v4()));
        let outcome = match fs::write(&probe, b"").await {
            Ok(()) => fs::remove_file(&probe).await,
            Err(error) => Err(error),
        };
        outcome.map_err(|source| MailerError::Outbox {
            path: probe,
            source,
        })
    }

    async fn ensure_dir(&self) -> Result<(), MailerError> {
        fs::create_dir_all(&self.dir)
            .await
            .map_err(|source| MailerError::Outbox {
                path: self.dir.clone(),
                source,
            })
    }
}
