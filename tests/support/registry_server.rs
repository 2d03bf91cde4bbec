//! A real docker registry (Debian's `docker-registry`, distribution v2) on 127.0.0.1 for tests,
//! with helpers that push images over the registry API, a self-signed CA made with `openssl`,
//! and a TCP proxy that cuts a blob transfer in the middle.

#![allow(dead_code)]

#[path = "cmd.rs"]
pub mod cmd;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const MISSING: &str = "install the test tools first: run the README test command (it installs the Debian packages docker-registry, apache2-utils and openssl)";

pub fn require(bin: &str) {
    let found = if bin.starts_with('/') {
        Path::new(bin).exists()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).exists()))
    };
    assert!(found, "{bin} is missing: {MISSING}");
}

/// A self-signed CA and a server certificate for 127.0.0.1 / localhost.
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_certs(dir: &Path) -> Certs {
    require("openssl");
    let run = |args: &[&str]| {
        cmd::ok(Command::new("openssl").args(args).current_dir(dir));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=loci test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

#[derive(Default)]
pub struct Options {
    pub tls: bool,
    /// htpasswd users (bcrypt, made with `htpasswd -Bbn`).
    pub users: Vec<(String, String)>,
    /// Token auth: the token server's realm URL, the issuer's certificate bundle, and a
    /// push+pull token for the test's own uploads.
    pub token: Option<(String, PathBuf, String)>,
    /// Accept schema 1 manifests (`compatibility: schema1: enabled`).
    pub schema1: bool,
}

pub struct Registry {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub storage: PathBuf,
    pub certs: Option<Certs>,
    /// Credentials the pushing client uses.
    pub push_auth: Option<(String, String)>,
    pub push_token: Option<String>,
    client: reqwest::blocking::Client,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    pub fn start(opts: Options) -> Registry {
        require(REGISTRY_BIN);
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let certs = opts.tls.then(|| make_certs(dir.path()));
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n",
            storage.display()
        );
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut c = config.clone();
            c.push_str(&format!(
                "http:\n  addr: 127.0.0.1:{port}\n  secret: loci-test-secret\n"
            ));
            if let Some(certs) = &certs {
                c.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    certs.cert.display(),
                    certs.key.display()
                ));
            }
            if !opts.users.is_empty() {
                require("htpasswd");
                let mut lines = String::new();
                for (u, p) in &opts.users {
                    let out = cmd::ok(Command::new("htpasswd").args(["-Bbn", u, p]));
                    lines.push_str(String::from_utf8_lossy(&out.stdout).trim());
                    lines.push('\n');
                }
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, lines).unwrap();
                c.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: loci-test\n    path: {}\n",
                    file.display()
                ));
            }
            if opts.schema1 {
                c.push_str("compatibility:\n  schema1:\n    enabled: true\n");
            }
            if let Some((realm, bundle, _)) = &opts.token {
                c.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                    bundle.display()
                ));
            }
            std::fs::write(dir.path().join("config.yml"), &c).unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(dir.path().join("config.yml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start docker-registry");
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut up = false;
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    up = true;
                    break;
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if up {
                config = c;
                let _ = config;
                let tls = loci::config::TlsConfig {
                    ssl_cert_file: certs.as_ref().map(|c| c.ca.clone()),
                    ..Default::default()
                };
                let client = loci::http::client(&tls, loci::http::Options::default()).unwrap();
                let push_auth = opts.users.first().cloned();
                let push_token = opts.token.as_ref().map(|t| t.2.clone());
                return Registry {
                    child,
                    dir,
                    port,
                    storage,
                    certs,
                    push_auth,
                    push_token,
                    client,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_err = std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        }
        panic!("docker-registry did not start: {last_err}");
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn base(&self) -> String {
        format!(
            "{}://{}",
            if self.certs.is_some() {
                "https"
            } else {
                "http"
            },
            self.host()
        )
    }

    fn req(&self, method: reqwest::Method, url: &str) -> reqwest::blocking::RequestBuilder {
        let r = self.client.request(method, url);
        match (&self.push_auth, &self.push_token) {
            (Some((u, p)), _) => r.basic_auth(u, Some(p)),
            (None, Some(t)) => r.bearer_auth(t),
            (None, None) => r,
        }
    }

    /// Uploads a blob (monolithic POST + PUT) and returns its digest.
    pub fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let resp = self
            .req(
                reqwest::Method::POST,
                &format!("{}/v2/{repo}/blobs/uploads/", self.base()),
            )
            .send()
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            202,
            "start upload: {:?}",
            resp.text()
        );
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        let url = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", self.base())
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let resp = self
            .req(reqwest::Method::PUT, &format!("{url}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            201,
            "finish upload: {:?}",
            resp.text()
        );
        digest
    }

    /// Uploads a manifest under `reference` (a tag or its digest) and returns its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let resp = self
            .req(
                reqwest::Method::PUT,
                &format!("{}/v2/{repo}/manifests/{reference}", self.base()),
            )
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            201,
            "push manifest: {:?}",
            resp.text()
        );
        sha256(body)
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage.join(format!(
            "docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

// ---------------------------------------------------------------------------------------------
// Images

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A tar with raw member names (no checks: tests build hostile archives too).
pub fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// Bytes that do not compress (xorshift).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// The files of a typical wheels layer (plus a dot-file LOCI skips); `tag` makes them unique.
pub fn wheel_files(tag: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "pbr-6.1.0-py2.py3-none-any.whl".to_string(),
            format!("pbr wheel {tag}").into_bytes(),
        ),
        (format!("keystone-{tag}-py3-none-any.whl"), noise(40_000, 7)),
        (
            "upper-constraints.txt".into(),
            format!("pbr===6.1.0\n# {tag}\n").into_bytes(),
        ),
        (".wh.secret".into(), b"dot-files are skipped".to_vec()),
    ]
}

pub fn wheels_tar(tag: &str) -> Vec<u8> {
    let files = wheel_files(tag);
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    tar(&entries)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavor {
    Docker,
    Oci,
}

/// Pushes an image whose layers are `layers` (blob, media type), base first; returns the
/// manifest's digest and size.
pub fn push_image(
    reg: &Registry,
    repo: &str,
    tag: &str,
    layers: &[(Vec<u8>, &str)],
    flavor: Flavor,
) -> (String, usize) {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#;
    let config_digest = reg.push_blob(repo, config);
    let mut layer_json = Vec::new();
    for (blob, media_type) in layers {
        let digest = reg.push_blob(repo, blob);
        layer_json.push(
            serde_json::json!({"mediaType": media_type, "digest": digest, "size": blob.len()}),
        );
    }
    let (mt, config_mt) = match flavor {
        Flavor::Docker => (
            DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
        ),
        Flavor::Oci => (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json"),
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": {"mediaType": config_mt, "digest": config_digest, "size": config.len()},
        "layers": layer_json,
    });
    let body = serde_json::to_vec_pretty(&manifest).unwrap();
    let digest = reg.push_manifest(repo, tag, mt, &body);
    (digest, body.len())
}

/// Pushes an index over `(manifest digest, size, architecture, variant)`.
pub fn push_index(
    reg: &Registry,
    repo: &str,
    tag: &str,
    entries: &[(String, usize, &str, Option<&str>)],
    flavor: Flavor,
) -> String {
    let (mt, child_mt) = match flavor {
        Flavor::Docker => (DOCKER_LIST, DOCKER_MANIFEST),
        Flavor::Oci => (OCI_INDEX, OCI_MANIFEST),
    };
    let manifests: Vec<_> = entries
        .iter()
        .map(|(digest, size, arch, variant)| {
            let mut platform = serde_json::json!({"architecture": arch, "os": "linux"});
            if let Some(v) = variant {
                platform["variant"] = serde_json::json!(v);
            }
            serde_json::json!({"mediaType": child_mt, "digest": digest, "size": size, "platform": platform})
        })
        .collect();
    let body = serde_json::to_vec(
        &serde_json::json!({"schemaVersion": 2, "mediaType": mt, "manifests": manifests}),
    )
    .unwrap();
    reg.push_manifest(repo, tag, mt, &body)
}

/// The running platform's architecture as OCI names it.
pub fn oci_arch() -> &'static str {
    loci::registry::manifest::running_platform().0
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy that cuts the first blob response after `cut_after` bytes.

pub struct CutProxy {
    pub port: u16,
    /// Set when a request carrying a Range header went through.
    pub saw_range: Arc<AtomicBool>,
    /// Connections cut.
    pub cuts: Arc<AtomicUsize>,
}

pub fn cut_proxy(upstream: u16, cut_after: usize) -> CutProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let saw_range = Arc::new(AtomicBool::new(false));
    let cuts = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(AtomicBool::new(true));
    let (sr, c) = (saw_range.clone(), cuts.clone());
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let cut: Arc<Mutex<Option<usize>>> = Arc::new(Mutex::new(None));
            // client -> server: watch the requests.
            {
                let (mut from, mut to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (cut, armed, saw_range) = (cut.clone(), armed.clone(), sr.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                        if head.starts_with("get ") && head.contains("/blobs/sha256:") {
                            if head.contains("\r\nrange: bytes=") {
                                saw_range.store(true, Ordering::SeqCst);
                            } else if armed.swap(false, Ordering::SeqCst) {
                                *cut.lock().unwrap() = Some(cut_after);
                            }
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
            // server -> client: cut when armed for this connection.
            {
                let (mut from, mut to) = (server, client);
                let (cut, cuts) = (cut.clone(), c.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut guard = cut.lock().unwrap();
                        if let Some(left) = guard.as_mut() {
                            let k = n.min(*left);
                            let _ = to.write_all(&buf[..k]);
                            *left -= k;
                            if *left == 0 {
                                cuts.fetch_add(1, Ordering::SeqCst);
                                let _ = to.shutdown(Shutdown::Both);
                                let _ = from.shutdown(Shutdown::Both);
                                return;
                            }
                            continue;
                        }
                        drop(guard);
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        }
    });
    CutProxy {
        port,
        saw_range,
        cuts,
    }
}

// ---------------------------------------------------------------------------------------------
// Blob storage behind a redirect, as registries backed by S3/GCS serve blobs.

/// Reads one request head (up to the blank line); None at EOF.
fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Sends `head` (with `Connection: close`, `extra` headers added, `drop_auth` removing any
/// Authorization) to the registry and relays the answer to `client`.
fn relay(head: &str, client: &mut TcpStream, upstream: u16, extra: &str, drop_auth: bool) {
    let mut lines: Vec<&str> = head.trim_end().split("\r\n").collect();
    lines.retain(|l| {
        let l = l.to_ascii_lowercase();
        let dropped =
            l.starts_with("connection:") || (drop_auth && l.starts_with("authorization:"));
        !dropped
    });
    let mut out = lines.join("\r\n");
    out.push_str("\r\nConnection: close\r\n");
    out.push_str(extra);
    out.push_str("\r\n");
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    if server.write_all(out.as_bytes()).is_err() {
        return;
    }
    let _ = std::io::copy(&mut server, client);
}

pub struct RedirectingFront {
    /// Where the client talks to the registry (127.0.0.1).
    pub port: u16,
    /// Requests the storage host got, and how many carried an Authorization header.
    pub storage_requests: Arc<AtomicUsize>,
    pub storage_saw_authorization: Arc<AtomicUsize>,
}

/// A front for the registry on 127.0.0.1 that answers blob GETs with a 307 to a "storage"
/// host (`localhost`, another origin) that serves them with credentials of its own, like a
/// pre-signed URL. The storage host counts requests that arrive with an Authorization header.
pub fn redirecting_front(upstream: u16, storage_auth: &str) -> RedirectingFront {
    let storage = TcpListener::bind("127.0.0.1:0").unwrap();
    let storage_port = storage.local_addr().unwrap().port();
    let front = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = front.local_addr().unwrap().port();
    let storage_requests = Arc::new(AtomicUsize::new(0));
    let storage_saw_authorization = Arc::new(AtomicUsize::new(0));
    let (req, saw) = (storage_requests.clone(), storage_saw_authorization.clone());
    let extra = format!("Authorization: {storage_auth}\r\n");
    std::thread::spawn(move || {
        for conn in storage.incoming() {
            let Ok(mut conn) = conn else { return };
            let (req, saw, extra) = (req.clone(), saw.clone(), extra.clone());
            std::thread::spawn(move || {
                if let Some(head) = read_head(&mut conn) {
                    req.fetch_add(1, Ordering::SeqCst);
                    if head.to_ascii_lowercase().contains("\r\nauthorization:") {
                        saw.fetch_add(1, Ordering::SeqCst);
                    }
                    relay(&head, &mut conn, upstream, &extra, true);
                }
            });
        }
    });
    std::thread::spawn(move || {
        for conn in front.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                if let Some(head) = read_head(&mut conn) {
                    let path = head.split(' ').nth(1).unwrap_or("").to_string();
                    if head.starts_with("GET ") && path.contains("/blobs/sha256:") {
                        let answer = format!(
                            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://localhost:{storage_port}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        let _ = conn.write_all(answer.as_bytes());
                    } else {
                        relay(&head, &mut conn, upstream, "", false);
                    }
                }
            });
        }
    });
    RedirectingFront {
        port,
        storage_requests,
        storage_saw_authorization,
    }
}

// ---------------------------------------------------------------------------------------------
// A token server for the registry's token auth (docker token auth spec): RS256 JWTs signed with
// `openssl dgst`, the issuer certificate sent in the x5c header.

pub const TOKEN_SERVICE: &str = "loci-test-registry";
pub const TOKEN_ISSUER: &str = "loci-test-issuer";

pub struct TokenIssuer {
    pub key: PathBuf,
    pub cert: PathBuf,
    cert_der_b64: String,
}

pub fn token_issuer(dir: &Path) -> TokenIssuer {
    require("openssl");
    cmd::ok(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "token.key",
                "-out",
                "token.pem",
                "-days",
                "2",
            ])
            .args(["-subj", "/CN=loci test token issuer"])
            .current_dir(dir),
    );
    let der = Command::new("openssl")
        .args(["x509", "-in", "token.pem", "-outform", "DER"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(der.status.success());
    use base64::Engine;
    TokenIssuer {
        key: dir.join("token.key"),
        cert: dir.join("token.pem"),
        cert_der_b64: base64::engine::general_purpose::STANDARD.encode(&der.stdout),
    }
}

impl TokenIssuer {
    /// A token granting `actions` on `repository`.
    pub fn token(&self, repository: &str, actions: &[&str]) -> String {
        use base64::Engine;
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.cert_der_b64]});
        let claims = serde_json::json!({
            "iss": TOKEN_ISSUER, "sub": "loci-test", "aud": TOKEN_SERVICE,
            "exp": now + 600, "nbf": now - 60, "iat": now - 60, "jti": format!("{now}-{repository}"),
            "access": [{"type": "repository", "name": repository, "actions": actions}],
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        format!("{input}.{}", b64(&out.stdout))
    }
}

pub struct TokenServer {
    pub port: u16,
    /// (scope, service, had basic credentials) of every token request.
    pub requests: Arc<Mutex<Vec<(String, String, bool)>>>,
}

impl TokenServer {
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

/// Serves tokens for the scopes asked; with `basic`, only to requests carrying that
/// `Authorization: Basic` value (401 otherwise).
pub fn token_server(issuer: TokenIssuer, basic: Option<String>) -> TokenServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    let issuer = Arc::new(issuer);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let (log, issuer, basic) = (log.clone(), issuer.clone(), basic.clone());
            std::thread::spawn(move || {
                let Some(head) = read_head(&mut conn) else {
                    return;
                };
                let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                let url = reqwest::Url::parse(&format!("http://x{path}")).unwrap();
                let param = |k: &str| {
                    url.query_pairs()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                let (scope, service) = (param("scope"), param("service"));
                let sent = head
                    .split("\r\n")
                    .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                    .map(|l| l["authorization:".len()..].trim().to_string());
                log.lock()
                    .unwrap()
                    .push((scope.clone(), service, sent.is_some()));
                let answer = if basic.is_some() && sent != basic {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{\"details\":\"unauthorized\"}\n".to_string()
                } else {
                    // scope = repository:NAME:ACTIONS
                    let mut parts = scope.splitn(3, ':').skip(1);
                    let (name, actions) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
                    let token = issuer.token(name, &actions);
                    let body = serde_json::json!({"token": token, "expires_in": 600}).to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = conn.write_all(answer.as_bytes());
            });
        }
    });
    TokenServer { port, requests }
}

/// A front for the registry that answers the first requests with canned answers (e.g. a 429
/// with Retry-After) and relays the rest. Counts all requests.
pub struct FlakyFront {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
}

pub fn flaky_front(upstream: u16, canned: Vec<String>) -> FlakyFront {
    flaky_front_for(upstream, "", canned)
}

/// [`flaky_front`] whose canned answers only go to requests whose request line contains
/// `pattern`.
pub fn flaky_front_for(upstream: u16, pattern: &str, canned: Vec<String>) -> FlakyFront {
    let pattern = pattern.to_string();
    let front = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = front.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    let canned = Arc::new(Mutex::new(std::collections::VecDeque::from(canned)));
    std::thread::spawn(move || {
        for conn in front.incoming() {
            let Ok(mut conn) = conn else { return };
            let (count, canned, pattern) = (count.clone(), canned.clone(), pattern.clone());
            std::thread::spawn(move || {
                if let Some(head) = read_head(&mut conn) {
                    count.fetch_add(1, Ordering::SeqCst);
                    let line = head.lines().next().unwrap_or("");
                    let answer = if line.contains(&pattern) {
                        canned.lock().unwrap().pop_front()
                    } else {
                        None
                    };
                    match answer {
                        Some(a) => {
                            let _ = conn.write_all(a.as_bytes());
                        }
                        None => relay(&head, &mut conn, upstream, "", false),
                    }
                }
            });
        }
    });
    FlakyFront { port, requests }
}

/// An HTTP answer with `status`, a Retry-After header (when given) and no body.
pub fn canned(status: &str, retry_after: Option<u64>) -> String {
    let ra = retry_after
        .map(|s| format!("Retry-After: {s}\r\n"))
        .unwrap_or_default();
    format!("HTTP/1.1 {status}\r\n{ra}Content-Length: 0\r\nConnection: close\r\n\r\n")
}

// ---------------------------------------------------------------------------------------------
// Schema 1: a manifest signed the way docker's libtrust does (JWS "pretty signature", ES256,
// the key as a JWK in the header), with openssl doing the ECDSA.

/// Signs `manifest` (compact JSON, ending in `}`) and returns the signed body.
pub fn sign_schema1(manifest: &str, dir: &Path) -> Vec<u8> {
    use base64::Engine;
    require("openssl");
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let run = |args: &[&str], input: Option<&[u8]>| -> Vec<u8> {
        let mut child = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.unwrap_or_default())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        cmd::succeeded(format!("openssl {args:?}"), out).stdout
    };
    run(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "schema1.key",
        ],
        None,
    );
    let spki = run(
        &["ec", "-in", "schema1.key", "-pubout", "-outform", "DER"],
        None,
    );
    let point = &spki[spki.len() - 65..];
    assert_eq!(point[0], 4, "uncompressed P-256 point");
    let (x, y) = (&point[1..33], &point[33..]);
    let format_length = manifest.rfind('}').unwrap();
    let protected = serde_json::json!({
        "formatLength": format_length,
        "formatTail": b64(b"}"),
        "time": "2026-01-01T00:00:00Z",
    });
    let protected = b64(protected.to_string().as_bytes());
    let signing_input = format!("{protected}.{}", b64(manifest.as_bytes()));
    let der = run(
        &["dgst", "-sha256", "-sign", "schema1.key"],
        Some(signing_input.as_bytes()),
    );
    // DER SEQUENCE { INTEGER r, INTEGER s } -> r || s, 32 bytes each.
    let int_at = |i: usize| -> (Vec<u8>, usize) {
        assert_eq!(der[i], 2);
        let len = der[i + 1] as usize;
        let v = &der[i + 2..i + 2 + len];
        let v = if v.len() > 32 { &v[v.len() - 32..] } else { v };
        let mut padded = vec![0u8; 32 - v.len()];
        padded.extend_from_slice(v);
        (padded, i + 2 + len)
    };
    let start = if der[1] & 0x80 != 0 { 3 } else { 2 };
    let (r, next) = int_at(start);
    let (s, _) = int_at(next);
    let signature = serde_json::json!([{
        "header": {"jwk": {"crv": "P-256", "kty": "EC", "x": b64(x), "y": b64(y)}, "alg": "ES256"},
        "signature": b64(&[r, s].concat()),
        "protected": protected,
    }]);
    format!(
        "{},\"signatures\":{}}}",
        &manifest[..format_length],
        signature
    )
    .into_bytes()
}
