//! A throwaway PKI for TLS tests: one CA, a server certificate and a client certificate.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// How [`TestServer::start_tls`](crate::TestServer::start_tls) sets up TLS.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsOptions {
    /// Refuse clients that do not present a certificate signed by the test CA (mTLS).
    /// Default: `false`.
    pub require_client_cert: bool,
}

/// A freshly generated CA, a server certificate for `127.0.0.1` and `localhost`, and a client
/// certificate, all as PEM text. Every server started with TLS gets its own.
///
/// `Debug` shows no key material.
#[derive(Clone)]
pub struct TestPki {
    /// The CA certificate that signed both others; trust it in the client.
    pub ca_pem: String,
    /// The server certificate (for `127.0.0.1`, `::1` and `localhost`).
    pub server_cert_pem: String,
    /// The server's private key (PKCS#8).
    pub server_key_pem: String,
    /// A client certificate signed by the CA, for mTLS.
    pub client_cert_pem: String,
    /// The client's private key (PKCS#8).
    pub client_key_pem: String,
    server_cert_der: CertificateDer<'static>,
    server_key_der: Vec<u8>,
    ca_der: CertificateDer<'static>,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// Where [`TestPki::write_to`] put each PEM file.
#[derive(Debug, Clone)]
pub struct PkiPaths {
    /// `ca.pem`
    pub ca: PathBuf,
    /// `server.pem`
    pub server_cert: PathBuf,
    /// `server.key`
    pub server_key: PathBuf,
    /// `client.pem`
    pub client_cert: PathBuf,
    /// `client.key`
    pub client_key: PathBuf,
}

impl TestPki {
    /// Generates a new CA and the two certificates it signs (ECDSA P-256).
    ///
    /// # Panics
    ///
    /// When key generation fails, which only a broken crypto backend does.
    pub fn generate() -> Self {
        let ca_key = KeyPair::generate().expect("generate the test CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "pythia testkit CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .expect("self-sign the test CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("generate the server key");
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let mut server_params = CertificateParams::new(names).expect("server params");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "pythia testkit server");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("sign the server certificate");

        let client_key = KeyPair::generate().expect("generate the client key");
        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        client_params
            .distinguished_name
            .push(DnType::CommonName, "pythia testkit client");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params
            .signed_by(&client_key, &issuer)
            .expect("sign the client certificate");

        Self {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            server_cert_der: server_cert.der().clone(),
            server_key_der: server_key.serialize_der(),
            ca_der: ca_cert.der().clone(),
        }
    }

    /// The client certificate followed by its key, in one PEM text (the form `reqwest`'s
    /// `Identity::from_pem` takes).
    pub fn client_identity_pem(&self) -> String {
        format!("{}{}", self.client_cert_pem, self.client_key_pem)
    }

    /// Writes `ca.pem`, `server.pem`, `server.key`, `client.pem` and `client.key` into `dir`
    /// (which must exist) and returns their paths.
    pub fn write_to(&self, dir: impl AsRef<Path>) -> io::Result<PkiPaths> {
        let dir = dir.as_ref();
        let paths = PkiPaths {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        };
        std::fs::write(&paths.ca, &self.ca_pem)?;
        std::fs::write(&paths.server_cert, &self.server_cert_pem)?;
        std::fs::write(&paths.server_key, &self.server_key_pem)?;
        std::fs::write(&paths.client_cert, &self.client_cert_pem)?;
        std::fs::write(&paths.client_key, &self.client_key_pem)?;
        Ok(paths)
    }

    /// The rustls server configuration for this PKI (HTTP/1.1 over ALPN).
    pub(crate) fn server_config(&self, options: TlsOptions) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");

        let builder = if options.require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca_der.clone()).expect("trust the test CA");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("build the client certificate verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        let mut config = builder
            .with_single_cert(vec![self.server_cert_der.clone()], key)
            .expect("the generated server certificate matches its key");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pem_texts_have_the_expected_kinds() {
        let pki = TestPki::generate();

        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki
            .client_cert_pem
            .starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki
            .server_key_pem
            .starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_ne!(pki.server_cert_pem, pki.client_cert_pem);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let pki = TestPki::generate();

        let shown = format!("{pki:?}");

        assert!(!shown.contains("PRIVATE KEY"));
    }

    #[test]
    fn write_to_puts_every_file_in_the_directory() {
        let dir = std::env::temp_dir().join(format!("pythia-testkit-pki-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = TestPki::generate();

        let paths = pki.write_to(&dir).unwrap();

        assert_eq!(std::fs::read_to_string(&paths.ca).unwrap(), pki.ca_pem);
        assert_eq!(
            std::fs::read_to_string(&paths.client_key).unwrap(),
            pki.client_key_pem
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
