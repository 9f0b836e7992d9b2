//! The request body, read whole before a handler runs (pipeline step 3's first limit).
//!
//! actix-web's `Bytes` extractor starts every body in an 8 KiB buffer, which the frozen bytes
//! keep alive for the whole request: with a thousand requests in flight that is 8 MB held for
//! bodies that are mostly a few hundred bytes. [`Body`] allocates what `Content-Length`
//! announces (growing as chunks arrive when it is absent), and refuses a body over
//! [`InputLimits::max_body_bytes`](crate::limits::InputLimits::max_body_bytes) with a 413 in the
//! surface's error shape (Anthropic's for `/v1/messages`, OpenAI's elsewhere) before reading it.

use crate::GatewayState;
use crate::error::{GatewayError, Surface};
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use futures_util::future::LocalBoxFuture;
use std::fmt;
use std::ops::Deref;

/// The whole request body.
#[derive(Debug)]
pub struct Body(Bytes);

impl Deref for Body {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// A body refused before its handler ran, answered in the surface's shape.
#[derive(Debug)]
pub struct BodyError {
    error: GatewayError,
    surface: Surface,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error.message())
    }
}

impl ResponseError for BodyError {
    fn status_code(&self) -> StatusCode {
        self.error.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.error.response(self.surface)
    }
}

impl FromRequest for Body {
    type Error = BodyError;
    type Future = LocalBoxFuture<'static, Result<Self, BodyError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let surface = Surface::for_path(req.path());
        let limit = req.app_data::<web::Data<GatewayState>>().map_or_else(
            || crate::limits::InputLimits::default().max_body_bytes,
            |state| state.limits.max_body_bytes,
        );
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<usize>().ok()));
        let mut payload = payload.take();
        Box::pin(async move {
            let refuse = |error: GatewayError| BodyError { error, surface };
            let too_large = || {
                refuse(GatewayError::too_large(format!(
                    "The request body is larger than {limit} bytes."
                )))
            };
            let declared = match declared {
                Some(None) => {
                    return Err(refuse(GatewayError::bad_request(
                        "The Content-Length header is not a number.",
                        None,
                    )));
                }
                Some(Some(n)) if n > limit => return Err(too_large()),
                Some(Some(n)) => Some(n),
                None => None,
            };
            let mut buf = BytesMut::with_capacity(declared.unwrap_or(0));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    refuse(GatewayError::bad_request(
                        format!("The request body could not be read: {e}."),
                        None,
                    ))
                })?;
                if buf.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(Body(buf.freeze()))
        })
    }
}
