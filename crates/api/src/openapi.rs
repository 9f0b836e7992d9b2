//! The OpenAPI 3 document, generated from the handlers' annotations, served at
//! `/api/v1/openapi.json`, and a browsable reference page at `/api/docs` rendered by Keyway
//! itself from the same document (no CDN assets).

use crate::routes;
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Keyway control plane API", version = env!("CARGO_PKG_VERSION"),
        description = "Organizations, members, invites, teams, routing configs, guardrails, prompts, provider credentials, virtual keys and the audit log. Authenticate with `Authorization: Bearer <access token>` from `/api/v1/auth/login`. Every error body is `{\"error\": {\"code\", \"message\"}}`."),
    paths(
        routes::auth::signup, routes::auth::verify_email, routes::auth::resend_verification,
        routes::auth::login, routes::auth::refresh, routes::auth::logout,
        routes::auth::forgot_password, routes::auth::reset_password,
        routes::me::me, routes::me::update_me, routes::me::change_password,
        routes::orgs::create, routes::orgs::list, routes::orgs::get, routes::orgs::update, routes::orgs::delete,
        routes::members::list, routes::members::get, routes::members::update, routes::members::remove,
        routes::invites::create, routes::invites::list, routes::invites::get, routes::invites::revoke,
        routes::invites::lookup, routes::invites::accept,
        routes::teams::create, routes::teams::list, routes::teams::get, routes::teams::update,
        routes::teams::delete, routes::teams::add_member, routes::teams::remove_member,
        routes::configs::create, routes::configs::list, routes::configs::get,
        routes::configs::update, routes::configs::delete, routes::configs::versions,
        routes::guardrails::create, routes::guardrails::list, routes::guardrails::get,
        routes::guardrails::update, routes::guardrails::delete, routes::guardrails::versions,
        routes::guardrails::test_stored, routes::guardrails::test_inline,
        routes::prompts::create, routes::prompts::list, routes::prompts::get,
        routes::prompts::update, routes::prompts::delete, routes::prompts::versions,
        routes::prompts::create_version, routes::prompts::version, routes::prompts::diff,
        routes::prompts::labels, routes::prompts::set_label, routes::prompts::delete_label,
        routes::prompts::render,
        routes::partials::create, routes::partials::list, routes::partials::get,
        routes::partials::update, routes::partials::delete, routes::partials::versions,
        routes::providers::create, routes::providers::list, routes::providers::get,
        routes::providers::update, routes::providers::delete,
        routes::keys::create, routes::keys::list, routes::keys::get, routes::keys::update,
        routes::keys::delete, routes::keys::rotate, routes::keys::revoke,
        routes::limits::get, routes::limits::put,
        routes::audit::list,
        routes::analytics::summary, routes::analytics::timeseries, routes::analytics::breakdown,
        routes::analytics::logs, routes::analytics::request, routes::analytics::export_csv,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "me", description = "The caller"),
        (name = "orgs", description = "Organizations"),
        (name = "members", description = "Organization members and roles"),
        (name = "invites", description = "Invitations"),
        (name = "teams", description = "Teams with budgets and limits"),
        (name = "configs", description = "Routing configs with immutable versions"),
        (name = "guardrails", description = "Guardrails (input and output checks) with immutable versions and a test endpoint"),
        (name = "prompts", description = "Prompt templates with immutable versions, labels, diff, render preview; partials"),
        (name = "providers", description = "Provider credentials (BYOK)"),
        (name = "keys", description = "Virtual keys"),
        (name = "limits", description = "Organization-wide and per-end-user rate limits and budgets"),
        (name = "audit", description = "Audit log"),
        (name = "analytics", description = "Request analytics and logs"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Mounts the document and the docs page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/openapi.json", web::get().to(document))
        .route("/api/docs", web::get().to(docs_page));
}

async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the reference page from the document: operations grouped by tag with parameters,
/// request body and responses, and the schemas they name.
async fn docs_page() -> HttpResponse {
    let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Keyway API reference</title><style>\
body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f7f8fa}main{max-width:980px;margin:0 auto;padding:24px}\
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:4px}.op{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;margin:12px 0}\
.m{display:inline-block;min-width:64px;font-weight:700;font-family:ui-monospace,monospace}.get{color:#0969da}.post{color:#1a7f37}.patch{color:#9a6700}.delete{color:#cf222e}\
code,.p{font-family:ui-monospace,monospace}table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;font-size:.9rem}\
a{color:#0969da}</style></head><body><main><h1>Keyway API reference</h1><p>Machine-readable: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> (OpenAPI 3).</p>",
    );
    if let Some(desc) = doc.pointer("/info/description").and_then(|d| d.as_str()) {
        html.push_str(&format!("<p>{}</p>", escape(desc)));
    }
    let tags: Vec<String> = doc["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for tag in &tags {
        html.push_str(&format!("<h2 id=\"{0}\">{0}</h2>", escape(tag)));
        for (path, item) in &paths {
            let Some(ops) = item.as_object() else {
                continue;
            };
            for (method, op) in ops {
                let in_tag = op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x.as_str() == Some(tag)));
                if !in_tag {
                    continue;
                }
                html.push_str(&format!(
                    "<div class=\"op\"><span class=\"m {m}\">{M}</span> <span class=\"p\">{p}</span><p>{s}</p>",
                    m = escape(method),
                    M = escape(&method.to_uppercase()),
                    p = escape(path),
                    s = escape(op["summary"].as_str().or(op["description"].as_str()).unwrap_or("")),
                ));
                if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                    html.push_str(
                        "<table><tr><th>parameter</th><th>in</th><th>description</th></tr>",
                    );
                    for p in params {
                        html.push_str(&format!(
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                            escape(p["name"].as_str().unwrap_or("")),
                            escape(p["in"].as_str().unwrap_or("")),
                            escape(p["description"].as_str().unwrap_or("")),
                        ));
                    }
                    html.push_str("</table>");
                }
                if let Some(body) = op
                    .pointer("/requestBody/content/application~1json/schema/$ref")
                    .and_then(|r| r.as_str())
                {
                    let name = body.rsplit('/').next().unwrap_or(body);
                    html.push_str(&format!(
                        "<p>Body: <a href=\"#schema-{0}\"><code>{0}</code></a></p>",
                        escape(name)
                    ));
                }
                if let Some(responses) = op["responses"].as_object() {
                    let codes: Vec<String> = responses.keys().map(|c| escape(c)).collect();
                    html.push_str(&format!(
                        "<p>Responses: <code>{}</code></p>",
                        codes.join(", ")
                    ));
                }
                html.push_str("</div>");
            }
        }
    }
    html.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(|s| s.as_object())
    {
        for (name, schema) in schemas {
            html.push_str(&format!(
                "<div class=\"op\" id=\"schema-{0}\"><strong>{0}</strong>",
                escape(name)
            ));
            if let Some(props) = schema["properties"].as_object() {
                html.push_str("<table><tr><th>field</th><th>type</th><th>description</th></tr>");
                for (field, p) in props {
                    let ty = p["type"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| {
                            p["type"].as_array().map(|a| {
                                a.iter()
                                    .filter_map(|x| x.as_str())
                                    .collect::<Vec<_>>()
                                    .join(" | ")
                            })
                        })
                        .or_else(|| {
                            p["$ref"]
                                .as_str()
                                .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
                        })
                        .unwrap_or_else(|| "object".into());
                    html.push_str(&format!(
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        escape(field),
                        escape(&ty),
                        escape(p["description"].as_str().unwrap_or("")),
                    ));
                }
                html.push_str("</table>");
            }
            html.push_str("</div>");
        }
    }
    html.push_str("</main></body></html>");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}
