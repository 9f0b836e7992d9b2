//! `GET /v1/models`: the models this key may use, in OpenAI's list shape: every catalog model of
//! each of the org's provider credentials (`<slug>/<model>`), and the org's aliases.

use crate::GatewayState;
use crate::auth::StoreErrorChain;
use crate::error::{GatewayError, Surface};
use actix_web::{HttpRequest, HttpResponse, web};
use keyway_providers::PriceCatalog;
use serde_json::json;

/// `GET /v1/models`.
pub async fn list(req: HttpRequest, state: web::Data<GatewayState>) -> HttpResponse {
    let policy = match state.auth.authenticate(&req).await {
        Ok(policy) => policy,
        Err(e) => return e.response(Surface::OpenAi),
    };
    let db = state.targets.db();
    let (credentials, aliases) = match tokio::try_join!(
        db.list_credentials(policy.org_id),
        db.list_aliases(policy.org_id)
    ) {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %StoreErrorChain(&e), "listing models failed");
            return GatewayError::unavailable("Keyway cannot list models right now.")
                .response(Surface::OpenAi);
        }
    };
    let mut data = Vec::new();
    for credential in credentials
        .iter()
        .filter(|c| policy.allows_provider(c.slug.as_str()))
    {
        let kind = credential.provider.as_str();
        for (provider, model, _) in PriceCatalog::builtin().entries() {
            let id = format!("{}/{model}", credential.slug);
            if provider == kind
                && model != keyway_providers::pricing::WILDCARD
                && policy.allows_model(&id)
            {
                data.push(json!({"id": id, "object": "model", "created": 0, "owned_by": credential.slug.as_str()}));
            }
        }
    }
    for alias in aliases {
        let target = alias.target.to_string();
        if policy.allows_provider(alias.target.provider.as_str()) && policy.allows_model(&target) {
            data.push(json!({"id": alias.alias, "object": "model", "created": 0, "owned_by": alias.target.provider.as_str()}));
        }
    }
    HttpResponse::Ok().json(json!({"object": "list", "data": data}))
}
