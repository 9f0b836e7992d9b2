//! Azure OpenAI: OpenAI's Chat Completions wire format (see [`crate::openai`]) behind Azure's
//! addressing. A resource endpoint (`https://{resource}.openai.azure.com`) serves deployments at
//! `/openai/deployments/{deployment}/{action}?api-version=...`, authenticated by the `api-key`
//! header; the deployment, not the body's `model`, picks the model. Responses add content-filter
//! results and a leading chunk without choices, which the OpenAI reader skips.

use crate::sigv4::uri_encode;

/// The `api-version` used when a credential names none (the current GA version).
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// The header carrying the key.
pub const API_KEY_HEADER: &str = "api-key";

/// Path (with query) of `action` (`chat/completions`, `embeddings`) on `deployment`.
pub fn request_path(deployment: &str, action: &str, api_version: &str) -> String {
    format!(
        "/openai/deployments/{}/{action}?api-version={}",
        uri_encode(deployment, false),
        uri_encode(api_version, false)
    )
}
