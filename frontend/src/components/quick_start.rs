//! "Quick start" card: how to point an OpenAI SDK at this gateway, as curl, Python or Node,
//! with tabs switched in the browser and a copy-to-clipboard button.

use std::time::Duration;

use leptos::{html, prelude::*};

use crate::components::icon::{Icon, IconKind};

/// Placeholder for the key users paste in; virtual keys are shown once at creation.
const KEY_PLACEHOLDER: &str = "<your Keyway virtual key>";

/// A model name in Keyway's `provider/model` form.
const EXAMPLE_MODEL: &str = "openai/gpt-4o-mini";

/// One language tab of the snippet card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnippetLang {
    /// A raw HTTP call with curl.
    Curl,
    /// The `openai` Python SDK.
    Python,
    /// The `openai` Node SDK.
    Node,
}

impl SnippetLang {
    /// Tabs in display order.
    pub const ALL: [Self; 3] = [Self::Curl, Self::Python, Self::Node];

    /// Label on the tab.
    pub fn label(self) -> &'static str {
        match self {
            Self::Curl => "curl",
            Self::Python => "Python",
            Self::Node => "Node",
        }
    }

    /// Stable id fragment for element ids and test hooks.
    pub fn id(self) -> &'static str {
        match self {
            Self::Curl => "curl",
            Self::Python => "python",
            Self::Node => "node",
        }
    }

    /// The snippet calling the gateway at `gateway_url` (no trailing slash) with the
    /// placeholder key and the example model.
    pub fn snippet(self, gateway_url: &str) -> String {
        self.snippet_with(gateway_url, KEY_PLACEHOLDER, EXAMPLE_MODEL)
    }

    /// The snippet with a given key (or placeholder) and `provider/model`.
    pub fn snippet_with(self, gateway_url: &str, key: &str, model: &str) -> String {
        let key_placeholder = key;
        let example_model = model;
        match self {
            Self::Curl => format!(
                r#"curl {gateway_url}/v1/chat/completions \
  -H "Authorization: Bearer {key_placeholder}" \
  -H "Content-Type: application/json" \
  -d '{{
    "model": "{example_model}",
    "messages": [{{"role": "user", "content": "Hello from Keyway!"}}]
  }}'"#
            ),
            Self::Python => format!(
                r#"from openai import OpenAI

client = OpenAI(
    base_url="{gateway_url}/v1",
    api_key="{key_placeholder}",
)

response = client.chat.completions.create(
    model="{example_model}",
    messages=[{{"role": "user", "content": "Hello from Keyway!"}}],
)
print(response.choices[0].message.content)"#
            ),
            Self::Node => format!(
                r#"import OpenAI from "openai";

const client = new OpenAI({{
  baseURL: "{gateway_url}/v1",
  apiKey: "{key_placeholder}",
}});

const response = await client.chat.completions.create({{
  model: "{example_model}",
  messages: [{{ role: "user", content: "Hello from Keyway!" }}],
}});
console.log(response.choices[0].message.content);"#
            ),
        }
    }

    /// The tab reached from this one with the given arrow/Home/End key, if the key moves focus.
    fn after_key(self, key: &str) -> Option<Self> {
        let index = Self::ALL.iter().position(|lang| *lang == self)?;
        let last = Self::ALL.len() - 1;
        let next = match key {
            "ArrowRight" => (index + 1) % Self::ALL.len(),
            "ArrowLeft" => index.checked_sub(1).unwrap_or(last),
            "Home" => 0,
            "End" => last,
            _ => return None,
        };
        Some(Self::ALL[next])
    }
}

/// Outcome of the last click on "Copy", shown on the button for a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CopyState {
    Idle,
    Copied,
    /// The clipboard is unavailable (plain-HTTP origin, denied permission): the text is selected
    /// instead so the user can copy it with the keyboard.
    Selected,
}

/// Writes `text` to the clipboard; `false` when the browser refuses.
async fn write_clipboard(text: String) -> bool {
    let window = window();
    // Outside a secure context `navigator.clipboard` is undefined and calling it would throw.
    if !window.is_secure_context() {
        return false;
    }
    let promise = window.navigator().clipboard().write_text(&text);
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}

/// Selects the contents of `node` so a keyboard copy takes exactly the snippet.
fn select_contents(node: &web_sys::Node) {
    if let Ok(Some(selection)) = window().get_selection() {
        _ = selection.select_all_children(node);
    }
}

/// The quick-start card.
#[component]
pub fn QuickStart(
    /// Gateway base URL the snippets call, without a trailing slash.
    #[prop(into)]
    gateway_url: String,
    /// Key shown in the snippets (a placeholder by default).
    #[prop(optional, into)]
    api_key: Option<String>,
    /// `provider/model` used in the snippets (an example by default).
    #[prop(optional, into)]
    model: Option<String>,
) -> impl IntoView {
    let selected = RwSignal::new(SnippetLang::Curl);
    let copy_state = RwSignal::new(CopyState::Idle);
    // Each click bumps the generation so an older reset timer cannot clear newer feedback.
    let copy_generation = StoredValue::new(0_u64);
    let code_ref = NodeRef::<html::Code>::new();
    let tab_refs = SnippetLang::ALL.map(|_| NodeRef::<html::Button>::new());

    let key = api_key.unwrap_or_else(|| KEY_PLACEHOLDER.to_owned());
    let model = model.unwrap_or_else(|| EXAMPLE_MODEL.to_owned());
    let gateway = StoredValue::new((gateway_url, key, model));
    let snippet = move || {
        gateway.with_value(|(url, key, model)| selected.get().snippet_with(url, key, model))
    };

    let select = move |lang: SnippetLang| {
        selected.set(lang);
        copy_state.set(CopyState::Idle);
    };

    let on_tab_key = move |ev: leptos::ev::KeyboardEvent| {
        if let Some(next) = selected.get_untracked().after_key(&ev.key()) {
            ev.prevent_default();
            select(next);
            let index = SnippetLang::ALL.iter().position(|lang| *lang == next);
            if let Some(button) = index.and_then(|i| tab_refs[i].get()) {
                _ = button.focus();
            }
        }
    };

    let on_copy = move |_| {
        let text = gateway
            .with_value(|(url, key, model)| selected.get_untracked().snippet_with(url, key, model));
        let generation = copy_generation.get_value() + 1;
        copy_generation.set_value(generation);
        leptos::task::spawn_local(async move {
            if write_clipboard(text).await {
                copy_state.set(CopyState::Copied);
            } else {
                if let Some(code) = code_ref.get_untracked() {
                    select_contents(&code);
                }
                copy_state.set(CopyState::Selected);
            }
            set_timeout(
                move || {
                    if copy_generation.get_value() == generation {
                        copy_state.set(CopyState::Idle);
                    }
                },
                Duration::from_secs(2),
            );
        });
    };

    view! {
        <section class="card card-wide" aria-labelledby="quick-start-title">
            <header class="card-header">
                <div>
                    <h2 id="quick-start-title">"Quick start"</h2>
                    <p class="muted">
                        "Keep your OpenAI SDK; change the base URL and use a Keyway virtual key."
                    </p>
                </div>
            </header>
            <div class="snippet">
                <div class="snippet-bar">
                    <div
                        class="tabs"
                        role="tablist"
                        aria-label="Snippet language"
                        on:keydown=on_tab_key
                    >
                        {SnippetLang::ALL
                            .into_iter()
                            .zip(tab_refs)
                            .map(|(lang, tab_ref)| {
                                let is_selected = move || selected.get() == lang;
                                view! {
                                    <button
                                        type="button"
                                        role="tab"
                                        class="tab"
                                        id=format!("tab-{}", lang.id())
                                        aria-controls="snippet-panel"
                                        aria-selected=move || is_selected().to_string()
                                        tabindex=move || if is_selected() { "0" } else { "-1" }
                                        node_ref=tab_ref
                                        on:click=move |_| select(lang)
                                    >
                                        {lang.label()}
                                    </button>
                                }
                            })
                            .collect_view()}
                    </div>
                    <button
                        type="button"
                        class="button button-ghost button-small copy-button"
                        aria-label=move || match copy_state.get() {
                            CopyState::Copied => "Copied to clipboard",
                            CopyState::Selected => "Snippet selected, press Ctrl+C to copy",
                            CopyState::Idle => "Copy snippet",
                        }
                        on:click=on_copy
                    >
                        {move || match copy_state.get() {
                            CopyState::Copied => {
                                view! {
                                    <Icon kind=IconKind::Check />
                                    <span>"Copied"</span>
                                }
                                    .into_any()
                            }
                            CopyState::Selected => {
                                view! {
                                    <Icon kind=IconKind::Copy />
                                    <span>"Press Ctrl+C"</span>
                                }
                                    .into_any()
                            }
                            CopyState::Idle => {
                                view! {
                                    <Icon kind=IconKind::Copy />
                                    <span>"Copy"</span>
                                }
                                    .into_any()
                            }
                        }}
                    </button>
                </div>
                <div
                    id="snippet-panel"
                    class="snippet-panel"
                    role="tabpanel"
                    tabindex="0"
                    aria-labelledby=move || format!("tab-{}", selected.get().id())
                >
                    <pre>
                        <code node_ref=code_ref data-lang=move || selected.get().id()>
                            {snippet}
                        </code>
                    </pre>
                </div>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snippet_targets_the_gateway_v1_base_url_with_a_virtual_key() {
        for lang in SnippetLang::ALL {
            let snippet = lang.snippet("http://gw.example:8080");
            assert!(
                snippet.contains("http://gw.example:8080/v1"),
                "{lang:?}: {snippet}"
            );
            assert!(snippet.contains(KEY_PLACEHOLDER), "{lang:?}: {snippet}");
        }
        assert!(
            SnippetLang::Python
                .snippet("http://g")
                .contains("base_url=\"http://g/v1\"")
        );
        assert!(
            SnippetLang::Node
                .snippet("http://g")
                .contains("baseURL: \"http://g/v1\"")
        );
    }

    #[test]
    fn arrow_keys_wrap_around_the_tabs() {
        assert_eq!(
            SnippetLang::Curl.after_key("ArrowLeft"),
            Some(SnippetLang::Node)
        );
        assert_eq!(
            SnippetLang::Node.after_key("ArrowRight"),
            Some(SnippetLang::Curl)
        );
        assert_eq!(
            SnippetLang::Python.after_key("Home"),
            Some(SnippetLang::Curl)
        );
        assert_eq!(SnippetLang::Curl.after_key("End"), Some(SnippetLang::Node));
        assert_eq!(SnippetLang::Curl.after_key("Enter"), None);
    }
}
