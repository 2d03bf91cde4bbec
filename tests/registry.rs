//! `WHEELS=<image reference>` against a real registry (Debian's docker-registry on 127.0.0.1).
//!
//! Needs the Debian packages docker-registry, apache2-utils (htpasswd) and openssl; the README's
//! test command installs them. Missing tools fail the tests with that message.

#[path = "support/registry_server.rs"]
mod registry_server;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use loci::config::{RegistryConfig, RegistryProtocol, TlsConfig};
use registry_server::cmd;
use registry_server::*;

fn config(protocol: RegistryProtocol) -> RegistryConfig {
    RegistryConfig {
        protocol,
        insecure: false,
        auth_file: None,
    }
}

fn http() -> RegistryConfig {
    config(RegistryProtocol::Http)
}

/// A scratch dir and the (not yet existing) wheels dir inside it.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("wheels");
    (root, dest)
}

fn fetch(
    reference: &str,
    dest: &Path,
    reg: &RegistryConfig,
    tls: &TlsConfig,
) -> Result<(), String> {
    loci::registry::pull::fetch_wheels(reference, dest, reg, tls).map_err(|e| e.to_string())
}

/// The wheels of `tag` are in `dest`, the dot-file is not, and nothing else was left around.
fn assert_wheels(root: &Path, dest: &Path, tag: &str) {
    for entry in std::fs::read_dir(dest).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains("loci-partial"),
            "staging dir {name} left in dest"
        );
    }
    for (name, data) in wheel_files(tag) {
        let path = dest.join(&name);
        if name.starts_with('.') {
            assert!(!path.exists(), "dot-file {name} must be skipped");
        } else {
            assert_eq!(
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
                data,
                "{name}"
            );
        }
    }
    assert!(
        !dest.join("base-layer.txt").exists(),
        "only the last layer is extracted"
    );
    let left: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("wheels")],
        "no staging directory is left behind"
    );
}

/// What one fetch must give.
enum Want<'a> {
    /// The wheels of this tag, alone, and nothing else left around them.
    Wheels(&'a str),
    /// An error (returned for the caller's checks), and nothing left behind.
    Error,
}

/// One row of a test: `reference` fetched with `reg` and `tls` into a fresh scratch dir, and
/// checked against `want`; the error's text (empty on success).
fn case(reference: &str, reg: &RegistryConfig, tls: &TlsConfig, want: Want) -> String {
    let (root, dest) = scratch();
    let got = fetch(reference, &dest, reg, tls);
    match (want, got) {
        (Want::Wheels(tag), Ok(())) => {
            assert_wheels(root.path(), &dest, tag);
            String::new()
        }
        (Want::Error, Err(e)) => {
            assert_nothing_left(root.path());
            e
        }
        (Want::Wheels(tag), Err(e)) => panic!("{reference}: wanted the wheels of {tag}, got: {e}"),
        (Want::Error, Ok(())) => panic!("{reference}: wanted an error, got the wheels"),
    }
}

fn assert_nothing_left(root: &Path) {
    let left: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "nothing may be left behind: {left:?}");
}

fn base_layer() -> Vec<u8> {
    gzip(&tar(&[("base-layer.txt", b"from the base image")]))
}

#[test]
fn docker_schema2_gzip_over_http_and_detect() {
    let reg = Registry::start(Options::default());
    push_image(
        &reg,
        "loci/wheels",
        "2024.1",
        &[
            (base_layer(), DOCKER_LAYER_GZIP),
            (gzip(&wheels_tar("d")), DOCKER_LAYER_GZIP),
        ],
        Flavor::Docker,
    );
    let reference = format!("{}/loci/wheels:2024.1", reg.host());
    case(
        &reference,
        &http(),
        &TlsConfig::default(),
        Want::Wheels("d"),
    );
    // REGISTRY_PROTOCOL=detect finds plain http; an existing empty dest is replaced.
    let (root, dest) = scratch();
    std::fs::create_dir(&dest).unwrap();
    fetch(
        &reference,
        &dest,
        &config(RegistryProtocol::Detect),
        &TlsConfig::default(),
    )
    .unwrap();
    assert_wheels(root.path(), &dest, "d");
    // https against a plain-http registry fails, naming the registry.
    let e = case(
        &reference,
        &config(RegistryProtocol::Https),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(
        e.contains(&reg.host()) && e.contains("REGISTRY_PROTOCOL"),
        "{e}"
    );
}

#[test]
fn oci_zstd_plain_tar_and_pull_by_digest() {
    let reg = Registry::start(Options::default());
    let (digest, _) = push_image(
        &reg,
        "loci/oci",
        "zstd",
        &[
            (base_layer(), OCI_LAYER_GZIP),
            (zstd(&wheels_tar("z")), OCI_LAYER_ZSTD),
        ],
        Flavor::Oci,
    );
    push_image(
        &reg,
        "loci/oci",
        "plain",
        &[(wheels_tar("p"), OCI_LAYER)],
        Flavor::Oci,
    );
    case(
        &format!("{}/loci/oci:zstd", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Wheels("z"),
    );
    case(
        &format!("{}/loci/oci@{digest}", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Wheels("z"),
    );
    case(
        &format!("{}/loci/oci:plain", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Wheels("p"),
    );
    // A digest that pins another manifest than the registry serves under it is refused.
    let other = format!("sha256:{}", "0".repeat(64));
    let e = case(
        &format!("{}/loci/oci@{other}", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(e.contains(&other), "{e}");
}

#[test]
fn multi_arch_index_picks_the_running_architecture() {
    let reg = Registry::start(Options::default());
    let ours = oci_arch();
    let others: Vec<&str> = ["arm64", "ppc64le", "s390x", "amd64"]
        .into_iter()
        .filter(|a| *a != ours)
        .take(2)
        .collect();
    for flavor in [Flavor::Oci, Flavor::Docker] {
        let layer_mt = if flavor == Flavor::Oci {
            OCI_LAYER_GZIP
        } else {
            DOCKER_LAYER_GZIP
        };
        let repo = format!("loci/multi-{flavor:?}").to_lowercase();
        let mut entries = Vec::new();
        for arch in &others {
            let (d, s) = push_image(
                &reg,
                &repo,
                &format!("only-{arch}"),
                &[(gzip(&wheels_tar(arch)), layer_mt)],
                flavor,
            );
            entries.push((
                d,
                s,
                *arch,
                if *arch == "arm64" { Some("v8") } else { None },
            ));
        }
        let (d, s) = push_image(
            &reg,
            &repo,
            "mine",
            &[(gzip(&wheels_tar("mine")), layer_mt)],
            flavor,
        );
        let mut all = entries.clone();
        all.insert(1, (d, s, ours, None));
        push_index(&reg, &repo, "multi", &all, flavor);
        push_index(&reg, &repo, "foreign", &entries, flavor);

        case(
            &format!("{}/{repo}:multi", reg.host()),
            &http(),
            &TlsConfig::default(),
            Want::Wheels("mine"),
        );

        let e = case(
            &format!("{}/{repo}:foreign", reg.host()),
            &http(),
            &TlsConfig::default(),
            Want::Error,
        );
        assert!(e.contains(&format!("no image for linux/{ours}")), "{e}");
        for arch in &others {
            assert!(
                e.contains(&format!("linux/{arch}")),
                "the offer is listed: {e}"
            );
        }
    }
}

#[test]
fn a_missing_tag_or_repository_is_a_clear_error() {
    let reg = Registry::start(Options::default());
    push_image(
        &reg,
        "loci/wheels",
        "exists",
        &[(gzip(&wheels_tar("x")), DOCKER_LAYER_GZIP)],
        Flavor::Docker,
    );
    let e = case(
        &format!("{}/loci/wheels:nope", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(
        e.contains("manifest nope") && e.contains("404") && e.contains("check the tag"),
        "{e}"
    );
    let e = case(
        &format!("{}/loci/other:exists", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(e.contains("loci/other") && e.contains("404"), "{e}");
    let e = case(
        "Not A Reference",
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(e.contains("accepted forms"), "{e}");
}

#[test]
fn a_blob_corrupted_on_the_registry_is_caught_and_nothing_is_left() {
    let reg = Registry::start(Options::default());
    let wheels = gzip(&wheels_tar("c"));
    push_image(
        &reg,
        "loci/wheels",
        "bad",
        &[(wheels.clone(), DOCKER_LAYER_GZIP)],
        Flavor::Docker,
    );
    let path = reg.blob_path(&sha256(&wheels));
    let mut data = std::fs::read(&path).unwrap();
    // Flip bytes in the middle (the gzip stream may or may not notice; the digest must).
    let mid = data.len() / 2;
    for b in &mut data[mid..mid + 4] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &data).unwrap();
    let e = case(
        &format!("{}/loci/wheels:bad", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(
        e.contains("does not match its digest") && e.contains(&sha256(&wheels)),
        "{e}"
    );

    // Same in the trailer only: every member extracts fine, the digest still refuses it.
    let n = data.len();
    let mut data = wheels.clone();
    data[n - 1] ^= 0x01;
    std::fs::write(&path, &data).unwrap();
    let e = case(
        &format!("{}/loci/wheels:bad", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(e.contains("does not match its digest"), "{e}");

    // An existing destination is left exactly as it was.
    let (_root, dest) = scratch();
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("old.whl"), "old").unwrap();
    let e = fetch(
        &format!("{}/loci/wheels:bad", reg.host()),
        &dest,
        &http(),
        &TlsConfig::default(),
    )
    .unwrap_err();
    assert!(e.contains("does not match its digest"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("old.whl")],
        "dest is untouched"
    );
}

#[test]
fn a_connection_cut_mid_blob_is_resumed_with_range_and_verified() {
    let reg = Registry::start(Options::default());
    let big = noise(3_000_000, 42);
    let mut files = wheel_files("r");
    files.push(("big-1.0-py3-none-any.whl".into(), big.clone()));
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let layer = gzip(&tar(&entries));
    assert!(layer.len() > 2_000_000);
    push_image(
        &reg,
        "loci/wheels",
        "cut",
        &[(layer, DOCKER_LAYER_GZIP)],
        Flavor::Docker,
    );
    let proxy = cut_proxy(reg.port, 700_000);
    let (root, dest) = scratch();
    fetch(
        &format!("127.0.0.1:{}/loci/wheels:cut", proxy.port),
        &dest,
        &http(),
        &TlsConfig::default(),
    )
    .unwrap();
    assert_eq!(
        proxy.cuts.load(Ordering::SeqCst),
        1,
        "the proxy cut the blob once"
    );
    assert!(
        proxy.saw_range.load(Ordering::SeqCst),
        "the blob was resumed with a Range request"
    );
    assert_eq!(
        std::fs::read(dest.join("big-1.0-py3-none-any.whl")).unwrap(),
        big
    );
    std::fs::remove_file(dest.join("big-1.0-py3-none-any.whl")).unwrap();
    assert_wheels(root.path(), &dest, "r");
}

#[test]
fn a_layer_escaping_the_destination_is_refused_and_cleaned() {
    let reg = Registry::start(Options::default());
    let evil = gzip(&tar(&[
        ("ok-1.0-py3-none-any.whl", b"fine"),
        ("../escaped.txt", b"no"),
    ]));
    push_image(
        &reg,
        "loci/evil",
        "dotdot",
        &[(evil, OCI_LAYER_GZIP)],
        Flavor::Oci,
    );
    let abs = gzip(&tar(&[
        ("ok-1.0-py3-none-any.whl", b"fine"),
        ("/tmp/loci-test-absolute.txt", b"no"),
    ]));
    push_image(
        &reg,
        "loci/evil",
        "absolute",
        &[(abs, OCI_LAYER_GZIP)],
        Flavor::Oci,
    );
    let e = case(
        &format!("{}/loci/evil:dotdot", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(
        e.contains("member ../escaped.txt is refused") && e.contains("loci/evil"),
        "{e}"
    );
    let e = case(
        &format!("{}/loci/evil:absolute", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(
        e.contains("member /tmp/loci-test-absolute.txt is refused: it has an absolute path"),
        "{e}"
    );
    assert!(!Path::new("/tmp/loci-test-absolute.txt").exists());
}

#[test]
fn tls_trusted_through_ssl_cert_file_untrusted_and_insecure() {
    let reg = Registry::start(Options {
        tls: true,
        ..Default::default()
    });
    push_image(
        &reg,
        "loci/wheels",
        "tls",
        &[(gzip(&wheels_tar("t")), DOCKER_LAYER_GZIP)],
        Flavor::Docker,
    );
    let reference = format!("{}/loci/wheels:tls", reg.host());
    let trusted = TlsConfig {
        ssl_cert_file: Some(reg.certs.as_ref().unwrap().ca.clone()),
        ..Default::default()
    };
    // Trusted via SSL_CERT_FILE; detect falls through to https.
    for protocol in [RegistryProtocol::Https, RegistryProtocol::Detect] {
        case(&reference, &config(protocol), &trusted, Want::Wheels("t"));
    }
    // Trusted via SSL_CERT_DIR.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        &reg.certs.as_ref().unwrap().ca,
        dir.path().join("test-ca.pem"),
    )
    .unwrap();
    case(
        &reference,
        &config(RegistryProtocol::Https),
        &TlsConfig {
            ssl_cert_dir: Some(dir.path().into()),
            ..Default::default()
        },
        Want::Wheels("t"),
    );
    // Untrusted: a clear error naming both ways out.
    let e = case(
        &reference,
        &config(RegistryProtocol::Https),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(
        e.contains("not trusted") && e.contains("REGISTRY_INSECURE") && e.contains("SSL_CERT_FILE"),
        "{e}"
    );
    let e = case(
        &reference,
        &config(RegistryProtocol::Detect),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(e.contains("REGISTRY_INSECURE"), "{e}");
    // Untrusted but REGISTRY_INSECURE: works.
    let insecure = RegistryConfig {
        protocol: RegistryProtocol::Https,
        insecure: true,
        auth_file: None,
    };
    case(
        &reference,
        &insecure,
        &TlsConfig::default(),
        Want::Wheels("t"),
    );
}

fn auth_file(dir: &Path, host: &str, json_entry: serde_json::Value) -> PathBuf {
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&serde_json::json!({"auths": {host: json_entry}})).unwrap(),
    )
    .unwrap();
    path
}

#[test]
fn basic_auth_right_wrong_and_missing_credentials() {
    use base64::Engine;
    let reg = Registry::start(Options {
        users: vec![("loci".into(), "s3cret pass".into())],
        ..Default::default()
    });
    push_image(
        &reg,
        "loci/private",
        "v1",
        &[(gzip(&wheels_tar("a")), DOCKER_LAYER_GZIP)],
        Flavor::Docker,
    );
    let reference = format!("{}/loci/private:v1", reg.host());
    let files = tempfile::tempdir().unwrap();
    let with = |file: Option<PathBuf>| RegistryConfig {
        protocol: RegistryProtocol::Detect,
        insecure: false,
        auth_file: file,
    };

    // Right: `auth` (base64 user:pass), and username/password fields under an http:// key.
    let good = base64::engine::general_purpose::STANDARD.encode("loci:s3cret pass");
    let f = auth_file(files.path(), &reg.host(), serde_json::json!({"auth": good}));
    case(
        &reference,
        &with(Some(f)),
        &TlsConfig::default(),
        Want::Wheels("a"),
    );
    let f = auth_file(
        files.path(),
        &format!("http://{}/v2/", reg.host()),
        serde_json::json!({"username": "loci", "password": "s3cret pass"}),
    );
    case(
        &reference,
        &with(Some(f)),
        &TlsConfig::default(),
        Want::Wheels("a"),
    );

    // Wrong.
    let f = auth_file(
        files.path(),
        &reg.host(),
        serde_json::json!({"username": "loci", "password": "wrong"}),
    );
    let (root, dest) = scratch();
    let e = fetch(
        &reference,
        &dest,
        &with(Some(f.clone())),
        &TlsConfig::default(),
    )
    .unwrap_err();
    assert!(
        e.contains("rejected the credentials (user loci)") && e.contains(&f.display().to_string()),
        "{e}"
    );
    assert!(!e.contains("wrong"), "the password is never shown: {e}");
    assert_nothing_left(root.path());

    // Missing: no file, or a file without this registry.
    let e = case(&reference, &with(None), &TlsConfig::default(), Want::Error);
    assert!(
        e.contains("requires authentication") && e.contains("--secret id=registry-auth"),
        "{e}"
    );
    let f = auth_file(
        files.path(),
        "other.example:5000",
        serde_json::json!({"auth": good}),
    );
    let e = case(
        &reference,
        &with(Some(f)),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(
        e.contains("requires authentication") && e.contains("has no entry for"),
        "{e}"
    );
    assert_nothing_left(root.path());
}

#[test]
fn loci_fetch_wheels_end_to_end() {
    let reg = Registry::start(Options::default());
    push_image(
        &reg,
        "loci/wheels",
        "cli",
        &[
            (base_layer(), OCI_LAYER_GZIP),
            (gzip(&wheels_tar("cli")), OCI_LAYER_GZIP),
        ],
        Flavor::Oci,
    );
    let (root, dest) = scratch();
    cmd::ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_loci"))
            .arg("fetch-wheels")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("WHEELS", format!("{}/loci/wheels:cli", reg.host()))
            .env("WHEELS_DEST", &dest)
            .env("REGISTRY_PROTOCOL", "http"),
    );
    assert_wheels(root.path(), &dest, "cli");
    // A missing tag fails with the step named and a non-zero exit.
    let (root, dest) = scratch();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loci"))
        .arg("fetch-wheels")
        .env_clear()
        .env("WHEELS", format!("{}/loci/wheels:missing", reg.host()))
        .env("WHEELS_DEST", &dest)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("step `wheels` failed") && stderr.contains("manifest missing"),
        "{stderr}"
    );
    assert_nothing_left(root.path());
}

#[test]
fn blobs_redirected_to_storage_get_no_registry_credentials() {
    use base64::Engine;
    let reg = Registry::start(Options {
        users: vec![("loci".into(), "pw".into())],
        ..Default::default()
    });
    push_image(
        &reg,
        "loci/wheels",
        "redir",
        &[(gzip(&wheels_tar("s")), DOCKER_LAYER_GZIP)],
        Flavor::Docker,
    );
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("loci:pw")
    );
    let front = redirecting_front(reg.port, &basic);
    let files = tempfile::tempdir().unwrap();
    let host = format!("127.0.0.1:{}", front.port);
    let f = auth_file(
        files.path(),
        &host,
        serde_json::json!({"username": "loci", "password": "pw"}),
    );
    let reg_config = RegistryConfig {
        protocol: RegistryProtocol::Http,
        insecure: false,
        auth_file: Some(f),
    };
    case(
        &format!("{host}/loci/wheels:redir"),
        &reg_config,
        &TlsConfig::default(),
        Want::Wheels("s"),
    );
    assert_eq!(
        front.storage_requests.load(Ordering::SeqCst),
        1,
        "the blob came from the storage host"
    );
    assert_eq!(
        front.storage_saw_authorization.load(Ordering::SeqCst),
        0,
        "the registry's credentials stay with the registry"
    );
}

/// A registry with token auth and its token server; `basic` makes the token server require
/// those credentials.
fn token_registry(basic: Option<(&str, &str)>) -> (Registry, TokenServer, tempfile::TempDir) {
    use base64::Engine;
    let keys = tempfile::tempdir().unwrap();
    let issuer = token_issuer(keys.path());
    let bundle = keys.path().join("bundle.pem");
    std::fs::copy(&issuer.cert, &bundle).unwrap();
    let push_token = issuer.token("loci/wheels", &["pull", "push"]);
    let header = basic.map(|(u, p)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    });
    let server = token_server(issuer, header);
    let reg = Registry::start(Options {
        token: Some((server.realm(), bundle, push_token)),
        ..Default::default()
    });
    push_image(
        &reg,
        "loci/wheels",
        "tok",
        &[(gzip(&wheels_tar("b")), DOCKER_LAYER_GZIP)],
        Flavor::Docker,
    );
    (reg, server, keys)
}

#[test]
fn bearer_token_flow_anonymous_and_with_credentials() {
    // Anonymous: the realm/service of the challenge and the repository's pull scope are used.
    let (reg, tokens, _keys) = token_registry(None);
    case(
        &format!("{}/loci/wheels:tok", reg.host()),
        &config(RegistryProtocol::Detect),
        &TlsConfig::default(),
        Want::Wheels("b"),
    );
    let asked = tokens.requests.lock().unwrap().clone();
    assert!(
        asked.contains(&(
            "repository:loci/wheels:pull".to_string(),
            TOKEN_SERVICE.to_string(),
            false
        )),
        "token requests: {asked:?}"
    );

    // A token server that wants credentials: they come from the auth file; wrong ones are named.
    let (reg, _tokens, _keys) = token_registry(Some(("robot", "t0ken")));
    let files = tempfile::tempdir().unwrap();
    let with = |u: &str, p: &str| RegistryConfig {
        protocol: RegistryProtocol::Http,
        insecure: false,
        auth_file: Some(auth_file(
            files.path(),
            &reg.host(),
            serde_json::json!({"username": u, "password": p}),
        )),
    };
    case(
        &format!("{}/loci/wheels:tok", reg.host()),
        &with("robot", "t0ken"),
        &TlsConfig::default(),
        Want::Wheels("b"),
    );
    let e = case(
        &format!("{}/loci/wheels:tok", reg.host()),
        &with("robot", "nope"),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(
        e.contains("getting a token")
            && e.contains("401")
            && e.contains("credentials in REGISTRY_AUTH_FILE were rejected"),
        "{e}"
    );
    let e = case(
        &format!("{}/loci/wheels:tok", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(
        e.contains("needs credentials") && e.contains("registry-auth"),
        "{e}"
    );
}

#[test]
fn busy_and_failing_registries_are_retried_with_backoff() {
    let reg = Registry::start(Options::default());
    push_image(
        &reg,
        "loci/wheels",
        "busy",
        &[(gzip(&wheels_tar("q")), DOCKER_LAYER_GZIP)],
        Flavor::Docker,
    );
    // Two 429s asking for 2 s each, then a 503 without Retry-After: all retried.
    let front = flaky_front(
        reg.port,
        vec![
            canned("429 Too Many Requests", Some(2)),
            canned("429 Too Many Requests", Some(2)),
            canned("503 Service Unavailable", None),
        ],
    );
    let started = std::time::Instant::now();
    let (root, dest) = scratch();
    fetch(
        &format!("127.0.0.1:{}/loci/wheels:busy", front.port),
        &dest,
        &http(),
        &TlsConfig::default(),
    )
    .unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(4),
        "Retry-After is honoured: {:?}",
        started.elapsed()
    );
    assert_wheels(root.path(), &dest, "q");
    // A registry failing for good: the error names the status after the retries.
    let always: Vec<String> = (0..20)
        .map(|_| canned("502 Bad Gateway", Some(0)))
        .collect();
    let front = flaky_front(reg.port, always);
    let e = case(
        &format!("127.0.0.1:{}/loci/wheels:busy", front.port),
        &http(),
        &TlsConfig::default(),
        Want::Error,
    );
    assert!(e.contains("502"), "{e}");
    assert_eq!(
        front.requests.load(Ordering::SeqCst),
        loci::http::ATTEMPTS as usize,
        "every attempt was made"
    );
}

#[test]
fn wheels_url_is_streamed_resumed_and_trusted_through_ssl_cert_file() {
    // A registry's blob URL is an ordinary http(s) URL of a tarball: WHEELS=<url>.
    let reg = Registry::start(Options::default());
    let big = noise(2_500_000, 9);
    let mut files = wheel_files("u");
    files.push(("big-1.0-py3-none-any.whl".into(), big.clone()));
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let layer = gzip(&tar(&entries));
    let digest = reg.push_blob("loci/url", &layer);
    let proxy = cut_proxy(reg.port, 600_000);
    let (root, dest) = scratch();
    let url = format!("http://127.0.0.1:{}/v2/loci/url/blobs/{digest}", proxy.port);
    loci::extract::from_url(&url, &dest, &TlsConfig::default()).unwrap();
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 1);
    assert!(
        proxy.saw_range.load(Ordering::SeqCst),
        "resumed with a Range request"
    );
    assert_eq!(
        std::fs::read(dest.join("big-1.0-py3-none-any.whl")).unwrap(),
        big
    );
    std::fs::remove_file(dest.join("big-1.0-py3-none-any.whl")).unwrap();
    assert_wheels(root.path(), &dest, "u");
    // A URL that is not there.
    let (root, dest) = scratch();
    let missing = format!("{}/v2/loci/url/blobs/sha256:{}", reg.base(), "1".repeat(64));
    let e = loci::extract::from_url(&missing, &dest, &TlsConfig::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains(&missing) && e.contains("404"), "{e}");
    assert_nothing_left(root.path());

    // https: trusted through SSL_CERT_FILE, refused without it.
    let reg = Registry::start(Options {
        tls: true,
        ..Default::default()
    });
    let digest = reg.push_blob("loci/url", &gzip(&wheels_tar("v")));
    let url = format!("{}/v2/loci/url/blobs/{digest}", reg.base());
    let (root, dest) = scratch();
    let e = loci::extract::from_url(&url, &dest, &TlsConfig::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("SSL_CERT_FILE") && e.contains(&url), "{e}");
    assert_nothing_left(root.path());
    let trusted = TlsConfig {
        ssl_cert_file: Some(reg.certs.as_ref().unwrap().ca.clone()),
        ..Default::default()
    };
    loci::extract::from_url(&url, &dest, &trusted).unwrap();
    assert_wheels(root.path(), &dest, "v");
}

#[test]
fn an_expired_token_during_the_blob_is_renewed() {
    let (reg, tokens, _keys) = token_registry(None);
    // The first blob request is refused as if the token had expired.
    let challenge = format!(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"{}\",service=\"{TOKEN_SERVICE}\",scope=\"repository:loci/wheels:pull\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        tokens.realm()
    );
    let front = flaky_front_for(reg.port, "/blobs/sha256:", vec![challenge]);
    case(
        &format!("127.0.0.1:{}/loci/wheels:tok", front.port),
        &http(),
        &TlsConfig::default(),
        Want::Wheels("b"),
    );
    let pulls = tokens
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.0 == "repository:loci/wheels:pull")
        .count();
    assert_eq!(pulls, 2, "a new token was fetched for the blob");
}

#[test]
fn schema1_manifests_use_the_top_non_empty_layer() {
    let reg = Registry::start(Options {
        schema1: true,
        ..Default::default()
    });
    let empty = gzip(&tar(&[]));
    let blobs = [empty.clone(), gzip(&wheels_tar("one")), base_layer()];
    let digests: Vec<String> = blobs.iter().map(|b| reg.push_blob("loci/old", b)).collect();
    // fsLayers lists the top layer first; the metadata-only step on top is a throwaway layer.
    let manifest = serde_json::json!({
        "schemaVersion": 1, "name": "loci/old", "tag": "v1", "architecture": "amd64",
        "fsLayers": digests.iter().map(|d| serde_json::json!({"blobSum": d})).collect::<Vec<_>>(),
        "history": [
            {"v1Compatibility": "{\"id\":\"c\",\"parent\":\"b\",\"throwaway\":true}"},
            {"v1Compatibility": "{\"id\":\"b\",\"parent\":\"a\"}"},
            {"v1Compatibility": "{\"id\":\"a\"}"},
        ],
    });
    let keys = tempfile::tempdir().unwrap();
    let signed = sign_schema1(&manifest.to_string(), keys.path());
    reg.push_manifest(
        "loci/old",
        "v1",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        &signed,
    );
    case(
        &format!("{}/loci/old:v1", reg.host()),
        &http(),
        &TlsConfig::default(),
        Want::Wheels("one"),
    );
}
