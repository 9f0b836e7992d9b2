//! The bounded on-disk spool: batches the backend could not take wait here, one JSON-lines file
//! per batch named by a growing sequence number, and are replayed oldest first.
//!
//! Files are written to a temporary name and renamed, so a crash never leaves half a batch
//! under a replayable name; a spool left by a previous process is picked up on start. One
//! process owns a spool directory at a time (an exclusive lock on `<dir>/lock`), so two
//! processes sharing a data directory never replay the same batch twice.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use crate::RequestEvent;

const EXTENSION: &str = "jsonl";

/// One spooled batch.
#[derive(Debug)]
struct Entry {
    path: PathBuf,
    bytes: u64,
    rows: u64,
}

/// The spool directory and its accounting.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    entries: VecDeque<Entry>,
    bytes: u64,
    next_seq: u64,
    /// Holds the directory's exclusive lock for as long as the spool lives.
    _lock: std::fs::File,
}

/// What [`Spool::push`] did with a batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    Stored,
    /// The spool is full: the batch was not stored.
    Full,
}

impl Spool {
    /// Opens (creating it if needed) the spool in `dir`, picking up batches already there.
    pub(crate) async fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        tokio::fs::create_dir_all(dir).await?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                "the spool directory is in use by another process",
            ),
            std::fs::TryLockError::Error(e) => e,
        })?;
        let mut found = Vec::new();
        let mut read = tokio::fs::read_dir(dir).await?;
        while let Some(entry) = read.next_entry().await? {
            let path = entry.path();
            let seq = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(seq) = seq
                && path.extension().is_some_and(|e| e == EXTENSION)
            {
                let bytes = entry.metadata().await?.len();
                let text = tokio::fs::read_to_string(&path).await?;
                let rows = text.lines().filter(|l| !l.is_empty()).count() as u64;
                found.push((seq, Entry { path, bytes, rows }));
            }
        }
        found.sort_by_key(|(seq, _)| *seq);
        let next_seq = found.last().map_or(0, |(seq, _)| seq + 1);
        let bytes = found.iter().map(|(_, e)| e.bytes).sum();
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            entries: found.into_iter().map(|(_, e)| e).collect(),
            bytes,
            next_seq,
            _lock: lock,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes on disk.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Rows waiting on disk.
    pub(crate) fn rows(&self) -> u64 {
        self.entries.iter().map(|e| e.rows).sum()
    }

    /// Appends `events` as the newest batch, unless that would exceed the size bound.
    pub(crate) async fn push(&mut self, events: &[RequestEvent]) -> io::Result<Pushed> {
        let mut text = String::new();
        for event in events {
            text.push_str(&serde_json::to_string(event).map_err(io::Error::other)?);
            text.push('\n');
        }
        let bytes = text.len() as u64;
        if self.bytes + bytes > self.max_bytes {
            return Ok(Pushed::Full);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let path = self.dir.join(format!("{seq:020}.{EXTENSION}"));
        let tmp = self.dir.join(format!("{seq:020}.tmp"));
        tokio::fs::write(&tmp, text).await?;
        tokio::fs::rename(&tmp, &path).await?;
        self.bytes += bytes;
        self.entries.push_back(Entry {
            path,
            bytes,
            rows: events.len() as u64,
        });
        Ok(Pushed::Stored)
    }

    /// The oldest batch, or `None` when empty. A batch that cannot be decoded is returned as an
    /// error with its row count, so the caller can count and discard it.
    pub(crate) async fn front(&self) -> Option<Result<Vec<RequestEvent>, u64>> {
        let entry = self.entries.front()?;
        let decoded = match tokio::fs::read_to_string(&entry.path).await {
            Ok(text) => text
                .lines()
                .filter(|l| !l.is_empty())
                .map(serde_json::from_str::<RequestEvent>)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| entry.rows),
            Err(_) => Err(entry.rows),
        };
        Some(decoded)
    }

    /// Removes the oldest batch.
    pub(crate) async fn pop_front(&mut self) -> io::Result<()> {
        if let Some(entry) = self.entries.pop_front() {
            self.bytes = self.bytes.saturating_sub(entry.bytes);
            match tokio::fs::remove_file(&entry.path).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_come_back_in_order_across_reopen_and_the_bound_holds() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 10_000).await.unwrap();
        let batch = |n: usize| {
            (0..n)
                .map(|i| RequestEvent {
                    ts: chrono::DateTime::from_timestamp_millis(1_769_903_999_999).unwrap(),
                    ..RequestEvent::new(&format!("r{n}-{i}"), "o", "s", "m")
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(spool.push(&batch(1)).await.unwrap(), Pushed::Stored);
        assert_eq!(spool.push(&batch(2)).await.unwrap(), Pushed::Stored);
        assert_eq!(spool.push(&batch(500)).await.unwrap(), Pushed::Full);
        assert_eq!(spool.rows(), 3);

        assert_eq!(
            Spool::open(dir.path(), 10_000).await.unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "one owner at a time"
        );
        drop(spool);
        let mut reopened = Spool::open(dir.path(), 10_000).await.unwrap();
        assert_eq!(reopened.rows(), 3);
        let first = reopened.front().await.unwrap().unwrap();
        assert_eq!(first, batch(1));
        reopened.pop_front().await.unwrap();
        assert_eq!(reopened.front().await.unwrap().unwrap(), batch(2));
        reopened.pop_front().await.unwrap();
        assert!(reopened.is_empty());
        assert_eq!(reopened.bytes(), 0);
        assert!(reopened.front().await.is_none());
    }
}
