//! TLS to the broker (`mqtts://`): the rustls client configuration built
//! from the `[mqtt.tls]` files, and plain words for a failed handshake.
//!
//! Only the CAs in `ca_file` are trusted (not the system's), the broker's
//! certificate must name the URL's host, and a client certificate is sent
//! when one is configured (mutual TLS). There is no fallback: an `mqtts://`
//! link that cannot complete its handshake stays down and says why.
//! Behind the `tls` cargo feature (on by default); rustls with the ring
//! provider, no OpenSSL.

pub mod validity;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use validity::Expiry;

/// The largest certificate or key file read.
#[cfg(feature = "tls")]
const MAX_PEM_FILE: u64 = 1024 * 1024;

/// A ready client configuration; cheap to clone. `Debug` shows nothing of
/// the key. Two are equal when they were read from the same bytes.
#[derive(Clone)]
pub struct TlsClient {
    #[cfg(feature = "tls")]
    config: std::sync::Arc<rustls::ClientConfig>,
    /// SHA-256 over the files' contents.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    fingerprint: [u8; 32],
    /// When the CA certificates and this daemon's certificate expire.
    expiries: Arc<Vec<Expiry>>,
}

impl PartialEq for TlsClient {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient(..)")
    }
}

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("this rampart was built without TLS support (cargo feature `tls`)")]
    NotBuilt,
    #[error("{what} {}: {why}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("`{0}` is not a host name or address a TLS certificate can name")]
    ServerName(String),
    #[error("client certificate and key: {0}")]
    Identity(String),
}

impl TlsClient {
    /// Reads `ca_file` and, for mutual TLS, the client certificate chain and
    /// its private key (which must be mode 0600 or stricter); checks that
    /// `host` can be verified against a certificate.
    pub fn load(
        host: &str,
        ca_file: &Path,
        identity: Option<(&Path, &Path)>,
    ) -> Result<Self, TlsError> {
        #[cfg(feature = "tls")]
        {
            imp::load(host, ca_file, identity)
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (host, ca_file, identity);
            Err(TlsError::NotBuilt)
        }
    }

    /// When the trusted CA certificates and this daemon's own certificate
    /// expire (those whose date could be read).
    pub fn expiries(&self) -> &[Expiry] {
        &self.expiries
    }

    /// Runs the TLS handshake over `stream` with the broker at `host`
    /// (the input connection's own client; the publisher goes through
    /// rumqttc, see [`TlsClient::apply`]).
    pub async fn handshake<S>(&self, host: &str, stream: S) -> std::io::Result<TlsStream<S>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        #[cfg(feature = "tls")]
        {
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            tokio_rustls::TlsConnector::from(self.config.clone())
                .connect(name, stream)
                .await
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (host, stream);
            Err(std::io::Error::other(TlsError::NotBuilt))
        }
    }

    /// Sets `options` to connect over TLS with this configuration.
    pub fn apply(&self, options: &mut rumqttc::MqttOptions) {
        #[cfg(feature = "tls")]
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(self.config.clone()),
        ));
        #[cfg(not(feature = "tls"))]
        let _ = options;
    }
}

/// A client TLS stream (a placeholder type without the `tls` feature,
/// where no handshake succeeds).
#[cfg(feature = "tls")]
pub type TlsStream<S> = tokio_rustls::client::TlsStream<S>;
#[cfg(not(feature = "tls"))]
pub type TlsStream<S> = S;

/// If `error` (or anything under it) is a TLS failure, what an engineer
/// should know about it, in a sentence; `host` is the broker's host.
pub fn explain(error: &(dyn std::error::Error + 'static), host: &str) -> Option<String> {
    #[cfg(feature = "tls")]
    {
        imp::find_rustls(error).map(|e| imp::describe(e, host))
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = (error, host);
        None
    }
}

#[cfg(feature = "tls")]
mod imp {
    use std::path::Path;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use rustls::{AlertDescription as Alert, CertificateError as Cert, Error};
    use sha2::{Digest, Sha256};

    use super::validity::{not_after, Expiry};
    use super::{TlsClient, TlsError, MAX_PEM_FILE};

    fn cannot_read<'a>(
        what: &'static str,
        path: &'a Path,
    ) -> impl Fn(std::io::Error) -> TlsError + 'a {
        move |e| TlsError::File {
            what,
            path: path.to_owned(),
            why: format!("cannot read: {e}"),
        }
    }

    fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
        crate::capped::read(path, MAX_PEM_FILE).map_err(cannot_read(what, path))
    }

    fn certificates(
        what: &'static str,
        path: &Path,
        digest: &mut Sha256,
    ) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        let bad = |why: String| TlsError::File {
            what,
            path: path.to_owned(),
            why,
        };
        let bytes = read(what, path)?;
        digest.update(&bytes);
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad("holds no PEM certificate".into()));
        }
        Ok(certs)
    }

    fn private_key(path: &Path, digest: &mut Sha256) -> Result<PrivateKeyDer<'static>, TlsError> {
        const WHAT: &str = "client key";
        let bad = |why: String| TlsError::File {
            what: WHAT,
            path: path.to_owned(),
            why,
        };
        let file = crate::capped::open(path, crate::capped::Accept::RegularFile)
            .map_err(cannot_read(WHAT, path))?;
        if let Some(mode) = file.shared_mode() {
            return Err(bad(format!(
                "has mode {mode:04o}: group or others may read or write it; run `chmod 600 {}`",
                path.display()
            )));
        }
        let mut bytes = file.read(MAX_PEM_FILE).map_err(cannot_read(WHAT, path))?;
        digest.update(&bytes);
        // The error names the PEM problem, never the key's bytes.
        let key = PrivateKeyDer::from_pem_slice(&bytes)
            .map_err(|e| bad(format!("no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}")));
        zeroize::Zeroize::zeroize(&mut bytes);
        key
    }

    pub(super) fn load(
        host: &str,
        ca_file: &Path,
        identity: Option<(&Path, &Path)>,
    ) -> Result<TlsClient, TlsError> {
        ServerName::try_from(host).map_err(|_| TlsError::ServerName(host.to_owned()))?;
        let mut digest = Sha256::new();
        let mut expiries = Vec::new();
        let mut roots = rustls::RootCertStore::empty();
        let cas = certificates("CA file", ca_file, &mut digest)?;
        for (i, cert) in cas.iter().enumerate() {
            if let Some(at) = not_after(cert) {
                let what = match cas.len() {
                    1 => format!("CA certificate {}", ca_file.display()),
                    _ => format!("CA certificate {} of {}", i + 1, ca_file.display()),
                };
                expiries.push(Expiry {
                    what,
                    not_after: at,
                });
            }
        }
        for cert in cas {
            roots.add(cert).map_err(|e| TlsError::File {
                what: "CA file",
                path: ca_file.to_owned(),
                why: format!("a certificate cannot be used as a trust anchor: {e}"),
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Identity(e.to_string()))?
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = certificates("client certificate", cert, &mut digest)?;
                // The leaf and any intermediates sent with it.
                for (i, c) in chain.iter().enumerate() {
                    if let Some(at) = not_after(c) {
                        let what = match i {
                            0 => format!("client certificate {}", cert.display()),
                            _ => format!("certificate {} of {}", i + 1, cert.display()),
                        };
                        expiries.push(Expiry {
                            what,
                            not_after: at,
                        });
                    }
                }
                let key = private_key(key, &mut digest)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsError::Identity(e.to_string()))?
            }
        };
        Ok(TlsClient {
            config: Arc::new(config),
            fingerprint: digest.finalize().into(),
            expiries: Arc::new(expiries),
        })
    }

    /// The rustls error in `error`'s chain, looking inside I/O errors
    /// (which is how tokio-rustls reports them).
    pub(super) fn find_rustls<'a>(
        mut error: &'a (dyn std::error::Error + 'static),
    ) -> Option<&'a Error> {
        loop {
            if let Some(e) = error.downcast_ref::<Error>() {
                return Some(e);
            }
            if let Some(inner) = error
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                if let Some(e) = inner.downcast_ref::<Error>() {
                    return Some(e);
                }
            }
            error = error.source()?;
        }
    }

    pub(super) fn describe(error: &Error, host: &str) -> String {
        let what = match error {
            Error::InvalidCertificate(cert) => match cert {
                Cert::UnknownIssuer => {
                    "the broker's certificate is not signed by a CA in [mqtt.tls] ca_file (unknown issuer)".to_owned()
                }
                Cert::Expired | Cert::ExpiredContext { .. } => {
                    "the broker's certificate has expired (or this machine's clock is wrong)".to_owned()
                }
                Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                    "the broker's certificate is not valid yet (or this machine's clock is wrong)".to_owned()
                }
                Cert::NotValidForName | Cert::NotValidForNameContext { .. } => format!(
                    "the broker's certificate is not valid for `{host}` (hostname mismatch): \
                     the URL must name the broker as its certificate does"
                ),
                Cert::Revoked => "the broker's certificate has been revoked".to_owned(),
                other => format!("the broker's certificate was rejected: {other:?}"),
            },
            Error::AlertReceived(alert) => match alert {
                Alert::CertificateRequired => {
                    "the broker requires a client certificate: set [mqtt.tls] cert_file and key_file".to_owned()
                }
                Alert::CertificateExpired => {
                    "the broker refused this daemon's client certificate: it has expired".to_owned()
                }
                Alert::CertificateRevoked => {
                    "the broker refused this daemon's client certificate: it has been revoked".to_owned()
                }
                Alert::UnknownCA
                | Alert::BadCertificate
                | Alert::CertificateUnknown
                | Alert::UnsupportedCertificate
                | Alert::AccessDenied => format!(
                    "the broker refused this daemon's client certificate ({alert:?}): \
                     is it signed by a CA the broker trusts?"
                ),
                Alert::HandshakeFailure => {
                    "the broker refused the handshake (handshake_failure): it may want a client \
                     certificate, or share no protocol version or cipher suite"
                        .to_owned()
                }
                other => format!("the broker ended the handshake ({other:?})"),
            },
            Error::InvalidMessage(_)
            | Error::InappropriateMessage { .. }
            | Error::InappropriateHandshakeMessage { .. } => format!(
                "the broker did not answer in TLS ({error}): is that port a TLS listener?"
            ),
            other => other.to_string(),
        };
        format!("TLS to the broker failed: {what}")
    }
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use super::*;

    #[test]
    fn handshake_failures_are_explained_from_inside_io_errors() {
        let inner = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        let text = explain(&io, "broker").unwrap();
        assert!(text.contains("unknown issuer"), "{text}");
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        assert!(explain(&alert, "b").unwrap().contains("cert_file"));
        let name = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        assert!(explain(&name, "10.0.0.9").unwrap().contains("`10.0.0.9`"));
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(explain(&plain, "b"), None, "not a TLS failure");
    }

    #[test]
    fn files_are_checked_before_any_connection() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = TlsClient::load("broker", &missing, None).unwrap_err();
        assert!(err.to_string().contains("CA file"), "{err}");

        // Not a regular file: refused at once, naming what it is.
        let fifo = dir.path().join("ca-fifo.pem");
        crate::testkit::mkfifo(&fifo);
        let text = {
            let fifo = fifo.clone();
            crate::testkit::finishes_within("reading a FIFO CA file", move || {
                TlsClient::load("broker", &fifo, None).map(|_| ())
            })
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            text,
            format!(
                "CA file {}: cannot read: it is a FIFO, not a regular file",
                fifo.display()
            )
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem at all\n").unwrap();
        let err = TlsClient::load("broker", &empty, None).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");

        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["broker".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, cert.pem()).unwrap();
        assert!(TlsClient::load("broker", &ca, None).is_ok());
        let err = TlsClient::load("bad host!", &ca, None).unwrap_err();
        assert!(matches!(err, TlsError::ServerName(_)), "{err}");

        let key_file = dir.path().join("client.key");
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = TlsClient::load("broker", &ca, Some((&ca, &key_file))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("chmod 600"), "{text}");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(TlsClient::load("broker", &ca, Some((&ca, &key_file))).is_ok());
        let text = {
            let (ca, fifo) = (ca.clone(), fifo.clone());
            crate::testkit::finishes_within("reading a FIFO client key", move || {
                TlsClient::load("broker", &ca, Some((&ca, &fifo))).map(|_| ())
            })
            .unwrap_err()
            .to_string()
        };
        assert!(
            text.starts_with("client key ") && text.ends_with("it is a FIFO, not a regular file"),
            "{text}"
        );

        // A damaged key: the error names the file, never what is in it.
        std::fs::write(
            &key_file,
            "-----BEGIN PRIVATE KEY-----\nS3CRETKEYMATERIAL!!\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let text = TlsClient::load("broker", &ca, Some((&ca, &key_file)))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("client key") && text.contains("client.key"),
            "{text}"
        );
        assert!(!text.contains("S3CRET"), "the key's bytes appear: {text}");
    }
}
