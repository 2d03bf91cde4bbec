//! OCI distribution client for WHEELS given as an image reference.
//!
//! [`pull::fetch_wheels`] resolves the reference (tag or digest, through a manifest list / image index
//! to the running platform), takes the image's last layer as LOCI does, and streams that blob
//! through sha256, the decompressor and the tar extractor in one pass into a staging directory
//! that replaces the destination only once the digest and size are verified (see [`blob`]).

pub mod auth;
pub mod blob;
pub mod manifest;
pub mod pull;
pub mod reference;

use std::io::Read;

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::http::{self, TlsConfig};

pub use reference::Reference;

use auth::{Challenge, Credentials};
use manifest::{Descriptor, Manifest};

/// How to reach a registry for an image of wheels (REGISTRY_PROTOCOL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryProtocol {
    Http,
    Https,
    /// LOCI's detection: try http, then https.
    Detect,
}

/// Registry settings (REGISTRY_*).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistryConfig {
    pub protocol: RegistryProtocol,
    /// Accept an untrusted TLS certificate (REGISTRY_INSECURE).
    pub insecure: bool,
    /// A docker config.json or credentials file (REGISTRY_AUTH_FILE, default: the BuildKit secret
    /// `/run/secrets/registry-auth` when present, else `$DOCKER_CONFIG/config.json`).
    pub auth_file: Option<std::path::PathBuf>,
}

/// Largest manifest accepted.
const MAX_MANIFEST: u64 = 4 * 1024 * 1024;

/// A connection to one repository of one registry, authenticated as needed.
pub struct Session {
    pub reference: Reference,
    /// How errors name the image: `WHEELS=REF` for the wheels, the reference for others.
    label: String,
    base: Url,
    client: Client,
    blob_client: Client,
    creds: Option<Credentials>,
    auth_file: Option<std::path::PathBuf>,
    challenge: Option<Challenge>,
    authorization: Option<HeaderValue>,
}

impl Session {
    /// Picks the protocol (REGISTRY_PROTOCOL), checks the API version endpoint and
    /// authenticates when the registry asks for it.
    pub fn connect(
        reference: Reference,
        registry: &RegistryConfig,
        tls: &TlsConfig,
        creds: Option<Credentials>,
    ) -> Result<Session> {
        let label = format!("WHEELS={reference}");
        Session::connect_as(label, reference, registry, tls, creds)
    }

    /// [`Session::connect`], with errors naming the image as `label`.
    pub fn connect_as(
        label: String,
        reference: Reference,
        registry: &RegistryConfig,
        tls: &TlsConfig,
        creds: Option<Credentials>,
    ) -> Result<Session> {
        let opts = http::Options {
            insecure: registry.insecure,
            ..Default::default()
        };
        let client = http::client(tls, opts)?;
        let blob_client = http::client(
            tls,
            http::Options {
                manual_redirects: true,
                ..opts
            },
        )?;
        let what = label.clone();
        let host = reference.registry.clone();
        let scheme = match registry.protocol {
            RegistryProtocol::Http => "http",
            RegistryProtocol::Https => "https",
            RegistryProtocol::Detect if reference.is_docker_hub() => "https",
            RegistryProtocol::Detect => {
                // LOCI's detection: a registry answering plain http wins, else https. An
                // answer asking for credentials counts as an answer.
                let probe = format!("http://{host}/v2/");
                match http::send_attempts(&what, 1, || client.get(&probe)) {
                    Ok(r)
                        if matches!(
                            r.status(),
                            StatusCode::OK | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                        ) =>
                    {
                        "http"
                    }
                    _ => "https",
                }
            }
        };
        let base = Url::parse(&format!("{scheme}://{host}/")).map_err(|e| {
            Error::new(format!("{what}: bad registry address {host:?}")).caused_by(e)
        })?;
        let mut session = Session {
            reference,
            label,
            base,
            client,
            blob_client,
            creds,
            auth_file: registry.auth_file.clone(),
            challenge: None,
            authorization: None,
        };
        session.ping(registry.protocol, registry.insecure)?;
        Ok(session)
    }

    fn what(&self) -> String {
        self.label.clone()
    }

    /// `GET /v2/`: the registry answers, and says how to authenticate.
    fn ping(&mut self, protocol: RegistryProtocol, insecure: bool) -> Result<()> {
        let url = self.url("v2/")?;
        let what = format!("{}: contacting the registry at {url}", self.what());
        let resp = http::send(&what, || self.client.get(url.clone())).map_err(|e| {
            if e.hint.as_deref().is_some_and(|h| h.contains("certificate")) {
                let mut e = e.hint(format!(
                    "the registry's TLS certificate is not trusted: add its CA certificate to SSL_CERT_FILE (a PEM bundle, e.g. --build-arg SSL_CERT_FILE=/path/ca.pem), or set REGISTRY_INSECURE=true to accept it unchecked{}",
                    if insecure { "" } else { " (REGISTRY_INSECURE is false)" }
                ));
                e.what = format!("{}: the TLS certificate of {} is not trusted", self.what(), self.reference.registry);
                e
            } else if e.hint.as_deref().is_some_and(|h| h.contains("does not speak TLS")) {
                e
            } else if protocol == RegistryProtocol::Detect {
                e.hint("the registry answered neither http nor https: check the host and port, or set REGISTRY_PROTOCOL=http or https")
            } else {
                e.hint(format!("check the host and port, and REGISTRY_PROTOCOL (now {})", self.base.scheme()))
            }
        })?;
        match resp.status() {
            StatusCode::UNAUTHORIZED => {
                self.challenge = Some(challenge_of(&resp, &what)?);
                drop(resp);
                self.authenticate()?;
                if self.challenge.as_ref().is_some_and(|c| c.scheme == "basic") {
                    // Check the credentials right away for a clear error.
                    let resp = http::send(&what, || self.authorized(self.client.get(url.clone())))?;
                    if resp.status() == StatusCode::UNAUTHORIZED {
                        return Err(self.rejected());
                    }
                }
                Ok(())
            }
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(http::status_error(&what, resp)
                .hint("this host does not serve the registry API v2 (/v2/): check the registry address in WHEELS")),
            _ => Err(http::status_error(&what, resp)),
        }
    }

    fn rejected(&self) -> Error {
        let who = match &self.creds {
            Some(Credentials::Basic { username, .. }) => format!("user {username}"),
            _ => "the token".into(),
        };
        Error::new(format!(
            "{}: registry {} rejected the credentials ({who})",
            self.what(),
            self.reference.registry
        ))
        .hint(format!(
            "check the entry for {} in {}",
            self.reference.registry,
            self.auth_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the auth file".into())
        ))
    }

    fn needs_credentials(&self) -> Error {
        let hint = match &self.auth_file {
            Some(f) => format!(
                "{} has no entry for {}; add one (\"auths\": {{\"{}\": {{\"auth\": \"<base64 of user:password>\"}}}})",
                f.display(),
                self.reference.registry,
                self.reference.registry
            ),
            None => "pass a docker config.json as a BuildKit secret: `docker build --secret id=registry-auth,src=$HOME/.docker/config.json` (or set REGISTRY_AUTH_FILE); never pass credentials as build arguments".into(),
        };
        Error::new(format!(
            "{}: registry {} requires authentication",
            self.what(),
            self.reference.registry
        ))
        .hint(hint)
    }

    /// Gets an Authorization value for the current challenge.
    fn authenticate(&mut self) -> Result<()> {
        let challenge = self
            .challenge
            .clone()
            .ok_or_else(|| self.needs_credentials())?;
        match challenge.scheme.as_str() {
            "bearer" => {
                let scope = format!("repository:{}:pull", self.reference.repository);
                let token = auth::fetch_token(
                    &self.client,
                    &challenge,
                    &scope,
                    self.creds.as_ref(),
                    &self.reference.registry,
                )
                .map_err(|e| {
                    let mut e = e;
                    e.what = format!("{}: {}", self.what(), e.what);
                    e
                })?;
                self.authorization = Some(token);
                Ok(())
            }
            "basic" => {
                let header = self
                    .creds
                    .as_ref()
                    .and_then(Credentials::basic_header)
                    .ok_or_else(|| self.needs_credentials())?;
                self.authorization = Some(header);
                Ok(())
            }
            other => Err(Error::new(format!(
                "{}: registry {} asks for an unsupported authentication scheme {other:?}",
                self.what(),
                self.reference.registry
            ))
            .hint("loci supports the Bearer token flow and Basic authentication")),
        }
    }

    /// Re-authenticates after a 401 (an expired token); returns the new Authorization.
    pub fn reauthenticate(&mut self) -> Result<Option<HeaderValue>> {
        if self.challenge.is_none() {
            return Err(self.needs_credentials());
        }
        self.authenticate()?;
        Ok(self.authorization.clone())
    }

    fn authorized(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.authorization {
            Some(a) => req.header(AUTHORIZATION, a.clone()),
            None => req,
        }
    }

    /// A URL below the registry's base.
    pub fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path).map_err(|e| {
            Error::new(format!("{}: bad registry path {path:?}", self.what())).caused_by(e)
        })
    }

    /// GET with authentication: a 401 is answered once by (re-)authenticating.
    fn get(&mut self, url: &Url, accept: Option<&str>, what: &str) -> Result<Response> {
        let send = |s: &Session| {
            http::send(what, || {
                let mut req = s.authorized(s.client.get(url.clone()));
                if let Some(a) = accept {
                    req = req.header(ACCEPT, a);
                }
                req
            })
        };
        let resp = send(self)?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let had_auth = self.authorization.is_some();
        self.challenge = Some(challenge_of(&resp, what)?);
        drop(resp);
        self.authenticate()?;
        let resp = send(self)?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(if had_auth || self.creds.is_some() {
                self.rejected()
            } else {
                self.needs_credentials()
            });
        }
        Ok(resp)
    }

    /// Fetches a manifest by tag or digest; verifies it when `digest` is given.
    pub fn manifest(&mut self, reference: &str, digest: Option<&str>) -> Result<Manifest> {
        let raw = self.manifest_raw(reference, digest)?;
        manifest::parse(&raw.body, raw.content_type.as_deref()).map_err(|e| {
            Error::new(format!("{}: manifest {reference}: cannot use the manifest", self.what()))
                .cause(e)
                .hint("WHEELS must name an image (Docker schema 2 / OCI, or a manifest list / index of them)")
        })
    }

    /// A manifest as the registry serves it, with its digest (sha256 of the body); verified
    /// when `digest` is given.
    pub fn manifest_raw(&mut self, reference: &str, digest: Option<&str>) -> Result<RawManifest> {
        self.find_manifest(reference, digest)?.ok_or_else(|| {
            Error::new(format!("{}: manifest {reference}: not found (404)", self.what())).hint(format!(
                "the registry has no {reference} in repository {}: check the tag (or digest) and the repository name",
                self.reference.repository
            ))
        })
    }

    /// [`Session::manifest_raw`], or None when the registry has no such manifest (404).
    pub fn find_manifest(
        &mut self,
        reference: &str,
        digest: Option<&str>,
    ) -> Result<Option<RawManifest>> {
        let url = self.url(&format!(
            "v2/{}/manifests/{reference}",
            self.reference.repository
        ))?;
        let what = format!("{}: manifest {reference}", self.what());
        let resp = self.get(&url, Some(manifest::ACCEPT), &what)?;
        match resp.status() {
            s if s.is_success() => {}
            StatusCode::NOT_FOUND => return Ok(None),
            StatusCode::FORBIDDEN => {
                return Err(http::status_error(&what, resp)
                    .hint("the credentials are not allowed to pull this repository; check the entry in REGISTRY_AUTH_FILE"))
            }
            _ => return Err(http::status_error(&what, resp)),
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_limited(resp, MAX_MANIFEST, &what)?;
        let got = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
        if let Some(want) = digest {
            if got != want {
                return Err(Error::new(format!("{what}: the manifest does not match its digest"))
                    .cause(format!("expected {want}, got {got}"))
                    .hint("the registry (or a proxy in between) served other content than the digest pins; try again or check the registry"));
            }
        }
        Ok(Some(RawManifest {
            body,
            content_type,
            digest: got,
        }))
    }

    /// The OCI referrers API's answer for `digest` (an image index of the manifests whose
    /// subject it is), or None when the registry has no referrers API (404).
    pub fn referrers(&mut self, digest: &str) -> Result<Option<Vec<u8>>> {
        let url = self.url(&format!(
            "v2/{}/referrers/{digest}",
            self.reference.repository
        ))?;
        let what = format!("{}: referrers of {digest}", self.what());
        let resp = self.get(&url, Some(manifest::OCI_INDEX), &what)?;
        match resp.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if s.is_success() => {}
            _ => return Err(http::status_error(&what, resp)),
        }
        let is_index = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with(manifest::OCI_INDEX));
        let body = read_limited(resp, MAX_MANIFEST, &what)?;
        Ok(is_index.then_some(body))
    }

    /// Resolves the reference to the descriptor of the layer holding the wheels.
    pub fn wheels_layer(&mut self) -> Result<Descriptor> {
        let reference = self.reference.manifest_ref().to_string();
        let pinned = self.reference.digest.clone();
        let mut m = self.manifest(&reference, pinned.as_deref())?;
        if let Manifest::Index(manifests) = &m {
            let (arch, variant) = manifest::running_platform();
            let chosen = manifest::select(manifests, arch, variant)
                .map_err(|e| {
                    Error::new(format!("{}: no image for this platform", self.what()))
                        .cause(e)
                        .hint("build the wheels image for this architecture too, or point WHEELS at a single-platform tag")
                })?
                .clone();
            m = self.manifest(&chosen.digest, Some(&chosen.digest))?;
        }
        match m {
            Manifest::Image(layers) => layers.last().cloned().ok_or_else(|| {
                Error::new(format!("{}: the image has no layers", self.what()))
                    .hint("WHEELS must name an image whose last layer holds the wheels (LOCI's requirements image)")
            }),
            Manifest::Schema1(layer) => Ok(layer),
            Manifest::Index(_) => Err(Error::new(format!("{}: the index points at another index", self.what()))
                .hint("point WHEELS at an image or a one-level manifest list")),
        }
    }

    /// How errors name the image.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn blob_client(&self) -> Client {
        self.blob_client.clone()
    }

    pub(crate) fn authorization(&self) -> Option<HeaderValue> {
        self.authorization.clone()
    }
}

/// A manifest's bytes as served.
#[derive(Debug, Clone)]
pub struct RawManifest {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// `sha256:<hex>` of the body.
    pub digest: String,
}

/// The body of `resp`, refused when longer than `max` bytes.
fn read_limited(resp: Response, max: u64, what: &str) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    resp.take(max + 1)
        .read_to_end(&mut body)
        .map_err(|e| Error::new(format!("{what}: cannot read the answer")).caused_by(e))?;
    if body.len() as u64 > max {
        return Err(Error::new(format!(
            "{what}: the answer is larger than {max} bytes"
        )));
    }
    Ok(body)
}

fn challenge_of(resp: &Response, what: &str) -> Result<Challenge> {
    resp.headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::parse_challenge)
        .ok_or_else(|| {
            Error::new(format!("{what}: the registry answered 401 without a usable WWW-Authenticate challenge"))
                .hint("the registry is not speaking the docker registry API (check the host and port in WHEELS)")
        })
}
