//! Cross-origin calls from the dashboard to the prompt endpoints, for its playground.
//!
//! The dashboard's prompt playground sends the virtual key a user pastes straight from the
//! browser to `/v1/prompts/{slug}/completions` (and `/render`), so the request is counted,
//! priced and logged exactly like an application's. Those two routes are the only ones that
//! answer cross-origin requests, and only from the dashboard's own origin
//! ([`crate::GatewayState::with_dashboard_origin`]). The key travels in the `authorization`
//! header, never in a cookie: credentials are not allowed, so a browser adds none.
//!
//! Written here rather than with `actix-cors`: that middleware answers a request from any
//! other origin with a 400, while the gateway must serve such a request exactly as it serves a
//! request without an `Origin` (servers and proxies send one too), only without CORS headers;
//! and the allowed origin is runtime state ([`crate::GatewayState`]), not route configuration.

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use std::future::Future;

use crate::GatewayState;

/// Response headers the playground reads.
const EXPOSED: &str = "x-keyway-request-id, x-keyway-cost-usd, x-keyway-prompt-id, \
x-keyway-prompt-version, x-keyway-model, x-keyway-provider, x-keyway-guardrails";

/// The one origin allowed to call the prompt endpoints from a browser, if any.
#[derive(Debug, Clone, Default)]
pub struct DashboardOrigin(Option<HeaderValue>);

impl DashboardOrigin {
    /// The origin (`scheme://host[:port]`) of the dashboard's URL; none for a missing or
    /// unparsable URL.
    pub fn from_url(url: Option<&str>) -> Self {
        let origin = url
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.origin())
            .filter(url::Origin::is_tuple)
            .and_then(|o| HeaderValue::from_str(&o.ascii_serialization()).ok());
        Self(origin)
    }

    /// The allowed origin when `request` comes from it.
    fn matching(&self, request: &HeaderMap) -> Option<HeaderValue> {
        let allowed = self.0.as_ref()?;
        (request.get(header::ORIGIN) == Some(allowed)).then(|| allowed.clone())
    }
}

/// Wraps a prompt resource: answers from the dashboard's origin may be read by its page.
pub fn allow_dashboard<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
{
    let configured = req
        .app_data::<web::Data<GatewayState>>()
        .map(|s| s.dashboard_origin.clone())
        .unwrap_or_default();
    let origin = configured.matching(req.headers());
    let call = srv.call(req);
    async move {
        let mut res = call.await?;
        let headers = res.headers_mut();
        if configured.0.is_some() {
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        if let Some(origin) = origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED),
            );
        }
        Ok(res)
    }
}

/// `OPTIONS` on a prompt resource: the preflight of the dashboard's `POST` (a JSON body with an
/// `authorization` header). Other origins get no permission.
pub async fn preflight(req: HttpRequest, state: web::Data<GatewayState>) -> HttpResponse {
    let mut res = HttpResponse::NoContent();
    if state.dashboard_origin.matching(req.headers()).is_some() {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, content-type",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
    }
    res.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_come_from_the_dashboard_url() {
        let o = DashboardOrigin::from_url(Some("http://127.0.0.1:3000/"));
        assert_eq!(o.0.as_ref().unwrap(), "http://127.0.0.1:3000");
        let o = DashboardOrigin::from_url(Some("https://keyway.example.com/dash"));
        assert_eq!(o.0.as_ref().unwrap(), "https://keyway.example.com");
        assert!(DashboardOrigin::from_url(Some("not a url")).0.is_none());
        assert!(DashboardOrigin::from_url(None).0.is_none());
    }
}
