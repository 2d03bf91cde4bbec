//! The HTTP client loci uses for wheels tarballs and registries.
//!
//! * TLS is rustls with the system trust store plus SSL_CERT_FILE / SSL_CERT_DIR (a TLS-inspecting
//!   proxy or a self-signed registry), or, for REGISTRY_INSECURE, no certificate check at all.
//! * Proxies come from the environment as reqwest does by default (http_proxy, https_proxy,
//!   no_proxy).
//! * Timeouts: connecting, and every read (a stalled transfer fails instead of hanging a build),
//!   from [`TlsConfig`] (LOCI_HTTP_CONNECT_TIMEOUT, LOCI_HTTP_READ_TIMEOUT).
//! * [`send`] retries connection errors, 5xx and 429 with exponential backoff, honouring
//!   Retry-After, at most [`ATTEMPTS`] times within [`RETRY_BUDGET`].
//! * [`Download`] is a body reader that survives a broken connection: it re-opens the transfer
//!   with `Range: bytes=N-` and carries on, so a caller's hasher and decompressor never notice.
//!   It follows redirects by itself and sends the caller's Authorization only to the origin it
//!   was given for.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{
    HeaderValue, AUTHORIZATION, CONTENT_RANGE, ETAG, LAST_MODIFIED, LOCATION, RANGE,
};
use reqwest::{StatusCode, Url};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};

/// loci's HTTP client settings. Extra trust for HTTPS (a corporate TLS proxy, a self-signed
/// registry): SSL_CERT_FILE and SSL_CERT_DIR, honoured by loci's HTTP client and git, beside the
/// system trust store. And the client's timeouts (LOCI_HTTP_CONNECT_TIMEOUT,
/// LOCI_HTTP_READ_TIMEOUT, in seconds).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsConfig {
    pub ssl_cert_file: Option<std::path::PathBuf>,
    pub ssl_cert_dir: Option<std::path::PathBuf>,
    /// How long establishing a connection may take.
    pub connect_timeout: Duration,
    /// How long the response headers, and then every single read of the body, may take.
    pub read_timeout: Duration,
}

/// The default of LOCI_HTTP_CONNECT_TIMEOUT.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of LOCI_HTTP_READ_TIMEOUT.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ssl_cert_file: None,
            ssl_cert_dir: None,
            connect_timeout: CONNECT_TIMEOUT,
            read_timeout: READ_TIMEOUT,
        }
    }
}

/// Attempts for one request (the first one included).
pub const ATTEMPTS: u32 = 5;
/// How long the attempts of one request may take together: no retry starts after that.
pub const RETRY_BUDGET: Duration = Duration::from_secs(120);
/// How many times a body transfer is re-opened in a row without receiving a byte in between.
pub const RESUMES: u32 = 8;
const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 10;

/// How a [`client`] is built.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Accept any server certificate (REGISTRY_INSECURE).
    pub insecure: bool,
    /// Leave redirects to the caller (for [`Download`], which strips credentials across hosts).
    pub manual_redirects: bool,
    /// Follow redirects only on the same host, never from https to http (an index page): a
    /// redirect elsewhere is handed back to the caller as the 3xx answer it is.
    pub same_host_redirects: bool,
}

/// Builds a client with loci's trust store, timeouts and proxies.
pub fn client(tls: &TlsConfig, opts: Options) -> Result<Client> {
    let rustls_config = tls_config(tls, opts.insecure)?;
    let mut builder = Client::builder()
        .use_preconfigured_tls(rustls_config)
        .connect_timeout(tls.connect_timeout)
        .timeout(tls.read_timeout)
        .user_agent(concat!("loci/", env!("CARGO_PKG_VERSION")));
    if opts.manual_redirects {
        builder = builder.redirect(reqwest::redirect::Policy::none());
    } else if opts.same_host_redirects {
        builder = builder.redirect(reqwest::redirect::Policy::custom(|attempt| {
            let stays = attempt.previous().first().is_some_and(|first| {
                first.host_str() == attempt.url().host_str()
                    && !(first.scheme() == "https" && attempt.url().scheme() != "https")
            });
            if !stays {
                attempt.stop()
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else {
                attempt.follow()
            }
        }));
    }
    builder
        .build()
        .map_err(|e| Error::new("cannot set up the HTTP client").cause(chain(&e)))
}

/// The rustls configuration: the system roots plus SSL_CERT_FILE and SSL_CERT_DIR, or no
/// verification at all when `insecure`.
pub fn tls_config(tls: &TlsConfig, insecure: bool) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new("cannot set up TLS").caused_by(e))?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(root_store(tls)?)
            .with_no_client_auth()
    };
    // HTTP/1.1 only: one stream per connection moves bulk data fastest and keeps things simple.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn root_store(tls: &TlsConfig) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    // The platform store (rustls-native-certs reads the usual files; a broken one is not fatal
    // as long as something trustworthy remains).
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(file) = &tls.ssl_cert_file {
        let certs = pem_certificates(file).map_err(|e| {
            Error::new(format!("SSL_CERT_FILE={}: cannot read certificates", file.display()))
                .cause(e)
                .hint("SSL_CERT_FILE must name a PEM file of CA certificates (e.g. /etc/ssl/certs/ca-certificates.crt)")
        })?;
        if certs.is_empty() {
            return Err(Error::new(format!("SSL_CERT_FILE={} holds no PEM certificate", file.display()))
                .hint("SSL_CERT_FILE must name a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)"));
        }
        roots.add_parsable_certificates(certs);
    }
    if let Some(dir) = &tls.ssl_cert_dir {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::new(format!(
                "SSL_CERT_DIR={}: cannot list the directory",
                dir.display()
            ))
            .caused_by(e)
            .hint("SSL_CERT_DIR must name a directory of PEM CA certificates (e.g. /etc/ssl/certs)")
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                // Not every file in a certificate directory is a certificate; skip the others.
                if let Ok(certs) = pem_certificates(&path) {
                    roots.add_parsable_certificates(certs);
                }
            }
        }
    }
    if roots.is_empty() {
        return Err(
            Error::new("no trusted CA certificate found for HTTPS").hint(
                "install ca-certificates in the base image, or set SSL_CERT_FILE to a PEM bundle",
            ),
        );
    }
    Ok(roots)
}

fn pem_certificates(path: &Path) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    CertificateDer::pem_slice_iter(&data)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("{e:?}"))
}

/// REGISTRY_INSECURE: the certificate is not checked, the handshake signatures still are.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An error with all its causes, `a: b: c` (reqwest's own Display stops at the first).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut current = e.source();
    while let Some(c) = current {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        // io::Error hides a custom inner error from source(); look through it.
        current = match c.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) if inner.source().is_some() => inner.source(),
            _ => c.source(),
        };
    }
    parts.join(": ")
}

/// The rustls error behind a failed request, if TLS failed.
pub fn tls_error(e: &reqwest::Error) -> Option<rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = current {
        // io::Errors nest (hyper wraps tokio-rustls' io::Error wrapping the rustls::Error).
        let mut x: &(dyn std::error::Error + 'static) = c;
        loop {
            if let Some(t) = x.downcast_ref::<rustls::Error>() {
                return Some(t.clone());
            }
            match x.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
                Some(inner) => x = inner,
                None => break,
            }
        }
        current = c.source();
    }
    None
}

/// Whether a failed request failed on the server's certificate.
pub fn is_certificate_error(e: &reqwest::Error) -> bool {
    match tls_error(e) {
        Some(rustls::Error::InvalidCertificate(_)) => true,
        Some(_) => false,
        None => {
            let text = chain(e).to_ascii_lowercase();
            text.contains("invalid peer certificate") || text.contains("unknownissuer")
        }
    }
}

fn retryable_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// The wait before attempt `attempt + 1` (0-based): the server's Retry-After when it gives
/// one (capped), else exponential backoff.
fn delay(attempt: u32, retry_after: Option<&HeaderValue>) -> Duration {
    if let Some(secs) = retry_after
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Duration::from_secs(secs).min(MAX_DELAY);
    }
    (FIRST_DELAY * 2u32.saturating_pow(attempt)).min(MAX_DELAY)
}

/// Sends the request `make` builds, retrying connection errors, timeouts, 5xx and 429.
/// `what` names the request in errors. The final answer is returned whatever its status
/// (after the retries ran out on a retryable one); only transport failures are errors.
pub fn send(what: &str, make: impl Fn() -> RequestBuilder) -> Result<Response> {
    send_attempts(what, ATTEMPTS, make)
}

/// [`send`] with a given number of attempts.
pub fn send_attempts(
    what: &str,
    attempts: u32,
    make: impl Fn() -> RequestBuilder,
) -> Result<Response> {
    send_within(what, attempts, RETRY_BUDGET, make)
}

/// [`send_attempts`] where no retry starts once `budget` would be exceeded by its wait.
pub fn send_within(
    what: &str,
    attempts: u32,
    budget: Duration,
    make: impl Fn() -> RequestBuilder,
) -> Result<Response> {
    let started = std::time::Instant::now();
    // Whether waiting `wait` and trying again stays within the budget.
    let may_retry =
        |attempt: u32, wait: Duration| attempt + 1 < attempts && started.elapsed() + wait < budget;
    let mut attempt = 0;
    loop {
        crate::interrupt::check()?;
        match make().send() {
            Ok(resp) if retryable_status(resp.status()) => {
                let wait = delay(attempt, resp.headers().get(reqwest::header::RETRY_AFTER));
                if !may_retry(attempt, wait) {
                    return Ok(resp);
                }
                drop(resp);
                std::thread::sleep(wait);
            }
            Ok(resp) => return Ok(resp),
            // TLS failures (an untrusted certificate, a server not speaking TLS) do not go away.
            Err(e) if tls_error(&e).is_some() || is_certificate_error(&e) => {
                return Err(transport_error(what, &e))
            }
            Err(e)
                if (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body())
                    && may_retry(attempt, delay(attempt, None)) =>
            {
                std::thread::sleep(delay(attempt, None));
            }
            Err(e) => {
                let mut err = transport_error(what, &e);
                if attempt > 0 {
                    err.what = format!(
                        "{} (after {} attempts in {})",
                        err.what,
                        attempt + 1,
                        crate::report::human(started.elapsed())
                    );
                }
                return Err(err);
            }
        }
        attempt += 1;
    }
}

/// The error for a request that got no answer.
pub fn transport_error(what: &str, e: &reqwest::Error) -> Error {
    let err = Error::new(format!("{what}: no answer")).cause(chain(e));
    if is_certificate_error(e) {
        err.hint("the server's TLS certificate is not trusted: add its CA to SSL_CERT_FILE (a PEM bundle), or for a registry set REGISTRY_INSECURE=true to skip the check")
    } else if let Some(t) = tls_error(e) {
        if matches!(t, rustls::Error::InvalidMessage(_)) {
            err.hint("the server does not speak TLS here: use http (for a registry, REGISTRY_PROTOCOL=http or detect)")
        } else {
            err.hint(
                "the TLS handshake failed; check that the address is the HTTPS port of the server",
            )
        }
    } else if e.is_timeout() {
        err.hint("the server did not answer in time; check the network and proxy settings (https_proxy, no_proxy); LOCI_HTTP_CONNECT_TIMEOUT and LOCI_HTTP_READ_TIMEOUT (seconds) set how long loci waits")
    } else {
        err.hint("check that the host is reachable from the build (DNS, proxy variables http_proxy/https_proxy/no_proxy)")
    }
}

/// The error for an unexpected HTTP status, with the start of the answer's body.
pub fn status_error(what: &str, resp: Response) -> Error {
    let status = resp.status();
    let mut body = String::new();
    let _ = resp.take(2048).read_to_string(&mut body);
    let body = body.trim();
    let err = Error::new(format!("{what}: the server answered {status}"));
    if body.is_empty() {
        err
    } else {
        err.cause(body.to_string())
    }
}

/// Same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Fetches a new Authorization value after a 401 (e.g. an expired bearer token).
pub type Reauthorize<'a> = Box<dyn FnMut() -> Result<Option<HeaderValue>> + 'a>;

/// A streaming GET that re-opens itself with a Range request when the connection breaks.
///
/// Reading yields the body from the first byte to the last exactly once; a failure that
/// survives the retries is returned as an `io::Error` and kept in full in [`Download::failure`].
pub struct Download<'a> {
    client: &'a Client,
    url: Url,
    what: String,
    authorization: Option<HeaderValue>,
    reauthorize: Option<Reauthorize<'a>>,
    /// The body's length when known (the caller's, or the server's Content-Length).
    expected_len: Option<u64>,
    /// ETag or Last-Modified of the first answer, sent as If-Range when resuming.
    validator: Option<HeaderValue>,
    resp: Option<Response>,
    offset: u64,
    resumes: u32,
    /// When the last byte arrived (or the transfer started): a transfer that delivers nothing
    /// for [`RETRY_BUDGET`] gives up, however many resumes are left.
    progress_at: std::time::Instant,
    /// Total number of re-opened transfers (for tests and logs).
    pub resumed: u32,
    /// The full error behind a failed read.
    pub failure: Option<Error>,
}

impl<'a> Download<'a> {
    /// Starts the transfer. `client` must have been built with `manual_redirects`.
    /// `expected_len`, when given, is enforced: a longer body is an error, a shorter one is resumed.
    pub fn open(
        client: &'a Client,
        url: Url,
        what: impl Into<String>,
        authorization: Option<HeaderValue>,
        reauthorize: Option<Reauthorize<'a>>,
        expected_len: Option<u64>,
    ) -> Result<Self> {
        let mut d = Download {
            client,
            url,
            what: what.into(),
            authorization,
            reauthorize,
            expected_len,
            validator: None,
            resp: None,
            offset: 0,
            resumes: 0,
            progress_at: std::time::Instant::now(),
            resumed: 0,
            failure: None,
        };
        let resp = d.request(None)?;
        if let Some(len) = resp.content_length() {
            match d.expected_len {
                Some(want) if want != len => {
                    return Err(Error::new(format!("{}: the server announces {len} bytes, expected {want}", d.what))
                        .hint("the registry or a proxy in between serves something else than the manifest describes"));
                }
                _ => d.expected_len = Some(len),
            }
        }
        d.validator = resp
            .headers()
            .get(ETAG)
            .or_else(|| resp.headers().get(LAST_MODIFIED))
            .cloned();
        d.resp = Some(resp);
        Ok(d)
    }

    /// Bytes delivered so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The body's length, when the caller or the server gave it.
    pub fn length(&self) -> Option<u64> {
        self.expected_len
    }

    /// One GET (from `offset` when resuming), following redirects by hand; returns a 200/206.
    fn request(&mut self, from: Option<u64>) -> Result<Response> {
        let mut url = self.url.clone();
        let mut reauthorized = false;
        let mut hops = 0;
        loop {
            let send_auth = same_origin(&url, &self.url);
            let budget = RETRY_BUDGET.saturating_sub(self.progress_at.elapsed());
            let resp = send_within(&self.what, ATTEMPTS, budget, || {
                let mut req = self.client.get(url.clone());
                if send_auth {
                    if let Some(a) = &self.authorization {
                        req = req.header(AUTHORIZATION, a.clone());
                    }
                }
                if let Some(n) = from {
                    req = req.header(RANGE, format!("bytes={n}-"));
                    if let Some(v) = &self.validator {
                        req = req.header(reqwest::header::IF_RANGE, v.clone());
                    }
                }
                req
            })?;
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .map(str::to_string);
                let Some(location) = location else {
                    return Err(Error::new(format!(
                        "{}: redirect ({status}) without a Location",
                        self.what
                    )));
                };
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(Error::new(format!(
                        "{}: more than {MAX_REDIRECTS} redirects",
                        self.what
                    ))
                    .cause(location));
                }
                url = url.join(&location).map_err(|e| {
                    Error::new(format!("{}: bad redirect Location {location:?}", self.what))
                        .caused_by(e)
                })?;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED && send_auth && !reauthorized {
                if let Some(reauth) = self.reauthorize.as_mut() {
                    self.authorization = reauth()?;
                    reauthorized = true;
                    url = self.url.clone();
                    continue;
                }
            }
            match (from, status) {
                (None, StatusCode::OK) => return Ok(resp),
                (Some(n), StatusCode::PARTIAL_CONTENT) => {
                    let start = resp
                        .headers()
                        .get(CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("bytes "))
                        .and_then(|v| v.split('-').next())
                        .and_then(|v| v.parse::<u64>().ok());
                    if start != Some(n) {
                        return Err(Error::new(format!(
                            "{}: resuming at byte {n}, the server sent another range",
                            self.what
                        ))
                        .cause(format!(
                            "Content-Range: {:?}",
                            resp.headers().get(CONTENT_RANGE)
                        )));
                    }
                    return Ok(resp);
                }
                (Some(n), StatusCode::OK) => {
                    // The server ignores ranges (or the file changed, when a validator was sent):
                    // without a validator we can only skip what we already have, and the
                    // caller's digest check decides.
                    if self.validator.is_some() && !status_is_same_file(&resp, &self.validator) {
                        return Err(Error::new(format!("{}: the file changed on the server while it was being downloaded", self.what))
                            .hint("try again; if it keeps happening, the URL does not point at a fixed file"));
                    }
                    let mut resp = resp;
                    let skipped =
                        io::copy(&mut (&mut resp).take(n), &mut io::sink()).map_err(|e| {
                            Error::new(format!("{}: cannot resume", self.what)).caused_by(e)
                        })?;
                    if skipped != n {
                        return Err(Error::new(format!(
                            "{}: the server sent a shorter file when resuming",
                            self.what
                        )));
                    }
                    return Ok(resp);
                }
                _ => return Err(status_error(&self.what, resp)),
            }
        }
    }

    fn fail(&mut self, e: Error) -> io::Error {
        let io = io::Error::other(e.to_string());
        self.failure = Some(e);
        io
    }
}

fn status_is_same_file(resp: &Response, validator: &Option<HeaderValue>) -> bool {
    let now = resp
        .headers()
        .get(ETAG)
        .or_else(|| resp.headers().get(LAST_MODIFIED));
    now == validator.as_ref()
}

impl Read for Download<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Err(e) = crate::interrupt::check() {
                return Err(self.fail(e));
            }
            if self.expected_len == Some(self.offset) {
                // Everything arrived: do not wait for the server to close.
                self.resp = None;
                return Ok(0);
            }
            if self.resp.is_none() {
                self.resumes += 1;
                self.resumed += 1;
                if self.resumes > RESUMES {
                    let e = Error::new(format!("{}: the transfer kept breaking off at byte {}", self.what, self.offset))
                        .hint("check the network between the build and the server; the download resumes by itself a few times before giving up");
                    return Err(self.fail(e));
                }
                let wait = delay(self.resumes - 1, None);
                if self.progress_at.elapsed() + wait >= RETRY_BUDGET {
                    let e = Error::new(format!(
                        "{}: no data arrived for {} (at byte {})",
                        self.what,
                        crate::report::human(self.progress_at.elapsed()),
                        self.offset
                    ))
                    .hint("check the network between the build and the server; LOCI_HTTP_READ_TIMEOUT sets how long one read may take");
                    return Err(self.fail(e));
                }
                std::thread::sleep(wait);
                match self.request(Some(self.offset)) {
                    Ok(r) => self.resp = Some(r),
                    Err(e) => return Err(self.fail(e)),
                }
            }
            let resp = self.resp.as_mut().expect("a response is open");
            let want = match self.expected_len {
                // Never read past the announced end.
                Some(len) => buf
                    .len()
                    .min(usize::try_from(len - self.offset).unwrap_or(usize::MAX)),
                None => buf.len(),
            };
            match resp.read(&mut buf[..want]) {
                Ok(0) => {
                    if self.expected_len.is_none() {
                        return Ok(0);
                    }
                    // Closed early: resume.
                    self.resp = None;
                }
                Ok(n) => {
                    self.offset += n as u64;
                    self.resumes = 0;
                    self.progress_at = std::time::Instant::now();
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if self.expected_len.is_none() && self.validator.is_none() {
                        let e = Error::new(format!("{}: the transfer broke off at byte {}", self.what, self.offset)).caused_by(e)
                            .hint("the server gives neither a length nor a validator, so the download cannot resume safely; try again");
                        return Err(self.fail(e));
                    }
                    self.resp = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        assert_eq!(delay(0, None), Duration::from_millis(500));
        assert_eq!(delay(2, None), Duration::from_secs(2));
        assert_eq!(delay(20, None), MAX_DELAY);
        assert_eq!(
            delay(0, Some(&HeaderValue::from_static("3"))),
            Duration::from_secs(3)
        );
        assert_eq!(
            delay(0, Some(&HeaderValue::from_static("86400"))),
            MAX_DELAY
        );
        // An HTTP date is not parsed: backoff applies.
        assert_eq!(
            delay(
                1,
                Some(&HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"))
            ),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Url::parse("https://reg.example:443/v2/x").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("https://reg.example/blob").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://reg.example/blob").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://s3.example/blob").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://reg.example:5000/blob").unwrap()
        ));
    }

    /// A server on 127.0.0.1 that accepts connections and never answers; its URL.
    fn silent_server() -> (std::net::TcpListener, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/wheels.tar.gz", listener.local_addr().unwrap());
        let accepting = listener.try_clone().unwrap();
        std::thread::spawn(move || {
            // Keep every connection open, silent.
            let mut open = Vec::new();
            for conn in accepting.incoming() {
                match conn {
                    Ok(c) => open.push(c),
                    Err(_) => break,
                }
            }
        });
        (listener, url)
    }

    #[test]
    fn a_server_that_never_answers_times_out_within_the_budget() {
        let (_server, url) = silent_server();
        let tls = TlsConfig {
            read_timeout: Duration::from_millis(300),
            ..TlsConfig::default()
        };
        let client = client(&tls, Options::default()).unwrap();
        let started = std::time::Instant::now();
        let what = format!("WHEELS={url}");
        let e = send_within(&what, 5, Duration::from_secs(2), || client.get(&url)).unwrap_err();
        let took = started.elapsed();
        // Attempts of 0.3 s with waits of 0.5, 1 s...: the 2 s budget stops them early.
        assert!(took < Duration::from_secs(5), "{took:?}");
        let s = e.to_string();
        assert!(
            s.contains(&format!("WHEELS={url}: no answer (after ")),
            "{s}"
        );
        assert!(s.contains("LOCI_HTTP_READ_TIMEOUT"), "{s}");
        // One attempt alone ends after the read timeout.
        let started = std::time::Instant::now();
        send_attempts(&what, 1, || client.get(&url)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_missing_cert_file_is_named() {
        let tls = TlsConfig {
            ssl_cert_file: Some("/nonexistent/ca.pem".into()),
            ..TlsConfig::default()
        };
        let e = tls_config(&tls, false).unwrap_err().to_string();
        assert!(e.contains("SSL_CERT_FILE=/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn a_cert_file_without_certificates_is_refused() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "not a certificate\n").unwrap();
        let tls = TlsConfig {
            ssl_cert_file: Some(f.path().into()),
            ..TlsConfig::default()
        };
        let e = tls_config(&tls, false).unwrap_err().to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
    }
}
