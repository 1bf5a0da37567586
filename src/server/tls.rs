//! TLS: builds the rustls server configuration the TLS listeners share, from the tls-*
//! options, once at start. The reactor drives each connection's `rustls::ServerConnection`
//! (see `Conn::tls` in reactor.rs); this module owns only the setup.
//!
//! Must hold: nothing here runs on the reactor's hot path; every error names the option
//! and the file, so that a bad setup stops the start with a clear message (Redis refuses
//! to start too); the crypto provider is ring's (no aws-lc-rs); a configuration is built
//! only when a TLS listener exists, so plain-only servers never read the tls-* files.
//!
//! # TLS (user-facing)
//!
//! Rustis speaks TLS 1.2 and 1.3 (rustls) with Redis's option names:
//!
//! ```text
//! tls-port 6390                      # RESP over TLS on every bind address (0 = off)
//! tls-cert-file /etc/rustis/server.crt
//! tls-key-file /etc/rustis/server.key
//! tls-ca-cert-file /etc/rustis/ca.crt
//! tls-auth-clients yes               # yes | optional | no
//! tls-protocols "TLSv1.2 TLSv1.3"    # any subset
//! listen 127.0.0.1 6391 msgpack tls  # any listener, MessagePack too, can be TLS
//! ```
//!
//! `tls-auth-clients yes` (the default, as in Redis) requires a client certificate
//! signed by `tls-ca-cert-file`; `optional` verifies one if the client sends it; `no`
//! asks for none (then no CA file is needed). `redis-cli --tls --cacert ca.crt --cert
//! client.crt --key client.key -p 6390` connects. A plaintext client on a TLS port is
//! disconnected without a reply, and the server logs it. The TLS options are read at
//! start only: CONFIG SET cannot change them and certificates are not reloaded; there
//! is no tls-ciphers/tls-ciphersuites (rustls's safe defaults apply), no
//! tls-session-caching knobs, and no TLS for replication or cluster.

use crate::config::Config;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use std::sync::Arc;

/// A TLS setup failure at start (main tells it apart from a bind error by this type).
#[derive(Debug)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// True when any listener speaks TLS (tls-port or a `listen ... tls` line).
pub fn wanted(cfg: &Config) -> bool {
    cfg.tls_port != 0 || cfg.listen.iter().any(|l| l.tls)
}

/// The TLS server configuration from the tls-* options; Err is a message for the user.
pub fn server_config(cfg: &Config) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = protocol_versions(&cfg.tls_protocols)?;
    let certs = load_certs("tls-cert-file", &cfg.tls_cert_file)?;
    if certs.is_empty() {
        return Err(format!("Failed to load certificate: {}: no certificate in the file", cfg.tls_cert_file));
    }
    let key = load_key(&cfg.tls_key_file)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS: {e}"))?;
    let builder = match cfg.tls_auth_clients.as_str() {
        "no" => builder.with_no_client_auth(),
        mode => {
            if cfg.tls_ca_cert_file.is_empty() {
                return Err("tls-ca-cert-file must be specified when tls-auth-clients is yes or optional".into());
            }
            let mut roots = RootCertStore::empty();
            for c in load_certs("tls-ca-cert-file", &cfg.tls_ca_cert_file)? {
                roots
                    .add(c)
                    .map_err(|e| format!("Failed to load CA certificate(s) from {}: {e}", cfg.tls_ca_cert_file))?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "Failed to load CA certificate(s): {}: no certificate in the file",
                    cfg.tls_ca_cert_file
                ));
            }
            let mut vb = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if mode == "optional" {
                vb = vb.allow_unauthenticated();
            }
            let verifier = vb.build().map_err(|e| format!("Failed to configure TLS client verification: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let sc = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("Failed to configure TLS with {} and {}: {e}", cfg.tls_cert_file, cfg.tls_key_file))?;
    Ok(Arc::new(sc))
}

fn protocol_versions(spec: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let mut v = Vec::new();
    for w in spec.split_whitespace() {
        match w.to_ascii_lowercase().as_str() {
            "tlsv1.2" => v.push(&rustls::version::TLS12),
            "tlsv1.3" => v.push(&rustls::version::TLS13),
            _ => return Err(format!("Invalid tls-protocols specified ({w})")),
        }
    }
    if v.is_empty() {
        v = vec![&rustls::version::TLS12, &rustls::version::TLS13];
    }
    Ok(v)
}

fn load_certs(option: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if path.is_empty() {
        return Err(format!("{option} must be specified when a TLS listener is configured"));
    }
    let what = if option == "tls-ca-cert-file" { "CA certificate(s)" } else { "certificate" };
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("Failed to load {what}: {path}: {e}"))
}

fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    if path.is_empty() {
        return Err("tls-key-file must be specified when a TLS listener is configured".into());
    }
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("Failed to load private key: {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_option_or_file() {
        let mut c = Config { tls_port: 6390, ..Config::default() };
        assert!(wanted(&c));
        let e = server_config(&c).unwrap_err();
        assert!(e.contains("tls-cert-file"), "{e}");
        c.tls_cert_file = "/nonexistent/rustis-server.crt".into();
        c.tls_key_file = "/nonexistent/rustis-server.key".into();
        let e = server_config(&c).unwrap_err();
        assert!(e.contains("Failed to load certificate: /nonexistent/rustis-server.crt"), "{e}");
        assert!(!wanted(&Config::default()));
        assert_eq!(protocol_versions("TLSv1.3").unwrap().len(), 1);
        assert!(protocol_versions("SSLv3").is_err());
    }
}
