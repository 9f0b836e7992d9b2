//! Server- and browser-rendered SVG charts (no chart library, no CDN): a time-series line chart
//! with axes, ticks, gridlines, a legend, optional dashed reference lines, and a native tooltip
//! on every point; and a horizontal bar list for breakdowns.

use leptos::prelude::*;

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// CSS colour.
    pub color: &'static str,
    /// One value per x position (`None` leaves a gap).
    pub values: Vec<Option<f64>>,
}

/// A dashed horizontal line across the plot (e.g. a percentile of the whole range).
#[derive(Clone, Debug, PartialEq)]
pub struct RefLine {
    /// Legend label.
    pub name: String,
    /// CSS colour.
    pub color: &'static str,
    /// Height of the line.
    pub value: f64,
}

const W: f64 = 640.0;
const H: f64 = 220.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// Rounds `max` up to a "nice" axis maximum (1, 2, 2.5, 5 × 10^n) and returns it with the step
/// of four ticks.
pub fn nice_axis(max: f64) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (4.0, 1.0);
    }
    let raw_step = max / 4.0;
    let mag = 10f64.powf(raw_step.log10().floor());
    let norm = raw_step / mag;
    let step = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    } * mag;
    (step * 4.0, step)
}

/// A line chart over `labels.len()` x positions.
#[component]
pub fn LineChart(
    /// Accessible name of the chart.
    #[prop(into)]
    title: String,
    /// X-axis label of each position (e.g. "14:05").
    labels: Vec<String>,
    /// Lines to draw.
    series: Vec<Series>,
    /// Dashed reference lines.
    #[prop(optional)]
    refs: Vec<RefLine>,
    /// Formats a y value for ticks and tooltips.
    fmt: fn(f64) -> String,
    /// Test hook.
    #[prop(into)]
    testid: String,
) -> impl IntoView {
    let count = labels.len().max(1);
    let data_max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .chain(refs.iter().map(|r| r.value))
        .fold(0.0_f64, f64::max);
    let (y_max, step) = nice_axis(data_max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x_at = move |i: usize| {
        if count == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (count - 1) as f64
        }
    };
    let y_at = move |v: f64| TOP + plot_h * (1.0 - v / y_max);

    let grid = (0..=4)
        .map(|t| {
            let v = step * t as f64;
            let y = y_at(v);
            view! {
                <line class="chart-grid" x1=LEFT x2=W - RIGHT y1=y y2=y />
                <text class="chart-tick" x=LEFT - 8.0 y=y + 4.0 text-anchor="end">
                    {fmt(v)}
                </text>
            }
        })
        .collect_view();

    let tick_every = count.div_ceil(6).max(1);
    let x_ticks = labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % tick_every == 0 || *i == count - 1)
        .map(|(i, label)| {
            let x = x_at(i);
            view! {
                <line class="chart-axis" x1=x x2=x y1=H - BOTTOM y2=H - BOTTOM + 4.0 />
                <text class="chart-tick" x=x y=H - 10.0 text-anchor="middle">
                    {label.clone()}
                </text>
            }
        })
        .collect_view();

    let ref_lines = refs
        .iter()
        .map(|r| {
            let y = y_at(r.value);
            let tip = format!("{}: {}", r.name, fmt(r.value));
            view! {
                <line class="chart-ref" x1=LEFT x2=W - RIGHT y1=y y2=y stroke=r.color>
                    <title>{tip}</title>
                </line>
            }
        })
        .collect_view();

    let lines = series
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let mut d = String::new();
            let mut pen_down = false;
            for (i, v) in s.values.iter().enumerate() {
                match v {
                    Some(v) => {
                        let cmd = if pen_down { 'L' } else { 'M' };
                        d.push_str(&format!("{cmd}{:.1},{:.1} ", x_at(i), y_at(*v)));
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let area = (si == 0 && s.values.iter().all(Option::is_some) && count > 1).then(|| {
                format!(
                    "{d}L{:.1},{:.1} L{:.1},{:.1} Z",
                    x_at(count - 1),
                    H - BOTTOM,
                    x_at(0),
                    H - BOTTOM
                )
            });
            let dots = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, v)))
                .map(|(i, v)| {
                    let label = labels.get(i).cloned().unwrap_or_default();
                    let tip = format!("{} at {label}: {}", s.name, fmt(v));
                    view! {
                        <circle
                            class="chart-dot"
                            cx=x_at(i)
                            cy=y_at(v)
                            r={ if v > 0.0 { 3.0 } else { 1.5 } }
                            fill=s.color
                            data-value=v
                        >
                            <title>{tip}</title>
                        </circle>
                    }
                })
                .collect_view();
            view! {
                {area.map(|a| view! { <path class="chart-area" d=a fill=s.color /> })}
                <path class="chart-line" d=d stroke=s.color />
                {dots}
            }
        })
        .collect_view();

    let legend = series
        .iter()
        .map(|s| {
            view! {
                <li>
                    <span class="swatch" style:background=s.color></span>
                    {s.name.clone()}
                </li>
            }
        })
        .chain(refs.iter().map(|r| {
            view! {
                <li>
                    <span class="swatch swatch-dashed" style:border-color=r.color></span>
                    {format!("{} ({})", r.name, fmt(r.value))}
                </li>
            }
        }))
        .collect_view();

    let aria = title.clone();
    view! {
        <figure class="chart" data-testid=testid>
            <svg
                viewBox=format!("0 0 {W} {H}")
                role="img"
                aria-label=aria
                preserveAspectRatio="xMidYMid meet"
            >
                <title>{title}</title>
                {grid}
                <line class="chart-axis" x1=LEFT x2=LEFT y1=TOP y2=H - BOTTOM />
                <line class="chart-axis" x1=LEFT x2=W - RIGHT y1=H - BOTTOM y2=H - BOTTOM />
                {x_ticks}
                {ref_lines}
                {lines}
            </svg>
            <ul class="legend" role="list">
                {legend}
            </ul>
        </figure>
    }
}

/// A horizontal bar list: one row per group, bar length proportional to its value.
#[component]
pub fn BarList(
    /// Rows: label, value.
    rows: Vec<(String, f64)>,
    /// Formats a value.
    fmt: fn(f64) -> String,
    /// Test hook.
    #[prop(into)]
    testid: String,
) -> impl IntoView {
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max);
    let empty = rows.is_empty();
    view! {
        <ul class="barlist" role="list" data-testid=testid>
            {rows
                .into_iter()
                .map(|(label, v)| {
                    let pct = if max > 0.0 { (v / max * 100.0).max(1.0) } else { 0.0 };
                    view! {
                        <li>
                            <span class="barlist-label" title=label.clone()>
                                {label.clone()}
                            </span>
                            <span class="barlist-track">
                                <span class="barlist-bar" style:width=format!("{pct:.1}%")></span>
                            </span>
                            <span class="barlist-value">{fmt(v)}</span>
                        </li>
                    }
                })
                .collect_view()}
            {empty.then(|| view! { <li class="muted">"No data in this range."</li> })}
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::nice_axis;

    #[test]
    fn axes_round_up_to_nice_numbers() {
        assert_eq!(nice_axis(0.0), (4.0, 1.0));
        assert_eq!(nice_axis(7.0), (8.0, 2.0));
        assert_eq!(nice_axis(95.0), (100.0, 25.0));
        assert_eq!(nice_axis(1234.0), (2000.0, 500.0));
    }
}
