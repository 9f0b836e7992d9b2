//! AWS Signature Version 4 for request headers, as AWS Bedrock needs it.
//!
//! Why hand-written: the `aws-sigv4` crate pulls the smithy runtime (`aws-smithy-runtime-api`,
//! `aws-smithy-http`, `aws-smithy-types`, `aws-credential-types`, ...) into a crate that is
//! otherwise pure translation, for what is ~150 lines over `hmac` + `sha2`, both already in the
//! dependency tree. The implementation follows the published algorithm and is tested against
//! AWS's SigV4 test-suite vectors (`get-vanilla`, `get-vanilla-query-order-key-case`,
//! `post-vanilla`, `get-utf8`) and the documented signing-key derivation.
//!
//! Paths are canonicalised the way every AWS SDK does for services other than S3: the path as
//! sent on the wire is URI-encoded once more ("double encoding"), so a Bedrock model id
//! `a:b` travels as `a%3Ab` and is signed as `a%253Ab`.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use sha2_011::{Digest, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The algorithm name in the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Static AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    /// Access key id (`AKIA...` / `ASIA...`); not secret.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"*****")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "*****"),
            )
            .finish()
    }
}

impl AwsCredentials {
    /// Parses Keyway's stored form of AWS credentials:
    /// `ACCESS_KEY_ID:SECRET_ACCESS_KEY` or `ACCESS_KEY_ID:SECRET_ACCESS_KEY:SESSION_TOKEN`
    /// (AWS keys and tokens never contain `:`). `None` when the text has another shape.
    pub fn parse(stored: &str) -> Option<Self> {
        let mut parts = stored.trim().splitn(3, ':');
        let access_key_id = parts.next().filter(|s| !s.is_empty())?.to_owned();
        let secret_access_key = parts.next().filter(|s| !s.is_empty())?.to_owned();
        let session_token = match parts.next() {
            None => None,
            Some(t) if t.is_empty() || t.contains(':') => return None,
            Some(t) => Some(t.to_owned()),
        };
        Some(Self {
            access_key_id,
            secret_access_key,
            session_token,
        })
    }
}

/// The parts of a request that are signed.
#[derive(Debug, Clone)]
pub struct SignableRequest<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// `Host` header value as sent (with `:port` when not the scheme's default).
    pub host: &'a str,
    /// Path as sent on the wire (already percent-encoded), starting with `/`.
    pub path: &'a str,
    /// Raw query string without `?` (may be empty).
    pub query: &'a str,
    /// Other headers to sign (names in any case); `host`, `x-amz-date` and
    /// `x-amz-security-token` are added by [`sign`].
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes.
    pub body: &'a [u8],
}

/// Where and when a signature is valid.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// AWS region, e.g. `us-east-1`.
    pub region: &'a str,
    /// Signing service name, e.g. `bedrock`.
    pub service: &'a str,
    /// Signing time.
    pub time: SystemTime,
}

/// Signs `request` and returns the headers to add: `x-amz-date`, `x-amz-security-token` (with
/// temporary credentials) and `authorization`.
pub fn sign(
    credentials: &AwsCredentials,
    scope: Scope<'_>,
    request: &SignableRequest<'_>,
) -> Vec<(&'static str, String)> {
    let amz_date = amz_date(scope.time);
    let date = &amz_date[..8];
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), normalize_value(v)))
        .collect();
    headers.push(("host".into(), request.host.to_owned()));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        canonical_path(request.path),
        canonical_query(request.query),
        canonical_headers,
        signed_headers,
        hex::encode(Sha256::digest(request.body)),
    );
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(
        &credentials.secret_access_key,
        date,
        scope.region,
        scope.service,
    );
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    let mut out = vec![("x-amz-date", amz_date)];
    if let Some(token) = &credentials.session_token {
        out.push(("x-amz-security-token", token.clone()));
    }
    out.push((
        "authorization",
        format!(
            "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    out
}

/// The derived signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
pub fn amz_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let days = i64::try_from(secs / 86_400).unwrap_or_default();
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Trims a header value and folds inner runs of spaces, as the canonical form requires.
fn normalize_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// URI-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - _ . ~`), keeping `/` when
/// `keep_slash`.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    uri_encode(path, true)
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_in_utc() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        assert_eq!(amz_date(t), "20150830T123600Z");
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        let leap = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(amz_date(leap), "20000229T000000Z");
    }

    #[test]
    fn decodes_and_encodes_query_components() {
        assert_eq!(canonical_query("b=2&a=x%20y&A=0"), "A=0&a=x%20y&b=2");
        assert_eq!(percent_decode("a%3Ab%"), "a:b%");
    }

    #[test]
    fn parses_stored_credentials() {
        let c = AwsCredentials::parse("AKID:secret/key+x:token==").unwrap();
        assert_eq!(c.access_key_id, "AKID");
        assert_eq!(c.secret_access_key, "secret/key+x");
        assert_eq!(c.session_token.as_deref(), Some("token=="));
        assert!(
            AwsCredentials::parse("AKID:secret")
                .unwrap()
                .session_token
                .is_none()
        );
        assert!(AwsCredentials::parse("justakey").is_none());
        assert!(AwsCredentials::parse(":secret").is_none());
        assert!(!format!("{c:?}").contains("secret/key"));
    }
}
