//! HTTPS for the mock: a throwaway certificate authority and a server certificate it signs, made
//! at start-up, so that a client which trusts the authority's certificate talks to the mock as it
//! would to a hosted provider: TLS 1.2 or 1.3, and HTTP/2 or HTTP/1.1 chosen by ALPN.
//!
//! The authority signs a separate server certificate (rather than the server presenting a
//! self-signed one) because that is the shape clients verify in production, and webpki refuses
//! a CA certificate used as the server's own.

use std::io;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Names the server certificate is valid for: the mock only ever listens on loopback.
const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// What a TLS mock serves with, and the authority a client must trust to reach it.
pub(crate) struct MockTls {
    /// The authority's certificate, PEM.
    pub ca_pem: String,
    /// rustls settings carrying the server certificate chain and key (actix-web adds the ALPN
    /// protocols).
    pub server: ServerConfig,
}

impl MockTls {
    /// Makes a fresh authority and server certificate (ECDSA P-256, valid for [`SERVER_NAMES`]).
    pub fn generate() -> io::Result<Self> {
        let ca_key = KeyPair::generate().map_err(io::Error::other)?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Keyway mock provider CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(io::Error::other)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(io::Error::other)?;
        let mut server_params = CertificateParams::new(SERVER_NAMES.map(String::from).to_vec())
            .map_err(io::Error::other)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "Keyway mock provider");
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(io::Error::other)?;

        let chain = vec![
            CertificateDer::from(server_cert.der().to_vec()),
            CertificateDer::from(ca_cert.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(io::Error::other)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            server,
        })
    }
}
