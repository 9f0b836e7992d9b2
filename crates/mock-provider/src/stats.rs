//! Request counters and the drop guard that tells a finished request from an abandoned one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Which provider's wire format a route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Cohere,
}

#[derive(Debug, Default)]
struct Counters {
    started: AtomicU64,
    completed: AtomicU64,
    cancelled: AtomicU64,
    cut: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> SurfaceStats {
        SurfaceStats {
            started: self.started.load(Ordering::Relaxed),
            completed: self.completed.load(Ordering::Relaxed),
            cancelled: self.cancelled.load(Ordering::Relaxed),
            cut: self.cut.load(Ordering::Relaxed),
        }
    }
}

/// Live counters shared by every worker.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    connections: AtomicU64,
    openai: Counters,
    anthropic: Counters,
    gemini: Counters,
    bedrock: Counters,
    cohere: Counters,
}

impl Stats {
    fn counters(&self, surface: Surface) -> &Counters {
        match surface {
            Surface::OpenAi => &self.openai,
            Surface::Anthropic => &self.anthropic,
            Surface::Gemini => &self.gemini,
            Surface::Bedrock => &self.bedrock,
            Surface::Cohere => &self.cohere,
        }
    }

    /// Counts a request as started; the guard counts how it ends.
    pub fn begin(self: &Arc<Self>, surface: Surface) -> RequestGuard {
        self.counters(surface)
            .started
            .fetch_add(1, Ordering::Relaxed);
        RequestGuard {
            stats: Arc::clone(self),
            surface,
            ended: false,
        }
    }

    /// Counts an accepted connection (TCP, or TLS before the handshake).
    pub fn connection_accepted(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MockStats {
        let openai = self.openai.snapshot();
        let anthropic = self.anthropic.snapshot();
        let gemini = self.gemini.snapshot();
        let bedrock = self.bedrock.snapshot();
        let cohere = self.cohere.snapshot();
        let all = [openai, anthropic, gemini, bedrock, cohere];
        MockStats {
            connections: self.connections.load(Ordering::Relaxed),
            started: all.iter().map(|s| s.started).sum(),
            completed: all.iter().map(|s| s.completed).sum(),
            cancelled: all.iter().map(|s| s.cancelled).sum(),
            cut: all.iter().map(|s| s.cut).sum(),
            openai,
            anthropic,
            gemini,
            bedrock,
            cohere,
        }
    }
}

/// Lives as long as the request's handler future or response stream. Dropped without
/// [`complete`](Self::complete) or [`cut`](Self::cut), it means the client went away.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    stats: Arc<Stats>,
    surface: Surface,
    ended: bool,
}

impl RequestGuard {
    pub fn complete(&mut self) {
        self.end(|c| &c.completed);
    }

    pub fn cut(&mut self) {
        self.end(|c| &c.cut);
    }

    fn end(&mut self, pick: impl Fn(&Counters) -> &AtomicU64) {
        if !self.ended {
            self.ended = true;
            pick(self.stats.counters(self.surface)).fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.end(|c| &c.cancelled);
    }
}

/// Counters of one surface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SurfaceStats {
    /// Requests that reached a provider route.
    pub started: u64,
    /// Requests answered in full (error responses included).
    pub completed: u64,
    /// Requests the client abandoned before the response or stream ended.
    pub cancelled: u64,
    /// Requests whose connection the mock dropped on purpose (`cut-after-<n>`).
    pub cut: u64,
}

/// A snapshot of the counters, totals first; also served as JSON at `GET /_mock/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MockStats {
    /// Connections accepted since start (a pooled HTTP/1.1 client opens one per request it has
    /// in flight; an HTTP/2 client multiplexes them over one).
    #[serde(default)]
    pub connections: u64,
    /// Requests that reached a provider route.
    pub started: u64,
    /// Requests answered in full (error responses included).
    pub completed: u64,
    /// Requests the client abandoned before the response or stream ended.
    pub cancelled: u64,
    /// Requests whose connection the mock dropped on purpose (`cut-after-<n>`).
    pub cut: u64,
    /// OpenAI routes.
    pub openai: SurfaceStats,
    /// Anthropic routes.
    pub anthropic: SurfaceStats,
    /// Gemini routes.
    pub gemini: SurfaceStats,
    /// Bedrock Converse routes.
    #[serde(default)]
    pub bedrock: SurfaceStats,
    /// Cohere v2 chat routes.
    #[serde(default)]
    pub cohere: SurfaceStats,
}
