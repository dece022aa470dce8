//! The certificate an HTTPS server presents: `make_server(cert=, key=)`
//! names PEM files (the chain may follow the leaf in the cert file), or
//! `cert="adhoc"` asks for a self-signed one made at start for
//! [`ADHOC_NAMES`] (flask's `--cert adhoc`). Either way the result is a
//! rustls `ServerConfig` offering ALPN `http/1.1` (RFC 7301), and the
//! certificate's SHA-256 fingerprint for the banner.
//!
//! The crypto provider is aws-lc-rs, rustls's default. Since aws-lc-sys
//! 0.2x it builds on Linux and macOS with a C compiler alone (the `cc`
//! crate; CMake only for FIPS or unusual targets): checked on a machine
//! with gcc and no CMake, Go or clang. *ring*, the other provider rustls
//! ships, builds in about half the time and adds 1.5 MB to the release
//! extension where aws-lc-rs adds 3.7 MB, but rustls 0.23.48 deprecates its
//! provider (no post-quantum key exchange, which browsers now offer) and
//! ring has had no release since 0.17.14 (March 2025).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyString;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerConfig;
use rustls::sign::{CertifiedKey, SingleCertAndKey};

use crate::errors::Error;
use crate::wsgi::repr_or_type;

/// The `cert=` value that asks for a self-signed certificate.
pub(crate) const ADHOC: &str = "adhoc";

/// The names an adhoc certificate is valid for (subjectAltName, RFC 5280
/// §4.2.1.6): what a browser on the developer's machine calls the server.
pub(crate) const ADHOC_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Days an adhoc certificate stays valid (from a day before it was made,
/// so a clock a little behind does not reject it).
const ADHOC_VALID_DAYS: i64 = 365;

/// ALPN protocol IDs the server offers (RFC 7301; it speaks HTTP/1.x only).
const ALPN: &[&[u8]] = &[b"http/1.1"];

/// What `cert=`/`key=` ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A PEM certificate chain and a PEM private key, each read from a file.
    Files {
        /// The certificate chain (leaf first).
        cert: PathBuf,
        /// The private key of the leaf.
        key: PathBuf,
    },
    /// A self-signed certificate made at start ([`adhoc_pem`]).
    Adhoc,
}

impl Source {
    /// Reads `make_server`'s `cert`/`key` arguments; `None` when neither is
    /// given (plain HTTP).
    ///
    /// # Errors
    /// `ValueError` naming the argument when `key` comes without `cert`, a
    /// certificate file without its `key`, or a `key` with `cert="adhoc"`;
    /// and when a value is not a path (`str` or `os.PathLike`).
    pub(crate) fn from_args(
        cert: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Self>> {
        let bad = |name, value: &Bound<'_, PyAny>, why: &str| Error::BadTlsArgument {
            name,
            value: repr_or_type(value),
            why: why.to_owned(),
        };
        let Some(cert) = cert else {
            return match key {
                Some(key) => Err(bad(
                    "key",
                    key,
                    "given without cert= (the certificate it is the key of)",
                )
                .into()),
                None => Ok(None),
            };
        };
        if cert
            .cast::<PyString>()
            .is_ok_and(|s| s.to_str().is_ok_and(|s| s == ADHOC))
        {
            return match key {
                Some(key) => Err(bad(
                    "key",
                    key,
                    "not used with cert='adhoc' (the adhoc certificate makes its own key)",
                )
                .into()),
                None => Ok(Some(Self::Adhoc)),
            };
        }
        let cert_path = path_arg("cert", cert)?;
        let Some(key) = key else {
            return Err(Error::BadTlsArgument {
                name: "key",
                value: "None".into(),
                why: format!(
                    "required with cert={} (the PEM file of the certificate's private key)",
                    repr_or_type(cert)
                ),
            }
            .into());
        };
        Ok(Some(Self::Files {
            cert: cert_path,
            key: path_arg("key", key)?,
        }))
    }
}

/// A path argument (`str` or `os.PathLike`).
fn path_arg(name: &'static str, value: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    value.extract::<PathBuf>().map_err(|_| {
        Error::BadArgument {
            name,
            value: repr_or_type(value),
            why: "expected a file path (str or os.PathLike)",
        }
        .into()
    })
}

/// A certificate ready to serve.
#[derive(Debug, Clone)]
pub(crate) struct Certificate {
    /// The rustls configuration every TLS connection of the server shares.
    pub(crate) config: Arc<ServerConfig>,
    /// SHA-256 of the leaf certificate's DER, as colon-separated upper-case
    /// hex pairs (the form browsers and `openssl x509 -fingerprint` show).
    pub(crate) fingerprint: String,
}

impl Certificate {
    /// Reads the files (or makes the adhoc certificate) of `source`.
    ///
    /// # Errors
    /// [`Error::Os`] when a file cannot be read (naming the argument and
    /// the path); [`Error::BadTlsArgument`] when a file holds no PEM
    /// certificate or private key, the key is of a kind rustls cannot sign
    /// with, or it does not match the certificate.
    pub(crate) fn load(source: &Source) -> Result<Self, Error> {
        match source {
            Source::Files { cert, key } => {
                let cert_pem = read("cert", cert)?;
                let key_pem = read("key", key)?;
                Self::from_pem(&cert_pem, &key_pem, &quoted(cert), &quoted(key))
            }
            Source::Adhoc => {
                let (cert_pem, key_pem) = adhoc_pem()?;
                Self::from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), "'adhoc'", "None")
            }
        }
    }

    /// Builds the rustls configuration from PEM text: `cert_pem` holds the
    /// chain (leaf first, RFC 8446 §4.4.2), `key_pem` the leaf's private key
    /// (PKCS#8, PKCS#1 or SEC1). `cert_name`/`key_name` are the arguments'
    /// values as the error messages show them.
    ///
    /// # Errors
    /// [`Error::BadTlsArgument`] as [`Certificate::load`] says.
    pub(crate) fn from_pem(
        cert_pem: &[u8],
        key_pem: &[u8],
        cert_name: &str,
        key_name: &str,
    ) -> Result<Self, Error> {
        let bad = |name, value: &str, why: String| Error::BadTlsArgument {
            name,
            value: value.to_owned(),
            why,
        };
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("cert", cert_name, format!("not a valid PEM file ({e})")))?;
        let Some(leaf) = chain.first() else {
            return Err(bad(
                "cert",
                cert_name,
                "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".into(),
            ));
        };
        let fingerprint = fingerprint(leaf);
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
            pem::Error::NoItemsFound => bad(
                "key",
                key_name,
                "no PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY) in the file".into(),
            ),
            e => bad("key", key_name, format!("not a valid PEM file ({e})")),
        })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| bad("key", key_name, format!("cannot be used ({e})")))?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            // rustls serves a key whose public half it cannot compute, too.
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(_)) => {
                return Err(bad(
                    "key",
                    key_name,
                    format!("does not match the certificate in cert={cert_name}"),
                ))
            }
            Err(e) => {
                return Err(bad(
                    "cert",
                    cert_name,
                    format!("the certificate cannot be parsed ({e})"),
                ))
            }
        }
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("cert", cert_name, e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Self {
            config: Arc::new(config),
            fingerprint,
        })
    }
}

/// A file's bytes, or an `OSError` naming the argument and the path.
fn read(name: &str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::io(format!("{name}={} cannot be read", quoted(path)), &e))
}

/// A path as Python's `repr` of a `str` shows it (near enough for messages).
fn quoted(path: &Path) -> String {
    format!("{:?}", path.to_string_lossy()).replace('"', "'")
}

/// A new self-signed certificate for [`ADHOC_NAMES`] and its private key,
/// as PEM text `(certificate, key)`: ECDSA P-256, valid for
/// [`ADHOC_VALID_DAYS`] days, for TLS servers only (key usage
/// digitalSignature, extended key usage serverAuth).
///
/// # Errors
/// [`Error::Os`] when the system's random number generator fails.
pub(crate) fn adhoc_pem() -> Result<(String, String), Error> {
    let failed = |e: rcgen::Error| Error::Os {
        what: "cannot make the adhoc certificate".into(),
        errno: None,
        why: e.to_string(),
    };
    let names: Vec<String> = ADHOC_NAMES.iter().map(|&n| n.to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names).map_err(failed)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "localhost");
    dn.push(
        rcgen::DnType::OrganizationName,
        "rswsgi development server (adhoc, self-signed)",
    );
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(ADHOC_VALID_DAYS);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// SHA-256 of `der` as colon-separated upper-case hex pairs.
#[must_use]
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// `_check_certificate(cert=None, key=None) -> str | None` (private: the
/// dev CLI's check before it serves, or before `--reload` starts a child).
///
/// Checks `cert`/`key` as `make_server` does and returns the certificate's
/// SHA-256 fingerprint; `None` without `cert` or for `cert="adhoc"` (which
/// is made only when serving). Raises as `make_server` does for them.
#[pyfunction]
#[pyo3(signature = (cert = None, key = None))]
pub(crate) fn _check_certificate(
    py: Python<'_>,
    cert: Option<&Bound<'_, PyAny>>,
    key: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<String>> {
    match Source::from_args(cert, key)? {
        Some(source @ Source::Files { .. }) => {
            let loaded = py.detach(|| Certificate::load(&source))?;
            Ok(Some(loaded.fingerprint))
        }
        Some(Source::Adhoc) | None => Ok(None),
    }
}

/// `_adhoc_certificate() -> tuple[str, str]` (private: the `--reload`
/// parent makes one certificate that every child serves).
///
/// A new self-signed certificate for `localhost`, `127.0.0.1` and `::1` and
/// its private key, as PEM text `(certificate, key)`. Raises `OSError` when
/// the system's random number generator fails.
#[pyfunction]
pub(crate) fn _adhoc_certificate(py: Python<'_>) -> PyResult<(String, String)> {
    Ok(py.detach(adhoc_pem)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adhoc() -> (String, String) {
        adhoc_pem().unwrap()
    }

    #[test]
    fn adhoc_pem_serves_with_alpn_and_a_sha256_fingerprint() {
        let (cert, key) = adhoc();
        let c = Certificate::from_pem(cert.as_bytes(), key.as_bytes(), "c", "k").unwrap();
        assert_eq!(c.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(c.fingerprint.len(), 32 * 3 - 1);
        assert!(c.fingerprint.split(':').all(|h| h.len() == 2
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())));
        let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        assert_eq!(c.fingerprint, fingerprint(&der));
    }

    #[test]
    fn fingerprint_is_sha256_of_the_der() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            fingerprint(b"abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn each_bad_input_names_its_argument() {
        let (cert, key) = adhoc();
        let (_, other_key) = adhoc();
        let cases: [(&str, &str, &str, &str); 5] = [
            ("", &key, "cert", "no PEM certificate"),
            (
                "-----BEGIN CERTIFICATE-----\nnot base64!\n",
                &key,
                "cert",
                "not a valid PEM",
            ),
            (&cert, &cert, "key", "no PEM private key"),
            (&cert, "", "key", "no PEM private key"),
            (
                &cert,
                &other_key,
                "key",
                "does not match the certificate in cert=c",
            ),
        ];
        for (cert_pem, key_pem, name, why) in cases {
            match Certificate::from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), "c", "k") {
                Err(Error::BadTlsArgument {
                    name: n, why: w, ..
                }) => {
                    assert_eq!(n, name, "{w}");
                    assert!(w.contains(why), "{w:?} lacks {why:?}");
                }
                other => panic!("{name}/{why}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_chain_after_the_leaf_is_accepted() {
        let (cert, key) = adhoc();
        let (other, _) = adhoc();
        let chain = format!("{cert}{other}");
        let c = Certificate::from_pem(chain.as_bytes(), key.as_bytes(), "c", "k").unwrap();
        let leaf = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        assert_eq!(c.fingerprint, fingerprint(&leaf));
    }

    #[test]
    fn unreadable_files_are_os_errors_naming_the_argument() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let source = Source::Files {
            cert: missing.clone(),
            key: missing,
        };
        match Certificate::load(&source) {
            Err(Error::Os { what, errno, .. }) => {
                assert!(what.starts_with("cert='"), "{what}");
                assert_eq!(errno, Some(2));
            }
            other => panic!("{other:?}"),
        }
        let (cert, _) = adhoc();
        let cert_file = dir.path().join("cert.pem");
        std::fs::write(&cert_file, cert).unwrap();
        let source = Source::Files {
            cert: cert_file,
            key: dir.path().to_owned(), // a directory cannot be read as a file
        };
        match Certificate::load(&source) {
            Err(Error::Os { what, .. }) => assert!(what.starts_with("key='"), "{what}"),
            other => panic!("{other:?}"),
        }
    }
}
