//! Side-by-side comparison of two prompt versions, from the API's line diff
//! (`GET /prompts/{id}/diff?from=&to=`): removed lines on the left, added lines on the right.

use leptos::prelude::*;
use serde_json::Value;

use super::detail::PromptData;
use crate::api::{self, arr, s};
use crate::session::{Loading, use_org};

/// One side of a row: line number and text.
#[derive(Clone, Debug, PartialEq)]
pub struct Side {
    /// Line number on this side, from 1.
    pub number: usize,
    /// The line.
    pub text: String,
    /// Whether the line exists only on this side.
    pub changed: bool,
}

/// A row of the side-by-side view; a side is empty where the other side has extra lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The older version's line.
    pub left: Option<Side>,
    /// The newer version's line.
    pub right: Option<Side>,
}

/// Lays out a line diff (`op` `equal`, `delete` or `insert`) in two columns: equal lines side
/// by side, each run of deletions paired row by row with the insertions that follow it.
pub fn side_by_side<'a>(lines: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Row> {
    let mut rows = Vec::new();
    let (mut left_no, mut right_no) = (0, 0);
    let mut deleted: Vec<Side> = Vec::new();
    let mut inserted: Vec<Side> = Vec::new();
    let flush = |rows: &mut Vec<Row>, deleted: &mut Vec<Side>, inserted: &mut Vec<Side>| {
        let len = deleted.len().max(inserted.len());
        let mut d = deleted.drain(..);
        let mut i = inserted.drain(..);
        for _ in 0..len {
            rows.push(Row {
                left: d.next(),
                right: i.next(),
            });
        }
    };
    for (op, text) in lines {
        match op {
            "delete" => {
                left_no += 1;
                deleted.push(Side {
                    number: left_no,
                    text: text.to_owned(),
                    changed: true,
                });
            }
            "insert" => {
                right_no += 1;
                inserted.push(Side {
                    number: right_no,
                    text: text.to_owned(),
                    changed: true,
                });
            }
            _ => {
                flush(&mut rows, &mut deleted, &mut inserted);
                left_no += 1;
                right_no += 1;
                let side = |number| Side {
                    number,
                    text: text.to_owned(),
                    changed: false,
                };
                rows.push(Row {
                    left: Some(side(left_no)),
                    right: Some(side(right_no)),
                });
            }
        }
    }
    flush(&mut rows, &mut deleted, &mut inserted);
    rows
}

/// Readable names of the diffed parts.
fn field_title(field: &str) -> &str {
    match field {
        "messages" => "Messages",
        "model" => "Model",
        "parameters" => "Parameters",
        "variables" => "Variables",
        "guardrails" => "Guardrails",
        other => other,
    }
}

fn cells(side: Option<Side>, kind: &'static str) -> impl IntoView {
    match side {
        Some(Side {
            number,
            text,
            changed,
        }) => {
            let class = if changed {
                format!("diff-no diff-{kind}")
            } else {
                "diff-no".to_owned()
            };
            let text_class = if changed {
                format!("diff-text diff-{kind}")
            } else {
                "diff-text".to_owned()
            };
            let testid = match (changed, kind) {
                (true, "del") => "diff-removed",
                (true, _) => "diff-added",
                _ => "diff-same",
            };
            view! {
                <td class=class>{number}</td>
                <td class=text_class data-testid=testid>{text}</td>
            }
            .into_any()
        }
        None => view! {
            <td class="diff-no diff-empty"></td>
            <td class="diff-text diff-empty"></td>
        }
        .into_any(),
    }
}

/// The diff card: two version pickers and the side-by-side view of every changed part.
#[component]
pub(super) fn VersionDiff(data: Signal<PromptData>) -> impl IntoView {
    let org = use_org();
    let latest = Memo::new(move |_| data.with(PromptData::latest));
    let from = RwSignal::new(0_u32);
    let to = RwSignal::new(0_u32);
    // A new version resets the comparison to "the previous one against the newest".
    Effect::new(move |_| {
        let l = latest.get();
        from.set(l.saturating_sub(1).max(1));
        to.set(l);
    });
    let prompts_api = org.api("/prompts/");
    let diff = LocalResource::new(move || {
        let (f, t) = (from.get(), to.get());
        let id = data.with(|d| s(&d.prompt, "id"));
        let url = format!("{prompts_api}{id}/diff?from={f}&to={t}");
        async move {
            if f == 0 || t == 0 || id.is_empty() {
                return Ok(Value::Null);
            }
            api::get(&url).await
        }
    });
    let options = move |selected: RwSignal<u32>| {
        data.get()
            .versions
            .iter()
            .map(|v| {
                let num = api::n(v, "version") as u32;
                view! {
                    <option value=num.to_string() selected=move || selected.get() == num>
                        {format!("v{num}")}
                    </option>
                }
            })
            .collect_view()
    };
    let pick = |target: RwSignal<u32>| {
        move |ev: leptos::ev::Event| {
            if let Ok(v) = event_target_value(&ev).parse() {
                target.set(v);
            }
        }
    };

    view! {
        <section class="card card-wide" data-testid="diff-card">
            <header class="card-header">
                <div>
                    <h2>"Compare versions"</h2>
                    <p class="muted">"Lines only in the older version are red on the left; lines only in the newer one are green on the right."</p>
                </div>
                <div class="inline-form compact">
                    <div class="field">
                        <label for="diff-from">"From"</label>
                        <select id="diff-from" class="select-sm" on:change=pick(from)>{move || options(from)}</select>
                    </div>
                    <div class="field">
                        <label for="diff-to">"To"</label>
                        <select id="diff-to" class="select-sm" on:change=pick(to)>{move || options(to)}</select>
                    </div>
                </div>
            </header>
            {move || match diff.get() {
                None => view! { <Loading what="the diff" /> }.into_any(),
                Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(Value::Null)) => view! { <p class="muted">"Only one version so far: write another to compare."</p> }.into_any(),
                Some(Ok(d)) => {
                    let (f, t) = (api::n(&d, "from"), api::n(&d, "to"));
                    if f == t {
                        return view! { <p class="muted">"Pick two different versions."</p> }.into_any();
                    }
                    let fields = arr(&d, "fields");
                    let same: Vec<String> = fields
                        .iter()
                        .filter(|f| f.get("changed") != Some(&Value::Bool(true)))
                        .map(|f| field_title(&s(f, "field")).to_owned())
                        .collect();
                    let changed: Vec<Value> = fields
                        .into_iter()
                        .filter(|f| f.get("changed") == Some(&Value::Bool(true)))
                        .collect();
                    view! {
                        <div class="diff" data-testid="diff">
                            {changed.is_empty().then(|| view! { <p class="muted">"These versions are identical."</p> })}
                            {changed
                                .into_iter()
                                .map(|field| {
                                    // Guardrail ids read as their slugs.
                                    let lines: Vec<(String, String)> = arr(&field, "lines")
                                        .iter()
                                        .map(|l| (s(l, "op"), data.with_untracked(|d| d.name_guardrails(&s(l, "text")))))
                                        .collect();
                                    let rows = side_by_side(lines.iter().map(|(op, text)| (op.as_str(), text.as_str())));
                                    view! {
                                        <div class="diff-field">
                                            <h3>{field_title(&s(&field, "field")).to_owned()}</h3>
                                            <div class="table-wrap">
                                                <table class="diff-table">
                                                    <colgroup>
                                                        <col class="diff-col-no" />
                                                        <col />
                                                        <col class="diff-col-no" />
                                                        <col />
                                                    </colgroup>
                                                    <thead>
                                                        <tr>
                                                            <th colspan="2" scope="colgroup">{format!("v{f}")}</th>
                                                            <th colspan="2" scope="colgroup">{format!("v{t}")}</th>
                                                        </tr>
                                                    </thead>
                                                    <tbody>
                                                        {rows
                                                            .into_iter()
                                                            .map(|r| view! { <tr>{cells(r.left, "del")}{cells(r.right, "ins")}</tr> })
                                                            .collect_view()}
                                                    </tbody>
                                                </table>
                                            </div>
                                        </div>
                                    }
                                })
                                .collect_view()}
                            {(!same.is_empty())
                                .then(|| view! { <p class="muted small">{format!("Unchanged: {}.", same.join(", "))}</p> })}
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_pair_up_side_by_side() {
        let rows = side_by_side([
            ("equal", "a"),
            ("delete", "b"),
            ("delete", "c"),
            ("insert", "B"),
            ("equal", "d"),
            ("insert", "e"),
        ]);
        fn text(s: &Option<Side>) -> Option<(usize, &str, bool)> {
            s.as_ref().map(|s| (s.number, s.text.as_str(), s.changed))
        }
        let got: Vec<_> = rows
            .iter()
            .map(|r| (text(&r.left), text(&r.right)))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some((1, "a", false)), Some((1, "a", false))),
                (Some((2, "b", true)), Some((2, "B", true))),
                (Some((3, "c", true)), None),
                (Some((4, "d", false)), Some((3, "d", false))),
                (None, Some((4, "e", true))),
            ]
        );
    }
}
