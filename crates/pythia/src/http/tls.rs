//! The rustls client configuration of an [`HttpClientConfig`]: the built-in roots plus the CA
//! file, the client identity for mutual TLS, and verification turned off when asked.
//!
//! The webhook transport speaks to hyper directly and takes its TLS from here;
//! [`HttpClient`](super::HttpClient) hands the same configuration to reqwest.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{Error, ErrorKind, HttpClientConfig};

/// A rustls client configuration (ring, TLS 1.2 and 1.3) from `config`'s TLS settings. ALPN
/// is left empty for the connector to set.
pub(crate) fn client_config(config: &HttpClientConfig) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            Error::new(ErrorKind::Builder)
                .with_detail("no tls protocol version")
                .with_source(e)
        })?;
    let builder = if config.verify_tls {
        builder.with_root_certificates(roots(config.ca_file.as_deref())?)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate::new(&provider)))
    };
    match &config.client_identity {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let (chain, key_der) = identity(cert, key)?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| identity_error(cert, key).with_source(e))
        }
    }
}

/// The built-in web PKI roots plus every certificate of the CA file.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let Some(path) = ca_file else {
        return Ok(roots);
    };
    let pem = read_pem(path, "ca file")?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_file_error(path, "ca file").with_source(e))?;
    if certs.is_empty() {
        return Err(tls_file_error(path, "ca file"));
    }
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| tls_file_error(path, "ca file").with_source(e))?;
    }
    Ok(roots)
}

/// The certificate chain and private key of a client identity.
fn identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let cert_pem = read_pem(cert, "client certificate")?;
    let key_pem = read_pem(key, "client key")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| identity_error(cert, key).with_source(e))?;
    if chain.is_empty() {
        return Err(identity_error(cert, key));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| identity_error(cert, key))?;
    Ok((chain, key_der))
}

/// Reads a PEM file, naming it in the error.
fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::new(ErrorKind::Builder)
            .with_detail(format!("cannot read the {what} {} ({e})", path.display()))
    })
}

/// A PEM file without a usable certificate.
fn tls_file_error(path: &Path, what: &str) -> Error {
    Error::new(ErrorKind::Builder).with_detail(format!(
        "the {what} {} holds no pem certificate",
        path.display()
    ))
}

/// A client certificate and key that cannot be used together (the message never shows the
/// key).
fn identity_error(cert: &Path, key: &Path) -> Error {
    Error::new(ErrorKind::Builder).with_detail(format!(
        "client certificate {} and key {} do not form a pem identity",
        cert.display(),
        key.display()
    ))
}

/// The verifier of `verify_tls = false`: any certificate for any name is accepted, while the
/// handshake signatures are still checked, so the peer holds the key of the certificate it
/// shows.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyCertificate {
    fn new(provider: &CryptoProvider) -> Self {
        AnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
