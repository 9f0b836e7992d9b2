//! Prometheus text exposition of the sink's counters (served at `/metrics` on the gateway port).

use std::fmt::Write as _;

use crate::SinkStats;

/// Renders `stats` in the Prometheus text format (version 0.0.4).
pub fn render_prometheus(stats: &SinkStats) -> String {
    let metrics: [(&str, &str, &str, u64); 8] = [
        (
            "keyway_analytics_events_recorded_total",
            "counter",
            "Request events accepted by the analytics sink.",
            stats.recorded,
        ),
        (
            "keyway_analytics_events_dropped_total",
            "counter",
            "Request events dropped: channel full or sink closed.",
            stats.dropped,
        ),
        (
            "keyway_analytics_events_written_total",
            "counter",
            "Request events stored by the analytics backend (directly or replayed).",
            stats.written,
        ),
        (
            "keyway_analytics_events_failed_total",
            "counter",
            "Request events lost because the backend refused them.",
            stats.failed,
        ),
        (
            "keyway_analytics_events_spooled_total",
            "counter",
            "Request events written to the on-disk spool while the backend was unreachable.",
            stats.spooled,
        ),
        (
            "keyway_analytics_events_replayed_total",
            "counter",
            "Spooled request events replayed into the backend.",
            stats.replayed,
        ),
        (
            "keyway_analytics_events_spool_dropped_total",
            "counter",
            "Request events lost because the spool was full or unreadable.",
            stats.spool_dropped,
        ),
        (
            "keyway_analytics_spool_bytes",
            "gauge",
            "Bytes currently held in the on-disk spool.",
            stats.spool_bytes,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in metrics {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_rendered_with_its_value() {
        let text = render_prometheus(&SinkStats {
            recorded: 7,
            spooled: 3,
            spool_bytes: 1234,
            ..SinkStats::default()
        });
        assert!(text.contains("\nkeyway_analytics_events_recorded_total 7\n"));
        assert!(text.contains("\nkeyway_analytics_events_spooled_total 3\n"));
        assert!(text.contains(
            "# TYPE keyway_analytics_spool_bytes gauge\nkeyway_analytics_spool_bytes 1234\n"
        ));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 8);
    }
}
