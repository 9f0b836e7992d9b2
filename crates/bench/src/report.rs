//! The printed table: direct, gateway and added side by side, with the targets and a
//! pass/fail mark. A bench reports; a missed target never changes the exit code.

use std::time::Duration;

/// One line of the table.
pub struct Row {
    label: String,
    direct: String,
    gateway: String,
    added: String,
    target: String,
    pass: Option<bool>,
}

impl Row {
    /// A latency figure; the target, in microseconds, bounds the added time.
    pub fn latency(
        label: &str,
        direct: Duration,
        gateway: Duration,
        target_us: Option<f64>,
    ) -> Self {
        let added_us = micros(gateway) - micros(direct);
        Self {
            label: label.to_owned(),
            direct: format!("{:.1} us", micros(direct)),
            gateway: format!("{:.1} us", micros(gateway)),
            added: format!("{added_us:+.1} us"),
            target: target_us.map_or_else(String::new, |t| format!("added <= {t:.0} us")),
            pass: target_us.map(|t| added_us <= t),
        }
    }

    /// A throughput figure; the target is a floor for the gateway.
    pub fn throughput(label: &str, direct: f64, gateway: f64, floor: f64) -> Self {
        Self {
            label: label.to_owned(),
            direct: format!("{direct:.0} req/s"),
            gateway: format!("{gateway:.0} req/s"),
            added: format!("{:.0}% of direct", 100.0 * gateway / direct),
            target: format!(">= {floor:.0} req/s"),
            pass: Some(gateway >= floor),
        }
    }

    /// The gateway process's resident memory; the target is a ceiling.
    pub fn memory(label: &str, bytes: u64, ceiling: Option<u64>) -> Self {
        Self {
            label: label.to_owned(),
            direct: "-".to_owned(),
            gateway: format!("{:.1} MB", megabytes(bytes)),
            added: "-".to_owned(),
            target: ceiling.map_or_else(String::new, |c| format!("< {:.0} MB", megabytes(c))),
            pass: ceiling.map(|c| bytes < c),
        }
    }
}

/// The rows in print order.
#[derive(Default)]
pub struct Table(Vec<Row>);

impl Table {
    /// Appends a row.
    pub fn push(&mut self, row: Row) {
        self.0.push(row);
    }

    /// Prints the table and its notes on stdout.
    pub fn print(&self, notes: &[String]) {
        let header = ["metric", "direct", "gateway", "added", "target", ""];
        let cells: Vec<[String; 6]> = self
            .0
            .iter()
            .map(|r| {
                let mark = match r.pass {
                    Some(true) => "PASS",
                    Some(false) => "FAIL",
                    None => "",
                };
                [
                    r.label.clone(),
                    r.direct.clone(),
                    r.gateway.clone(),
                    r.added.clone(),
                    r.target.clone(),
                    mark.to_owned(),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let line = |row: [&str; 6]| {
            let mut out = format!("{:<w$}", row[0], w = widths[0]);
            for (i, cell) in row.iter().enumerate().skip(1) {
                // Figures right-aligned so digits line up; the target and the mark read left to right.
                if i <= 3 {
                    out.push_str(&format!(" | {cell:>w$}", w = widths[i]));
                } else {
                    out.push_str(&format!(" | {cell:<w$}", w = widths[i]));
                }
            }
            println!("{}", out.trim_end());
        };
        line(header);
        println!(
            "{}",
            "-".repeat(widths.iter().sum::<usize>() + 3 * (widths.len() - 1))
        );
        for row in &cells {
            line(row.each_ref().map(String::as_str));
        }
        for note in notes {
            println!("note: {note}");
        }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
