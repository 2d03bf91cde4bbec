//! Helpers of the Docker end-to-end tests (`tests/e2e_*.rs`): images (rootfs, base, loci binary,
//! requirements), local servers on 127.0.0.1 (git daemon, docker-registry, a static HTTP server)
//! and the source repositories the builds use.
//!
//! Everything runs for real: `/usr/bin/docker` with BuildKit, builds with `--network host`,
//! servers on the loopback interface only. The tests are `#[ignore]`d so that a plain
//! `cargo test` reports them as ignored rather than passing them; `tests/run.sh` runs them
//! with `--include-ignored`, and there a missing Docker is a failure, never a skip.
//!
//! Expensive images are cached by a hash of their inputs (a label + the tag), so a second run
//! (or a second test binary in the same run) reuses them.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

#[path = "cmd.rs"]
mod cmd;
pub use cmd::{git, ok as check, stdout};
#[allow(unused_imports)] // the requirements builds' sources: not every test binary makes them
pub use cmd::{git_repo, python_project};

/// Debian's docker client (the one with BuildKit).
pub const DOCKER: &str = "/usr/bin/docker";
/// The debootstrap image, as `docker import` made it.
pub const ROOTFS_IMAGE: &str = "loci-test/bookworm-rootfs:latest";
/// The same without apt caches, docs and locales: the `FROM` of the tests' base image and the
/// "plain Debian bookworm" of the in-container tests.
pub const SLIM_IMAGE: &str = "loci-test/bookworm-slim:latest";
pub const SUITE: &str = "bookworm";
/// The restriction the requirements build uses in CI (keystone's dependency closure + uwsgi).
/// Set LOCI_E2E_FULL_REQUIREMENTS=1 to build every constraint instead.
pub const CLOSURE_FIXTURE: &str = "tests/fixtures/requirements/keystone-2026.1-closure.txt";
/// What LOCI master's keystone job installs beyond [`CLOSURE_FIXTURE`] (its PROFILES' and
/// PIP_PACKAGES' wheels, which it takes from the requirements image alone): the suite's
/// requirements image holds them too, so that tests/loci_jobs.rs builds that job from it.
pub const KEYSTONE_JOB_EXTRAS: &str = "tests/fixtures/requirements/keystone-job-2026.1-extras.txt";
pub const REQUIREMENTS_FIXTURES: &str = "tests/fixtures/requirements-2026.1";
/// The keystone release of 2026.1 on PyPI.
pub const KEYSTONE_SPEC: &str = "keystone==29.*";
/// The Gerrit-style ref the tests create in the keystone repository.
pub const GERRIT_REF: &str = "refs/changes/42/987654/3";

/// The repository.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A persistent scratch dir for downloads and logs (`target/e2e`).
pub fn work_dir() -> PathBuf {
    let d = root().join("target/e2e");
    fs::create_dir_all(&d).unwrap();
    d
}

/// Serialises the heavy parts of the tests in one binary (2 cores; shared images).
pub fn lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn docker() -> Command {
    let mut c = Command::new(DOCKER);
    c.env("DOCKER_BUILDKIT", "1");
    c
}

/// Fails the test (not skips it) when Docker is not usable.
pub fn require_docker() {
    static OK: OnceLock<()> = OnceLock::new();
    OK.get_or_init(|| {
        let out = docker().args(["info", "--format", "{{.ServerVersion}}"]).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "docker is not usable (run the suite with `sudo tests/run.sh`, which starts dockerd): {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("{DOCKER} cannot be run ({e}): run the suite with `sudo tests/run.sh`"),
        }
    });
}

pub fn image_exists(image: &str) -> bool {
    docker()
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn image_id(image: &str) -> String {
    stdout(docker().args(["image", "inspect", "--format", "{{.Id}}", image]))
}

pub fn image_label(image: &str, label: &str) -> Option<String> {
    let out = docker()
        .args([
            "image",
            "inspect",
            "--format",
            &format!("{{{{index .Config.Labels \"{label}\"}}}}"),
            image,
        ])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !v.is_empty() && v != "<no value>").then_some(v)
}

/// sha256 of some byte strings, hex, shortened.
pub fn hash_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())[..16].to_string()
}

pub fn read(path: impl AsRef<Path>) -> Vec<u8> {
    let p = path.as_ref();
    fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// `docker build --network host --progress plain ARGS CONTEXT`, logged to target/e2e/logs/NAME.log;
/// prints the wall time (the report collects these lines: `E2E-BUILD-TIME name seconds`).
pub fn docker_build(name: &str, args: &[String], context: &Path) -> Duration {
    let mut cmd = docker();
    cmd.args(["build", "--network", "host", "--progress", "plain"])
        .args(args)
        .arg(context);
    run_build(name, &mut cmd)
}

/// Runs `cmd`, a `docker build`, logged to target/e2e/logs/NAME.log; panics with the log's tail
/// when it fails; prints the wall time as [`docker_build`] does.
pub fn run_build(name: &str, cmd: &mut Command) -> Duration {
    let logs = work_dir().join("logs");
    fs::create_dir_all(&logs).unwrap();
    let log_path = logs.join(format!("{name}.log"));
    let log = fs::File::create(&log_path).unwrap();
    eprintln!("+ {cmd:?}");
    let started = Instant::now();
    let status = cmd
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap_or_else(|e| panic!("cannot run docker build: {e}"));
    let took = started.elapsed();
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(80).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "docker build {name} failed after {:.1}s ({status}); log {}:\n{}",
            took.as_secs_f64(),
            log_path.display(),
            tail.join("\n")
        );
    }
    record(&format!("E2E-BUILD-TIME {name} {:.1}s", took.as_secs_f64()));
    took
}

/// A `docker build` that must fail: returns its log (stdout and stderr), panics if it passed.
pub fn docker_build_fails(name: &str, args: &[String], context: &Path) -> String {
    let mut cmd = docker();
    cmd.args(["build", "--network", "host", "--progress", "plain"])
        .args(args)
        .arg(context);
    eprintln!("+ {cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker build: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = work_dir().join("logs");
    fs::create_dir_all(&logs).unwrap();
    fs::write(logs.join(format!("{name}.log")), &text).unwrap();
    assert!(
        !out.status.success(),
        "docker build {name} should have failed:\n{text}"
    );
    text
}

/// The size of an image in bytes, as `docker image inspect` gives it.
pub fn image_bytes(image: &str) -> u64 {
    stdout(docker().args(["image", "inspect", "--format", "{{.Size}}", image]))
        .parse()
        .unwrap_or_else(|e| panic!("no size for {image}: {e}"))
}

/// What must not be in a service image: compilers, git, -dev packages, bytecode, pip caches,
/// loci itself, the build's data. Returns the offending lines (empty when clean).
pub fn leftovers(image: &str) -> Vec<String> {
    sh_in(
        image,
        r#"for c in gcc cc c++ make git; do command -v "$c" && echo "LEFT: $c"; done
dpkg-query -W -f '${Package}\n' | grep -E -- '-dev(:|$)' | sed 's/^/LEFT dev package: /'
find / -xdev \( -name '*.pyc' -o -name __pycache__ \) -print | head -5 | sed 's/^/LEFT bytecode: /'
for p in perl gcc cpp; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' && echo "LEFT package: $p"; done
for p in /root/.cache/pip /root/.cache/uv /root/.cache /opt/loci /mnt/loci /usr/local/bin/loci /tmp/wheels /var/lib/apt/lists/lock; do
    [ -e "$p" ] && echo "LEFT: $p"
done
ls -A /tmp | sed 's/^/LEFT in tmp: /'
find / -xdev -type f -name loci -print | sed 's/^/LEFT binary: /'
true"#,
    )
    .lines()
    .filter(|l| l.contains("LEFT"))
    .map(String::from)
    .collect()
}

/// Fails when `image` holds a leftover ([`leftovers`]). perl counts only where apache2 does not
/// depend on it: the apache profile's apache2 keeps it, as in LOCI's images.
pub fn assert_clean(image: &str) {
    let depends = sh_in(
        image,
        "dpkg-query -W -f '${Depends}' apache2 2>/dev/null; true",
    );
    let left: Vec<String> = leftovers(image)
        .into_iter()
        .filter(|l| !(l == "LEFT package: perl" && depends.contains("perl")))
        .collect();
    assert!(
        left.is_empty(),
        "{image} is not clean:\n{}",
        left.join("\n")
    );
}

/// Starts `image`'s keystone and asks it for a token: it must answer 201 with one.
pub fn assert_issues_tokens(image: &str) {
    let ks = Keystone::start(image);
    let (status, token) = ks.issue_token();
    assert_eq!(
        status,
        201,
        "{image}: POST /v3/auth/tokens answered {status}; logs:\n{}",
        ks.logs()
    );
    assert!(token.is_some_and(|t| t.len() > 20), "{image}: no token");
}

/// Prints a line of the report and appends it to target/e2e/timings.txt (tests/run.sh shows it).
pub fn record(line: &str) {
    println!("{line}");
    if let Ok(mut f) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(work_dir().join("timings.txt"))
    {
        let _ = writeln!(f, "{line}");
    }
}

pub fn build_args(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(k, v)| ["--build-arg".to_string(), format!("{k}={v}")])
        .collect()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on 127.0.0.1:{port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 30s");
}

/// A server process killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `git daemon` on 127.0.0.1 serving every repository below `base`. The daemon itself
/// (`$(git --exec-path)/git-daemon`) is spawned, not the `git` wrapper: a git that forks it
/// (rather than exec) would leave it running when the wrapper is killed, holding the port and
/// the test's standard error.
pub fn git_daemon(base: &Path) -> Server {
    let port = free_port();
    let exec_path = stdout(Command::new("git").arg("--exec-path"));
    let mut child = Command::new(Path::new(&exec_path).join("git-daemon"))
        .args([
            "--reuseaddr",
            "--export-all",
            "--informative-errors",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", base.display()),
        ])
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("git daemon (install git)");
    wait_for_port(port, "git daemon", &mut child);
    Server {
        child,
        port,
        _dir: None,
    }
}

/// Debian's `docker-registry` on 127.0.0.1 (plain http; docker trusts 127.0.0.0/8 without TLS).
pub fn registry() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("config.yml");
    fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry (apt-get install docker-registry)");
    wait_for_port(port, "docker-registry", &mut child);
    Server {
        child,
        port,
        _dir: Some(dir),
    }
}

/// `NAME@sha256:...` of `image` as pushed to `registry` (its RepoDigests entry there).
pub fn pushed_digest(image: &str, registry: &str) -> String {
    check(docker().args(["push", image]));
    let digests = stdout(docker().args([
        "image",
        "inspect",
        "--format",
        "{{range .RepoDigests}}{{println .}}{{end}}",
        image,
    ]));
    digests
        .lines()
        .find(|l| l.starts_with(registry))
        .unwrap_or_else(|| panic!("{image} has no digest in {registry}: {digests:?}"))
        .to_string()
}

/// The fixtures' 2026.1 upper-constraints.txt served on 127.0.0.1 (releases.openstack.org is
/// unreachable here): the server, which owns its directory, and the file's URL.
pub fn served_upper_constraints() -> (Server, String) {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        root()
            .join(REQUIREMENTS_FIXTURES)
            .join("upper-constraints.txt"),
        dir.path().join("upper-constraints.txt"),
    )
    .unwrap();
    let mut server = http_server(dir.path());
    server._dir = Some(dir);
    let url = format!("http://127.0.0.1:{}/upper-constraints.txt", server.port);
    (server, url)
}

/// A static HTTP server on 127.0.0.1 serving `dir` (python3's http.server).
pub fn http_server(dir: &Path) -> Server {
    let port = free_port();
    let mut child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    wait_for_port(port, "python3 -m http.server", &mut child);
    Server {
        child,
        port,
        _dir: None,
    }
}

// --------------------------------------------------------------------------------------------
// Images

/// The static loci binary `tests/run.sh` builds.
pub fn loci_binary() -> PathBuf {
    let p = root().join("target/x86_64-unknown-linux-gnu/release/loci");
    assert!(
        p.is_file(),
        "{} is missing: build it with RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release --target x86_64-unknown-linux-gnu (tests/run.sh does)",
        p.display()
    );
    p
}

/// A `FROM scratch` image holding only the static binary at /loci (the Dockerfile's LOCI_IMAGE).
pub fn loci_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            require_docker();
            let bin = read(loci_binary());
            let tag = format!("loci-test/loci:{}", hash_parts(&[&bin]));
            if image_exists(&tag) {
                return tag;
            }
            let ctx = tempfile::tempdir().unwrap();
            fs::write(ctx.path().join("loci"), &bin).unwrap();
            set_mode(&ctx.path().join("loci"), 0o755);
            fs::write(
                ctx.path().join("Dockerfile"),
                "FROM scratch\nCOPY loci /loci\nENTRYPOINT [\"/loci\"]\n",
            )
            .unwrap();
            docker_build("loci-binary-image", &["-t".into(), tag.clone()], ctx.path());
            tag
        })
        .clone()
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// [`slim_image_of`] bookworm: SLIM_IMAGE, from ROOTFS_IMAGE.
pub fn slim_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| slim_image_of(SUITE)).clone()
}

/// `debootstrap --variant=minbase SUITE` (a Debian release: bookworm, trixie) imported as
/// `loci-test/SUITE-rootfs` (when missing), then flattened without apt caches, docs and locales
/// into `loci-test/SUITE-slim`.
pub fn slim_image_of(suite: &str) -> String {
    require_docker();
    let slim = format!("loci-test/{suite}-slim:latest");
    let rootfs = format!("loci-test/{suite}-rootfs:latest");
    if image_exists(&slim) {
        return slim;
    }
    if !image_exists(&rootfs) {
        let dir = tempfile::Builder::new()
            .prefix("loci-rootfs")
            .tempdir_in(work_dir())
            .unwrap();
        let target = dir.path().join("rootfs");
        let started = Instant::now();
        check(
            Command::new("debootstrap")
                .args(["--variant=minbase", suite])
                .arg(&target)
                .arg("http://deb.debian.org/debian"),
        );
        pipe(
            Command::new("tar").arg("-C").arg(&target).args(["-c", "."]),
            docker().args(["import", "-", &rootfs]),
        );
        record(&format!(
            "E2E-BUILD-TIME debootstrap-{suite} {:.1}s",
            started.elapsed().as_secs_f64()
        ));
    }
    let name = format!("loci-test-slim-{suite}-{}", std::process::id());
    let _ = docker().args(["rm", "-f", &name]).output();
    check(docker().args(["run", "--name", &name, "--network", "none", &rootfs, "sh", "-c",
        "apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* \
         /usr/share/info/* /usr/share/locale/* /var/log/*.log /var/log/apt/* /var/cache/debconf/*-old \
         /var/lib/dpkg/*-old /tmp/* /var/tmp/*"]));
    pipe(
        docker().args(["export", &name]),
        docker().args([
            "import",
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "CMD [\"bash\"]",
            "-",
            &slim,
        ]),
    );
    let _ = docker().args(["rm", "-f", &name]).output();
    slim
}

/// `a | b`, both checked.
pub fn pipe(a: &mut Command, b: &mut Command) {
    let mut first = a
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{a:?}: {e}"));
    let out = first.stdout.take().unwrap();
    let second = b
        .stdin(out)
        .output()
        .unwrap_or_else(|e| panic!("{b:?}: {e}"));
    let st = first.wait().unwrap();
    assert!(st.success(), "{a:?} failed: {st}");
    cmd::succeeded(format!("{b:?}"), second);
}

/// The base image built with the root's Dockerfile.base (as LOCI master builds it: its
/// dockerfiles/base.sh runs dockerfiles/debian/base.sh) on the debootstrap image, with this
/// host's CA bundle as an extra trusted certificate (the documented certs/ feature: HTTPS to
/// PyPI goes through a re-signing proxy on the test machines). Cached by a hash of its inputs.
pub fn base_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let files = [
                "Dockerfile.base",
                "dockerfiles/base.sh",
                "dockerfiles/debian/base.sh",
            ];
            build_base(
                "base-debian",
                "loci-test/base:debian",
                "Dockerfile.base",
                &files,
            )
        })
        .clone()
}

/// The same base from dockerfiles/debian alone (its own Dockerfile, that directory as context).
pub fn base_image_from_distro_dir() -> String {
    build_base(
        "base-debian-dir",
        "loci-test/base-dir:debian",
        "dockerfiles/debian/Dockerfile",
        &[
            "dockerfiles/debian/Dockerfile",
            "dockerfiles/debian/base.sh",
        ],
    )
}

/// A Debian trixie base (Python 3.13) from dockerfiles/debian alone, on a trixie debootstrap.
pub fn trixie_base_image() -> String {
    build_base_on(
        &slim_image_of("trixie"),
        "base-trixie",
        "loci-test/base:trixie",
        "dockerfiles/debian/Dockerfile",
        &[
            "dockerfiles/debian/Dockerfile",
            "dockerfiles/debian/base.sh",
        ],
    )
}

/// Builds a base image from `dockerfile` with `files` (paths in the repository) copied into a
/// context: for dockerfiles/debian/Dockerfile that directory is the context root.
fn build_base(name: &str, alias: &str, dockerfile: &str, files: &[&str]) -> String {
    build_base_on(&slim_image(), name, alias, dockerfile, files)
}

fn build_base_on(from: &str, name: &str, alias: &str, dockerfile: &str, files: &[&str]) -> String {
    let from = from.to_string();
    let ca = host_ca_bundle();
    let strip = dockerfile.strip_suffix("Dockerfile").unwrap_or("");
    let mut parts: Vec<Vec<u8>> = files.iter().map(|f| read(root().join(f))).collect();
    parts.push(ca.clone());
    parts.push(image_id(&from).into_bytes());
    parts.push(dockerfile.as_bytes().to_vec());
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let hash = hash_parts(&refs);
    let tag = format!("{alias}-{hash}");
    if image_exists(&tag) {
        return tag;
    }
    let ctx = tempfile::tempdir().unwrap();
    for f in files {
        let dest = ctx.path().join(f.strip_prefix(strip).unwrap_or(f));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(root().join(f), &dest).unwrap();
    }
    fs::create_dir_all(ctx.path().join("certs")).unwrap();
    if !ca.is_empty() {
        fs::write(ctx.path().join("certs/host-ca.crt"), &ca).unwrap();
    }
    let mut args = vec![
        "-f".to_string(),
        ctx.path()
            .join(dockerfile.strip_prefix(strip).unwrap_or(dockerfile))
            .display()
            .to_string(),
    ];
    args.extend(build_args(&[
        ("FROM", &from),
        // The debootstrap sources have no updates/security suites: the mirror args add them.
        ("APT_MIRROR", "http://deb.debian.org/debian"),
        (
            "APT_SECURITY_MIRROR",
            "http://deb.debian.org/debian-security",
        ),
    ]));
    args.extend([
        "--label".into(),
        format!("loci.test.inputs={hash}"),
        "-t".into(),
        tag.clone(),
        "-t".into(),
        alias.into(),
    ]);
    docker_build(name, &args, ctx.path());
    tag
}

pub fn host_ca_bundle() -> Vec<u8> {
    fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default()
}

/// A build context for the top-level Dockerfile without the repository's data dir: the
/// Dockerfile is passed with `-f`, bindep.txt/pydep.txt are copied, and `data/` is the test's.
pub struct Context {
    pub dir: tempfile::TempDir,
}

impl Context {
    pub fn new() -> Context {
        let dir = tempfile::tempdir().unwrap();
        for f in ["bindep.txt", "pydep.txt"] {
            fs::copy(root().join(f), dir.path().join(f)).unwrap();
        }
        fs::create_dir(dir.path().join("data")).unwrap();
        Context { dir }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    /// `-f <repo>/Dockerfile`, FROM the test base and LOCI_IMAGE the test binary image.
    pub fn args(&self, base: &str, extra: &[(&str, &str)]) -> Vec<String> {
        let mut args = vec![
            "-f".to_string(),
            root().join("Dockerfile").display().to_string(),
        ];
        args.extend(build_args(&[("FROM", base), ("LOCI_IMAGE", &loci_image())]));
        args.extend(build_args(extra));
        args
    }
}

// --------------------------------------------------------------------------------------------
// Source repositories

/// A git repository named `requirements` below `base`, holding the 2026.1 upper-constraints.txt
/// and global-requirements.txt on branch stable/2026.1.
pub fn requirements_repo(base: &Path) -> PathBuf {
    let repo = base.join("requirements");
    fs::create_dir_all(&repo).unwrap();
    for f in ["upper-constraints.txt", "global-requirements.txt"] {
        fs::copy(root().join(REQUIREMENTS_FIXTURES).join(f), repo.join(f)).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "stable/2026.1"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "requirements 2026.1"]);
    repo
}

/// keystone's 2026.1 sdist from PyPI (cached in target/e2e/downloads).
pub fn keystone_sdist() -> PathBuf {
    pypi_sdist("", "keystone-29.", KEYSTONE_SPEC)
}

/// The sdist of `spec` from PyPI, cached in target/e2e/downloads/`subdir` and found again by
/// its file name `prefix`*.tar.gz.
pub fn pypi_sdist(subdir: &str, prefix: &str, spec: &str) -> PathBuf {
    let dl = work_dir().join("downloads").join(subdir);
    fs::create_dir_all(&dl).unwrap();
    let find = || -> Option<PathBuf> {
        fs::read_dir(&dl)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".tar.gz"))
            })
    };
    if let Some(p) = find() {
        return p;
    }
    let venv = work_dir().join("pyvenv");
    if !venv.join("bin/pip").exists() {
        check(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    }
    check(
        Command::new(venv.join("bin/pip"))
            .args(["download", "--no-deps", "--no-binary", ":all:", "--dest"])
            .arg(&dl)
            .arg(spec),
    );
    find().unwrap_or_else(|| panic!("pip download left no {prefix}*.tar.gz in {}", dl.display()))
}

/// A git repository `base/<project>` made from the project's sdist (`<project>-<version>.tar.gz`):
/// one commit, tagged with the release (an annotated tag, so pbr sees the version).
/// Returns (repo, version).
pub fn sdist_repo(base: &Path, project: &str, sdist: &Path) -> (PathBuf, String) {
    // `<name>-<version>.tar.gz` unpacking to `<name>-<version>/`, where newer sdists spell
    // the name normalized (python_keystoneclient-5.8.0.tar.gz for python-keystoneclient).
    let name = sdist.file_name().unwrap().to_str().unwrap();
    let stem = name.trim_end_matches(".tar.gz");
    let (_, version) = stem.rsplit_once('-').unwrap();
    let version = version.to_string();
    let unpack = tempfile::tempdir_in(base).unwrap();
    let gz = flate2::read::GzDecoder::new(fs::File::open(sdist).unwrap());
    tar::Archive::new(gz).unpack(unpack.path()).unwrap();
    let repo = base.join(project);
    fs::rename(unpack.path().join(stem), &repo).unwrap();
    git(&repo, &["init", "-q", "-b", "master"]);
    git(&repo, &["add", "-A"]);
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            &format!("{project} {version} from its sdist"),
        ],
    );
    git(&repo, &["tag", "-a", &version, "-m", &version]);
    (repo, version)
}

/// A git repository `keystone` below `base` made from the sdist: one commit tagged with the
/// release, and a second commit reachable only as the Gerrit-style ref GERRIT_REF.
/// Returns (repo, tag).
pub fn keystone_repo(base: &Path) -> (PathBuf, String) {
    let (repo, version) = sdist_repo(base, "keystone", &keystone_sdist());
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(repo.join("README.rst"))
        .unwrap();
    writeln!(f, "\nGerrit change under review (loci e2e tests).").unwrap();
    git(
        &repo,
        &["commit", "-q", "-a", "-m", "A change under review"],
    );
    git(&repo, &["update-ref", GERRIT_REF, "HEAD"]);
    git(&repo, &["reset", "-q", "--hard", &version]);
    (repo, version)
}

pub fn rev_parse(repo: &Path, rev: &str) -> String {
    git(repo, &["rev-parse", &format!("{rev}^{{commit}}")])
}

/// The requirements image (PROJECT=requirements through the project's Dockerfile) built from a
/// `requirements` repository served by `git daemon`. In CI only keystone's dependency closure
/// plus uwsgi and what LOCI master's keystone job adds is built (REQUIREMENTS_ONLY_FILE, see
/// CLOSURE_FIXTURE and KEYSTONE_JOB_EXTRAS); LOCI_E2E_FULL_REQUIREMENTS=1 builds every
/// constraint. Cached by a hash of its inputs.
pub fn requirements_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let full = std::env::var("LOCI_E2E_FULL_REQUIREMENTS").is_ok_and(|v| v == "1");
            let closure = (!full).then(|| {
                let mut only = read(root().join(CLOSURE_FIXTURE));
                only.extend(read(root().join(KEYSTONE_JOB_EXTRAS)));
                only
            });
            build_requirements_image("requirements", "2026.1", closure)
        })
        .clone()
}

/// Builds (or finds, by a hash of its inputs) a requirements image tagged
/// `loci-test/requirements:TAG_PREFIX-HASH`, restricted to the names in `closure` when one is
/// given. `name` labels the build in the timings.
pub fn build_requirements_image(name: &str, tag_prefix: &str, closure: Option<Vec<u8>>) -> String {
    let base = base_image();
    let loci = loci_image();
    let upper = read(
        root()
            .join(REQUIREMENTS_FIXTURES)
            .join("upper-constraints.txt"),
    );
    let global = read(
        root()
            .join(REQUIREMENTS_FIXTURES)
            .join("global-requirements.txt"),
    );
    let hash = hash_parts(&[
        &upper,
        &global,
        closure.as_deref().unwrap_or_default(),
        &read(root().join("Dockerfile")),
        &read(root().join("bindep.txt")),
        &read(root().join("pydep.txt")),
        image_id(&base).as_bytes(),
        image_id(&loci).as_bytes(),
    ]);
    let tag = format!("loci-test/requirements:{tag_prefix}-{hash}");
    if image_exists(&tag) {
        return tag;
    }
    let repos = tempfile::tempdir().unwrap();
    requirements_repo(repos.path());
    let daemon = git_daemon(repos.path());
    let ctx = Context::new();
    let mut extra: Vec<(&str, String)> = vec![
        ("PROJECT", "requirements".into()),
        (
            "PROJECT_REPO",
            format!("git://127.0.0.1:{}/requirements", daemon.port),
        ),
        ("PROJECT_REF", "stable/2026.1".into()),
        ("PROJECT_RELEASE", "2026.1".into()),
        // Every wheel of the closure, not only the compiled ones: the tarball made from
        // this image must install keystone (and a service build needs no index).
        ("KEEP_ALL_WHEELS", "True".into()),
    ];
    if let Some(closure) = &closure {
        fs::write(ctx.data().join("requirements-only.txt"), closure).unwrap();
        extra.push((
            "REQUIREMENTS_ONLY_FILE",
            "/tmp/requirements-only.txt".into(),
        ));
    }
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No `--target`: LOCI 2024/2025's `docker build . --build-arg PROJECT=requirements`, which
    // the default target routes to the `requirements` stage (the Dockerfile's PROJECT_STAGE).
    let mut args = ctx.args(&base, &extra);
    args.extend([
        "--label".into(),
        format!("loci.test.inputs={hash}"),
        "-t".into(),
        tag.clone(),
    ]);
    docker_build(name, &args, ctx.path());
    drop(daemon);
    tag
}

/// The wheels of an image (its files at / named *.whl or *.txt, as the requirements image holds
/// them) as a .tar.gz at `dest`. Returns the number of wheels.
pub fn export_wheels(image: &str, dest: &Path) -> usize {
    let name = format!("loci-test-export-{}-{}", std::process::id(), free_port());
    check(docker().args(["create", "--name", &name, image, "/nothing"]));
    let mut child = docker()
        .args(["export", &name])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = tar::Archive::new(child.stdout.take().unwrap());
    let out = fs::File::create(dest).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        out,
        flate2::Compression::fast(),
    ));
    let mut wheels = 0;
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_path_buf();
        let name = path.to_string_lossy().trim_start_matches("./").to_string();
        if name.contains('/') || !(name.ends_with(".whl") || name.ends_with(".txt")) {
            continue;
        }
        if name.ends_with(".whl") {
            wheels += 1;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, &name, data.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
    let _ = child.wait();
    let _ = docker().args(["rm", "-f", &name]).output();
    wheels
}

// --------------------------------------------------------------------------------------------
// Running keystone

/// keystone.conf for a sqlite database and fernet tokens inside the container.
pub const KEYSTONE_CONF: &str = "[DEFAULT]\nuse_stderr = true\n\n[database]\nconnection = sqlite:////var/lib/keystone/keystone.db\n\n[fernet_tokens]\nkey_repository = /var/lib/keystone/fernet-keys\n\n[fernet_receipts]\nkey_repository = /var/lib/keystone/fernet-keys\n\n[credential]\nkey_repository = /var/lib/keystone/credential-keys\n\n[token]\nprovider = fernet\n";

pub const ADMIN_PASSWORD: &str = "e2e-secret-Pa55";

/// Runs keystone from `image` as the keystone user on 127.0.0.1 (db_sync on sqlite, bootstrap,
/// then uwsgi serving the public WSGI app) and returns the container name and port.
pub struct Keystone {
    pub name: String,
    pub port: u16,
    _conf: tempfile::TempDir,
}

impl Drop for Keystone {
    fn drop(&mut self) {
        let _ = docker().args(["rm", "-f", &self.name]).output();
    }
}

impl Keystone {
    pub fn start(image: &str) -> Keystone {
        let conf = tempfile::tempdir().unwrap();
        fs::write(conf.path().join("keystone.conf"), KEYSTONE_CONF).unwrap();
        set_mode(conf.path(), 0o755);
        set_mode(&conf.path().join("keystone.conf"), 0o644);
        let port = free_port();
        let name = format!("loci-test-keystone-{}-{port}", std::process::id());
        // The script is a constant; the port and password arrive as positional parameters.
        let script = r#"set -e
port="$1"; password="$2"
keystone-manage --config-file /etc/keystone/keystone.conf fernet_setup --keystone-user keystone --keystone-group keystone
keystone-manage --config-file /etc/keystone/keystone.conf credential_setup --keystone-user keystone --keystone-group keystone
keystone-manage --config-file /etc/keystone/keystone.conf db_sync
keystone-manage --config-file /etc/keystone/keystone.conf bootstrap \
    --bootstrap-password "$password" \
    --bootstrap-admin-url "http://127.0.0.1:$port/v3" \
    --bootstrap-public-url "http://127.0.0.1:$port/v3" \
    --bootstrap-internal-url "http://127.0.0.1:$port/v3" \
    --bootstrap-region-id RegionOne
echo KEYSTONE-BOOTSTRAPPED
if command -v keystone-wsgi-public >/dev/null 2>&1; then
    exec uwsgi --http-socket "127.0.0.1:$port" --master --processes 1 --threads 2 --wsgi-file "$(command -v keystone-wsgi-public)"
else
    exec uwsgi --http-socket "127.0.0.1:$port" --master --processes 1 --threads 2 --module keystone.wsgi.api:application
fi
"#;
        check(
            docker()
                .args([
                    "run",
                    "-d",
                    "--name",
                    &name,
                    "--network",
                    "host",
                    "--user",
                    "keystone",
                ])
                .arg("-v")
                .arg(format!(
                    "{}:/etc/keystone/keystone.conf:ro",
                    conf.path().join("keystone.conf").display()
                ))
                .args([
                    image,
                    "sh",
                    "-c",
                    script,
                    "keystone-e2e",
                    &port.to_string(),
                    ADMIN_PASSWORD,
                ]),
        );
        Keystone {
            name,
            port,
            _conf: conf,
        }
    }

    pub fn logs(&self) -> String {
        let out = docker().args(["logs", &self.name]).output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// POST /v3/auth/tokens with the admin password until keystone answers (or 180 s pass);
    /// returns the status and the X-Subject-Token header.
    pub fn issue_token(&self) -> (u16, Option<String>) {
        let body = serde_json::json!({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}
            }
        });
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{}/v3/auth/tokens", self.port);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            match client.post(&url).json(&body).send() {
                Ok(resp) => {
                    let token = resp
                        .headers()
                        .get("X-Subject-Token")
                        .and_then(|v| v.to_str().ok())
                        .map(String::from);
                    return (resp.status().as_u16(), token);
                }
                Err(e) => {
                    let running = stdout(docker().args([
                        "inspect",
                        "--format",
                        "{{.State.Running}}",
                        &self.name,
                    ]));
                    if running != "true" || Instant::now() > deadline {
                        panic!(
                            "keystone did not answer on {url} ({e}); container logs:\n{}",
                            self.logs()
                        );
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }
}

/// Runs `sh -c script` in `image` (no network) and returns stdout; panics on failure.
pub fn sh_in(image: &str, script: &str) -> String {
    stdout(docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        image,
        "-c",
        script,
    ]))
}
