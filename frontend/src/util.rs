//! Formatting of amounts, counts, durations and timestamps, and the browser clock.

/// Formats nano-USD as dollars with enough precision for tiny per-request costs.
pub fn usd_nanos(nanos: f64) -> String {
    usd(nanos / 1e9)
}

/// Formats dollars.
pub fn usd(dollars: f64) -> String {
    let abs = dollars.abs();
    if abs == 0.0 {
        "$0".to_owned()
    } else if abs >= 100.0 {
        format!("${}", group(dollars.round()))
    } else if abs >= 1.0 {
        format!("${dollars:.2}")
    } else if abs >= 0.01 {
        format!("${dollars:.3}")
    } else {
        format!("${dollars:.6}")
    }
}

/// Formats a count with thousands separators (or k/M for large ones).
pub fn count(v: f64) -> String {
    if v >= 10_000_000.0 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 100_000.0 {
        format!("{:.0}k", v / 1e3)
    } else if v.fract() != 0.0 {
        format!("{v:.2}")
    } else {
        group(v)
    }
}

fn group(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// Formats milliseconds.
pub fn ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else if v < 1.0 && v > 0.0 {
        format!("{v:.2} ms")
    } else if v < 10.0 && v.fract() != 0.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

/// Several millisecond values sharing one unit, e.g. `12 / 40 / 95 ms` (a dash when unknown).
pub fn ms_list(values: &[Option<f64>]) -> String {
    let parts: Vec<String> = values
        .iter()
        .map(|v| match v {
            Some(v) => ms(*v).trim_end_matches(" ms").to_owned(),
            None => "–".to_owned(),
        })
        .collect();
    if values.iter().any(Option::is_some) {
        format!("{} ms", parts.join(" / "))
    } else {
        parts.join(" / ")
    }
}

/// Formats a ratio (0..1) as a percentage.
pub fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// `2026-12-06T00:15:03.123Z` as `2026-12-06 00:15:03` (UTC).
pub fn datetime(iso: &str) -> String {
    if iso.len() >= 19 {
        format!("{} {}", &iso[..10], &iso[11..19])
    } else {
        iso.to_owned()
    }
}

/// The date part of an RFC 3339 timestamp.
pub fn date(iso: &str) -> String {
    iso.get(..10).unwrap_or(iso).to_owned()
}

/// A chart label for a bucket start: `HH:MM` for sub-day buckets, `MM-DD` for days.
pub fn bucket_label(iso: &str, daily: bool) -> String {
    if daily {
        iso.get(5..10).unwrap_or(iso).to_owned()
    } else {
        iso.get(11..16).unwrap_or(iso).to_owned()
    }
}

/// Milliseconds since the epoch, from the browser clock (0 on the server).
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// An epoch-milliseconds instant as RFC 3339 (UTC).
pub fn iso(ms: f64) -> String {
    #[cfg(feature = "hydrate")]
    {
        String::from(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms)).to_iso_string())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ms;
        String::new()
    }
}

/// A key's or team's budget with its current-period spend when the API sent it:
/// `$1.20 of $25.00 monthly`; `None` without a budget.
pub fn budget(item: &serde_json::Value) -> Option<String> {
    let b = item.get("budget").filter(|b| !b.is_null())?;
    let period = b.get("period").and_then(|p| p.as_str()).unwrap_or_default();
    let limit = usd(crate::api::n(b, "limit_usd"));
    Some(match item.get("spend").filter(|s| !s.is_null()) {
        Some(spend) => format!(
            "{} of {limit} {period}",
            usd(crate::api::n(spend, "spent_usd"))
        ),
        None => format!("{limit} {period}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_well() {
        assert_eq!(usd_nanos(0.0), "$0");
        assert_eq!(usd_nanos(1_500_000.0), "$0.001500");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(1234.4), "$1,234");
        assert_eq!(count(1234567.0), "1235k");
        assert_eq!(count(4321.0), "4,321");
        assert_eq!(ms(250.0), "250 ms");
        assert_eq!(ms(0.25), "0.25 ms");
        assert_eq!(ms(2.5), "2.5 ms");
        assert_eq!(ms_list(&[Some(1.0), Some(7.0), None]), "1 / 7 / – ms");
        assert_eq!(ms_list(&[None, None]), "– / –");
        let key = serde_json::json!({
            "budget": {"limit_usd": "25.000000000", "period": "monthly"},
            "spend": {"spent_usd": "1.200000000"},
        });
        assert_eq!(budget(&key).as_deref(), Some("$1.20 of $25.00 monthly"));
        assert_eq!(budget(&serde_json::json!({"budget": null})), None);
        assert_eq!(datetime("2026-12-06T00:15:03.123Z"), "2026-12-06 00:15:03");
        assert_eq!(bucket_label("2026-12-06T00:15:00Z", false), "00:15");
        assert_eq!(bucket_label("2026-12-06T00:15:00Z", true), "12-06");
    }
}
