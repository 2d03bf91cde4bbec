//! A Python package index client, just enough to fetch the binary wheels pip would pick:
//!
//! - [`Index::project`]: a project's files from the PEP 691 simple JSON API
//!   (`GET {index}/{name}/`, `Accept: application/vnd.pypi.simple.v1+json`). An index that
//!   answers anything else (a PEP 503 HTML page) is [`Page::NotSupported`] and a missing
//!   project [`Page::NotFound`]: the caller leaves those to pip, never fails because of them.
//! - [`WheelName`]: wheel file names (`name-version(-build)?-py-abi-plat.whl`, compressed tag
//!   sets such as `py2.py3-none-any`).
//! - [`best_wheel`]: among the files of exactly one version, the wheel pip would choose for a
//!   target, given the target's supported tags in pip's order of preference (`pip debug
//!   --verbose`) and its Python version (for `requires-python`). Whenever the answer is not
//!   certain, there is none, so that pip decides.
//! - [`Index::download`]: a wheel streamed into a temporary file of the destination directory,
//!   its sha256 checked against the index's and its content against its name
//!   ([`check_wheel`]), renamed into place only when both match.
//!
//! The choice of a wheel is [`select`] (pure), the check of a downloaded one [`archive`]; this
//! file is the client.
//!
//! Built on [`crate::http`] (trust store, proxies, timeouts, retries, resumable downloads); a
//! leaf otherwise (PEP 503 names come from [`crate::constraints`], itself a leaf).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use reqwest::blocking::Client;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::constraints::normalize;
use crate::error::{Error, Result};
use crate::http::{self, TlsConfig};

mod archive;
mod select;

pub use archive::{check_wheel, zip_names};
pub use select::{best_wheel, fits_python, requires_python, sdist_size, File, Tags, WheelName};

/// The index pip uses when nothing says otherwise.
pub const PYPI: &str = "https://pypi.org/simple/";

/// What loci asks for: the JSON API first; HTML, at a lower preference, so that an index
/// without the JSON API answers with its page (recognised and left to pip) rather than 406.
const ACCEPT_JSON: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1, text/html;q=0.01";

/// The answer of the index for one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Files(Vec<File>),
    /// 404: the index does not know the project.
    NotFound,
    /// The index answered, but not with PEP 691 JSON (why, for the log).
    NotSupported(String),
}

#[derive(Deserialize)]
struct RawPage {
    meta: RawMeta,
    /// The project the page is about (PEP 691: its normalized name).
    #[serde(default)]
    name: Option<String>,
    files: Vec<RawFile>,
}

#[derive(Deserialize)]
struct RawMeta {
    #[serde(rename = "api-version")]
    api_version: String,
}

#[derive(Deserialize)]
struct RawFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: HashMap<String, String>,
    #[serde(default, rename = "requires-python")]
    requires_python: Option<String>,
    /// `false`, `true` or the reason (a string).
    #[serde(default)]
    yanked: serde_json::Value,
    #[serde(default)]
    size: Option<u64>,
}

/// Parses a PEP 691 project page (API version 1.x) fetched from `page`.
pub fn parse_page(body: &str, page: &Url) -> std::result::Result<Vec<File>, String> {
    let raw: RawPage =
        serde_json::from_str(body).map_err(|e| format!("not a PEP 691 project page: {e}"))?;
    files_of(raw, page)
}

/// Parses the PEP 691 page of project `name`: a page about another project is refused.
pub fn parse_project_page(
    body: &str,
    page: &Url,
    name: &str,
) -> std::result::Result<Vec<File>, String> {
    let raw: RawPage =
        serde_json::from_str(body).map_err(|e| format!("not a PEP 691 project page: {e}"))?;
    if let Some(other) = raw.name.as_deref() {
        if normalize(other) != normalize(name) {
            return Err(format!(
                "the page asked for {name} is the page of {}",
                crate::error::cut(other, crate::error::QUOTE_MAX)
            ));
        }
    }
    files_of(raw, page)
}

fn files_of(raw: RawPage, page: &Url) -> std::result::Result<Vec<File>, String> {
    if raw.meta.api_version.split('.').next() != Some("1") {
        return Err(format!(
            "PEP 691 API version {} (loci reads 1.x)",
            raw.meta.api_version
        ));
    }
    let mut files = Vec::with_capacity(raw.files.len());
    for f in raw.files {
        let url = page
            .join(&f.url)
            .map_err(|e| format!("{}: bad URL {:?}: {e}", f.filename, f.url))?;
        let yanked = match &f.yanked {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(_) => true,
            _ => false,
        };
        files.push(File {
            sha256: f
                .hashes
                .get("sha256")
                .map(|h| h.to_ascii_lowercase())
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())),
            filename: f.filename,
            url,
            yanked,
            requires_python: f.requires_python,
            size: f.size,
        });
    }
    Ok(files)
}

/// A URL without its credentials, for logs.
pub fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("***");
        let _ = u.set_password(None);
    }
    u.to_string()
}

/// A simple index (PEP 503 URL, read through PEP 691 JSON).
pub struct Index {
    url: Url,
    pages: Client,
    downloads: Client,
}

impl Index {
    /// The index at `url` (`https://pypi.org/simple/`), with loci's HTTP settings.
    pub fn new(url: &str, tls: &TlsConfig) -> Result<Index> {
        let mut base = url.trim().to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        let url = Url::parse(&base).map_err(|e| {
            Error::new(format!("the package index URL {:?} is not a URL", url))
                .caused_by(e)
                .hint("check index-url in pip's configuration (pip config list) or --index-url in PIP_WHEEL_ARGS")
        })?;
        Ok(Index {
            url,
            pages: http::client(
                tls,
                http::Options {
                    same_host_redirects: true,
                    ..Default::default()
                },
            )?,
            downloads: http::client(
                tls,
                http::Options {
                    manual_redirects: true,
                    ..Default::default()
                },
            )?,
        })
    }

    /// The index URL, without credentials.
    pub fn display(&self) -> String {
        redacted(&self.url)
    }

    /// The files of project `name` (any spelling: the page of its PEP 503 name is asked for).
    /// Transport failures and unexpected statuses (after [`http::send`]'s retries) are errors.
    /// What loci does not trust or read is [`Page::NotSupported`], with why: a redirect to
    /// another host, a page over [`PAGE_MAX`] bytes or slower than [`PAGE_BUDGET`], a
    /// truncated or malformed page, the page of another project.
    pub fn project(&self, name: &str) -> Result<Page> {
        let page = self
            .url
            .join(&format!("{}/", normalize(name)))
            .map_err(|e| Error::new(format!("no index URL for {name}")).caused_by(e))?;
        let what = format!("the index page of {name} ({})", redacted(&page));
        let started = std::time::Instant::now();
        let resp = http::send(&what, || {
            self.pages.get(page.clone()).header(ACCEPT, ACCEPT_JSON)
        })?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(Page::NotFound);
        }
        if status.is_redirection() {
            // Only a redirect the client would not follow gets here: to another host.
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| resp.url().join(l).ok())
                .map(|u| redacted(&u))
                .unwrap_or_else(|| "nowhere".into());
            return Ok(Page::NotSupported(format!(
                "the index redirects {} to another host ({to}): not followed",
                redacted(&page)
            )));
        }
        if !status.is_success() {
            return Err(http::status_error(&what, resp));
        }
        let final_url = resp.url().clone();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.contains("json") {
            return Ok(Page::NotSupported(format!(
                "the index answers {} for {}, not PEP 691 JSON",
                if content_type.is_empty() {
                    "without a content type"
                } else {
                    content_type.as_str()
                },
                redacted(&final_url)
            )));
        }
        if let Some(len) = resp.content_length().filter(|l| *l > PAGE_MAX) {
            return Ok(Page::NotSupported(format!(
                "{}: the page is {} MiB, more than loci reads ({} MiB)",
                redacted(&final_url),
                len >> 20,
                PAGE_MAX >> 20
            )));
        }
        let body = match read_page(resp, started) {
            Ok(body) => body,
            Err(why) => {
                return Ok(Page::NotSupported(format!(
                    "{}: {why}",
                    redacted(&final_url)
                )))
            }
        };
        let body = match String::from_utf8(body) {
            Ok(b) => b,
            Err(_) => {
                return Ok(Page::NotSupported(format!(
                    "{}: the page is not UTF-8 JSON",
                    redacted(&final_url)
                )))
            }
        };
        match parse_project_page(&body, &final_url, name) {
            Ok(files) => Ok(Page::Files(files)),
            Err(why) => Ok(Page::NotSupported(format!(
                "{}: {why}",
                redacted(&final_url)
            ))),
        }
    }

    /// Downloads `file` into `dir` under its own name: streamed into a temporary file there,
    /// checked against the index's sha256, and (a wheel being a zip archive) checked to be the
    /// wheel its name says ([`check_wheel`]); renamed into place only then. Returns the path.
    /// Nothing is left in `dir` on failure.
    pub fn download(&self, file: &File, dir: &Path) -> std::result::Result<PathBuf, DownloadError> {
        let distrust = |error: Error| DownloadError {
            error,
            kind: DownloadFailure::Untrustworthy,
        };
        let transport = |error: Error| DownloadError {
            error,
            kind: DownloadFailure::Transfer,
        };
        let local = |error: Error| DownloadError {
            error,
            kind: DownloadFailure::Local,
        };
        let Some(wheel) = WheelName::parse(&file.filename) else {
            return Err(distrust(
                Error::new(format!(
                    "the index names a file {:?}, which is not a wheel file name",
                    file.filename
                ))
                .hint("the index serves something else than Python wheels"),
            ));
        };
        let Some(want) = file.sha256.as_deref() else {
            return Err(distrust(Error::new(format!(
                "{}: the index gives no sha256 to check it against",
                file.filename
            ))));
        };
        let what = format!("{} ({})", file.filename, redacted(&file.url));
        let mut tmp = tempfile::Builder::new()
            .prefix(".loci-download-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| local(crate::disk::write_error(dir, e, file.size)))?;
        let _staged = crate::interrupt::Staged::new(tmp.path());
        let mut body = http::Download::open(
            &self.downloads,
            file.url.clone(),
            &what,
            None,
            None,
            file.size,
        )
        .map_err(transport)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    return Err(transport(body.failure.take().unwrap_or_else(|| {
                        Error::new(format!("{what}: the download failed")).caused_by(e)
                    })))
                }
            };
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(|e| {
                let dest = dir.join(&file.filename);
                local(crate::disk::write_error(&dest, e, body.length()))
            })?;
        }
        let got = hex::encode(hasher.finalize());
        if got != want {
            // The temporary file is removed when `tmp` is dropped.
            return Err(distrust(Error::new(format!("{what}: the downloaded file does not match the index's hash"))
                .cause(format!("sha256 {got}, the index says {want}"))
                .hint("a proxy or mirror between the build and the index serves another file; try again, or check the mirror")));
        }
        tmp.flush()
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| {
                local(crate::disk::write_error(
                    &dir.join(&file.filename),
                    e,
                    body.length(),
                ))
            })?;
        if let Err(why) = check_wheel(tmp.as_file_mut(), &wheel) {
            return Err(distrust(Error::new(format!("{what}: the file the index lists under this name is not that wheel"))
                .cause(why)
                .hint("the index (or a mirror) lists another file under this name, with its hash: check the mirror")));
        }
        let dest = dir.join(&file.filename);
        tmp.persist(&dest).map_err(|e| {
            local(
                Error::new(format!("cannot move the download to {}", dest.display()))
                    .caused_by(e.error),
            )
        })?;
        Ok(dest)
    }
}

/// Why [`Index::download`] kept nothing.
#[derive(Debug)]
pub struct DownloadError {
    pub error: Error,
    pub kind: DownloadFailure,
}

/// What kind of failure a [`DownloadError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadFailure {
    /// The index (or something between) served another file than the one it lists (a wrong
    /// hash, another wheel): nothing from it is to be trusted for that package.
    Untrustworthy,
    /// The transfer failed (no answer, a broken connection, an error status): pip may fare
    /// better.
    Transfer,
    /// Writing here failed (a full disk): pip would fail the same way.
    Local,
}

impl std::fmt::Display for DownloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

/// The largest project page loci reads (the largest page of OpenStack's constraints on PyPI,
/// grpcio's, is about 5 MB): a bigger one is left to pip.
pub const PAGE_MAX: u64 = 32 << 20;
/// How long reading one project page may take, its retries included.
pub const PAGE_BUDGET: std::time::Duration = http::RETRY_BUDGET;

/// The body of a project page: at most [`PAGE_MAX`] bytes within [`PAGE_BUDGET`] of `started`
/// (every single read is bounded by the client's read timeout).
fn read_page(
    mut resp: reqwest::blocking::Response,
    started: std::time::Instant,
) -> std::result::Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if started.elapsed() > PAGE_BUDGET {
            return Err(format!(
                "the page did not arrive within {} ({} bytes so far)",
                crate::report::human(PAGE_BUDGET),
                body.len()
            ));
        }
        let n = match resp.read(&mut buf) {
            Ok(0) => return Ok(body),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(format!(
                    "the page broke off after {} bytes: {}",
                    body.len(),
                    http::chain(&e)
                ))
            }
        };
        if body.len() as u64 + n as u64 > PAGE_MAX {
            return Err(format!(
                "the page is larger than loci reads ({} MiB)",
                PAGE_MAX >> 20
            ));
        }
        body.extend_from_slice(&buf[..n]);
    }
}

/// A tiny index for tests, on 127.0.0.1: answers each GET of a path in `routes` with (status,
/// content type, body), anything else with 404; returns its base URL.
#[cfg(test)]
pub(crate) fn serve(routes: Vec<(String, u16, &'static str, Vec<u8>)>) -> String {
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).map(|n| n == 0).unwrap_or(true) || l == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            let (status, ctype, body) = routes
                .iter()
                .find(|r| r.0 == path)
                .map(|r| (r.1, r.2, r.3.clone()))
                .unwrap_or((404, "text/plain", b"not found".to_vec()));
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    base
}

#[cfg(test)]
#[path = "../../tests/support/wheel.rs"]
pub(crate) mod test_wheel;

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Tags {
        Tags::new(list.iter().map(|s| s.to_string()))
    }

    fn file(name: &str) -> File {
        File {
            filename: name.into(),
            url: Url::parse(&format!("https://files.example/{name}")).unwrap(),
            sha256: Some("0".repeat(64)),
            yanked: false,
            requires_python: None,
            size: None,
        }
    }

    #[test]
    fn wheel_names_with_compressed_tags_and_build_tags() {
        let w = WheelName::parse("six-1.17.0-py2.py3-none-any.whl").unwrap();
        assert_eq!((w.name.as_str(), w.version.as_str()), ("six", "1.17.0"));
        assert_eq!(w.build, None);
        assert_eq!(w.tags, ["py2-none-any", "py3-none-any"]);
        let w = WheelName::parse(
            "cffi-2.0.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        )
        .unwrap();
        assert_eq!(
            w.tags,
            [
                "cp311-cp311-manylinux2014_x86_64",
                "cp311-cp311-manylinux_2_17_x86_64"
            ]
        );
        let w = WheelName::parse("foo_bar-1.0-2b-cp311-abi3-linux_x86_64.whl").unwrap();
        assert_eq!(w.build.as_deref(), Some("2b"));
        assert_eq!(w.name, "foo_bar");
        for bad in [
            "six-1.17.0.tar.gz",
            "six-1.17.0-py3-none.whl",
            "foo-1.0-x1-py3-none-any.whl",
            "a-b-c-d-e-f-g.whl",
            "../six-1.17.0-py3-none-any.whl",
            "-1.0-py3-none-any.whl",
        ] {
            assert_eq!(WheelName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions_compare_as_wheel_names_write_them() {
        let w = WheelName::parse("PyYAML-6.0.3-cp311-cp311-manylinux_2_17_x86_64.whl").unwrap();
        assert!(w.is_version("6.0.3"));
        assert!(!w.is_version("6.0"));
        assert!(!w.is_version("6.0.3.post1"));
        let w = WheelName::parse("x-1.0RC1-py3-none-any.whl").unwrap();
        assert!(w.is_version("1.0rc1"));
        let w = WheelName::parse("x-1.0_1-py3-none-any.whl").unwrap();
        assert!(w.is_version("1.0-1"));
    }

    #[test]
    fn the_best_tag_wins_and_foreign_platforms_never() {
        let t = tags(&[
            "cp311-cp311-manylinux_2_36_x86_64",
            "cp311-cp311-manylinux_2_17_x86_64",
            "cp311-cp311-manylinux2014_x86_64",
            "cp311-abi3-manylinux_2_17_x86_64",
            "cp38-abi3-manylinux_2_17_x86_64",
            "py3-none-manylinux_2_17_x86_64",
            "cp311-none-any",
            "py3-none-any",
        ]);
        let files = vec![
            file("pkg-1.0-py3-none-any.whl"),
            file("pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"),
            file("pkg-1.0-cp311-cp311-musllinux_1_2_x86_64.whl"),
            file("pkg-1.0-cp311-cp311-win_amd64.whl"),
            file("pkg-1.0-cp311-cp311-macosx_11_0_arm64.whl"),
            file("pkg-1.0.tar.gz"),
        ];
        // abi3 beats none-any; musllinux, win and macos are not supported at all.
        let pick = |files: &[File], v: &str| {
            best_wheel(files, "pkg", v, &t, Some("3.11.7")).map(|f| f.filename.clone())
        };
        assert_eq!(
            pick(&files, "1.0").as_deref(),
            Some("pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.whl")
        );
        let mut more = files.clone();
        more.push(file(
            "pkg-1.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        ));
        assert_eq!(
            pick(&more, "1.0").as_deref(),
            Some("pkg-1.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"),
            "cp311 beats abi3"
        );
        // Only foreign platforms (and an sdist): none.
        assert_eq!(pick(&files[2..], "1.0"), None);
        // Another version, another project: none.
        assert_eq!(pick(&files, "1.0.1"), None);
        assert_eq!(best_wheel(&files, "other", "1.0", &t, Some("3.11.7")), None);
        // A build tag wins a tie.
        let built = vec![
            file("pkg-1.0-py3-none-any.whl"),
            file("pkg-1.0-2-py3-none-any.whl"),
            file("pkg-1.0-10-py3-none-any.whl"),
        ];
        assert_eq!(
            pick(&built, "1.0").as_deref(),
            Some("pkg-1.0-10-py3-none-any.whl")
        );
    }

    #[test]
    fn yanked_unhashed_and_too_new_python_files_are_not_chosen() {
        let t = tags(&["cp311-cp311-manylinux_2_17_x86_64", "py3-none-any"]);
        let mut best = file("pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl");
        best.yanked = true;
        let files = vec![best.clone(), file("pkg-1.0-py3-none-any.whl")];
        let pick = |files: &[File], py: Option<&str>| {
            best_wheel(files, "pkg", "1.0", &t, py).map(|f| f.filename.clone())
        };
        assert_eq!(
            pick(&files, Some("3.11.7")).as_deref(),
            Some("pkg-1.0-py3-none-any.whl")
        );
        // All yanked: an exact pin still gets the best of them, as with pip.
        let mut other = files[1].clone();
        other.yanked = true;
        assert_eq!(
            pick(&[best.clone(), other.clone()], Some("3.11.7")).as_deref(),
            Some("pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")
        );
        // ... unless an sdist of the version is not yanked: pip builds that.
        let sdist = file("pkg-1.0.tar.gz");
        assert_eq!(pick(&[best.clone(), other, sdist], Some("3.11.7")), None);
        best.yanked = false;
        best.sha256 = None;
        assert_eq!(
            pick(&[best.clone(), files[1].clone()], Some("3.11.7")),
            None,
            "pip's choice has nothing to check it against"
        );
        let mut newer = file("pkg-1.0-py3-none-any.whl");
        newer.requires_python = Some(">=3.12".into());
        assert_eq!(pick(&[newer.clone()], Some("3.11.7")), None);
        newer.requires_python = Some(">=3.9, !=3.10.*".into());
        assert!(pick(&[newer.clone()], Some("3.11.7")).is_some());
        // Unknown Python or an unreadable specifier: pip decides.
        assert_eq!(pick(&[newer.clone()], None), None);
        newer.requires_python = Some(">=3.9a1".into());
        assert_eq!(pick(&[newer], Some("3.11.7")), None);
    }

    #[test]
    fn the_sdist_size_of_a_version() {
        let mut files = vec![
            file("krb5-0.9.0.tar.gz"),
            file("krb5-0.8.0.tar.gz"),
            file("krb5-0.9.0-cp311-cp311-win_amd64.whl"),
        ];
        files[0].size = Some(236_761);
        files[1].size = Some(9);
        files[2].size = Some(1_000_000);
        assert_eq!(sdist_size(&files, "0.9.0"), Some(236_761));
        assert_eq!(sdist_size(&files, "1.0"), None);
    }

    #[test]
    fn requires_python_clauses() {
        let ok = |s: &str| requires_python(s, "3.11.7");
        assert_eq!(ok(">=3.9"), Some(true));
        assert_eq!(ok(">=3.12"), Some(false));
        assert_eq!(ok(">=3.8,<4"), Some(true));
        assert_eq!(ok("!=3.11.*"), Some(false));
        assert_eq!(ok("==3.11.*"), Some(true));
        assert_eq!(ok("==3.11"), Some(false));
        assert_eq!(ok("~=3.8"), Some(true));
        assert_eq!(ok("~=3.8.1"), Some(false));
        assert_eq!(ok(">2.7, !=3.0.*, !=3.1.*"), Some(true));
        assert_eq!(ok("<=3.11.7"), Some(true));
        assert_eq!(ok(">3.11.7"), Some(false));
        assert_eq!(ok("===3.11.7"), None);
        assert_eq!(ok("3.11"), None);
    }

    #[test]
    fn a_real_pep_691_page_is_read_with_relative_urls_resolved() {
        let page = Url::parse("https://pypi.org/simple/cffi/").unwrap();
        let body = include_str!("../../tests/fixtures/pypi/cffi.json");
        let files = parse_page(body, &page).unwrap();
        assert_eq!(files.len(), 50);
        let sdist = files
            .iter()
            .find(|f| f.filename == "cffi-2.0.0.tar.gz")
            .unwrap();
        assert_eq!(sdist.requires_python.as_deref(), Some(">=3.9"));
        assert!(sdist
            .url
            .as_str()
            .starts_with("https://files.pythonhosted.org/"));
        assert!(!sdist.yanked);
        // The target of this machine's pip 26.3 (cp311, manylinux x86_64).
        let debug = include_str!("../../tests/fixtures/pypi/pip-debug-verbose-26.3.txt");
        let t = Tags::new(
            debug
                .lines()
                .skip_while(|l| !l.starts_with("Compatible tags:"))
                .skip(1)
                .map(|l| l.trim().to_string()),
        );
        assert_eq!(
            best_wheel(&files, "CFFI", "2.0.0", &t, Some("3.11.7")).map(|f| f.filename.as_str()),
            Some("cffi-2.0.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
        );
        // The beta's files are of another version.
        assert_eq!(
            best_wheel(&files, "cffi", "2.0.0b2", &t, Some("3.11.7")),
            None
        );
        let six = parse_page(
            include_str!("../../tests/fixtures/pypi/six.json"),
            &Url::parse("https://pypi.org/simple/six/").unwrap(),
        )
        .unwrap();
        assert_eq!(
            best_wheel(&six, "six", "1.17.0", &t, Some("3.11.7")).map(|f| f.filename.as_str()),
            Some("six-1.17.0-py2.py3-none-any.whl")
        );
        // A relative URL and a yanked reason.
        let body = r#"{"meta":{"api-version":"1.1"},"name":"x","files":[
            {"filename":"x-1-py3-none-any.whl","url":"../../files/x-1-py3-none-any.whl#sha256=ab",
             "hashes":{"sha256":"AB00000000000000000000000000000000000000000000000000000000000000"},"yanked":"broken"}]}"#;
        let files = parse_page(
            body,
            &Url::parse("http://127.0.0.1:8080/simple/x/").unwrap(),
        )
        .unwrap();
        assert_eq!(
            files[0].url.as_str(),
            "http://127.0.0.1:8080/files/x-1-py3-none-any.whl#sha256=ab"
        );
        assert!(files[0].yanked);
        assert_eq!(
            files[0].sha256.as_deref(),
            Some("ab00000000000000000000000000000000000000000000000000000000000000")
        );
        assert!(parse_page("<html></html>", &page).is_err());
        assert!(
            parse_page(r#"{"meta":{"api-version":"2.0"},"files":[]}"#, &page)
                .unwrap_err()
                .contains("2.0")
        );
    }

    #[test]
    fn a_local_index_serves_pages_and_verified_downloads() {
        let wheel = super::test_wheel::wheel("demo", "1.0");
        let good = hex::encode(Sha256::digest(&wheel));
        let bad = "0".repeat(64);
        let page = |hash: &str, name: &str| {
            format!(
                r#"{{"meta":{{"api-version":"1.0"}},"name":"{name}","files":[
                {{"filename":"demo-1.0-py3-none-any.whl","url":"../../files/demo-1.0-py3-none-any.whl","hashes":{{"sha256":"{hash}"}}}},
                {{"filename":"demo-1.0.tar.gz","url":"/files/demo-1.0.tar.gz","hashes":{{}}}}]}}"#
            )
            .into_bytes()
        };
        let json = "application/vnd.pypi.simple.v1+json";
        let base = serve(vec![
            ("/simple/demo/".into(), 200, json, page(&good, "demo")),
            (
                "/simple/tampered/".into(),
                200,
                json,
                page(&bad, "tampered"),
            ),
            // Another project's page for this one.
            ("/simple/impostor/".into(), 200, json, page(&good, "demo")),
            (
                "/simple/legacy/".into(),
                200,
                "text/html",
                b"<html><a href=\"x-1.whl\">x</a></html>".to_vec(),
            ),
            (
                "/files/demo-1.0-py3-none-any.whl".into(),
                200,
                "application/octet-stream",
                wheel.clone(),
            ),
        ]);
        let index = Index::new(&format!("{base}/simple"), &TlsConfig::default()).unwrap();
        let Page::Files(files) = index.project("Demo").unwrap() else {
            panic!("a PEP 691 page")
        };
        assert_eq!(
            files[0].url.as_str(),
            format!("{base}/files/demo-1.0-py3-none-any.whl"),
            "resolved against the page's URL"
        );
        let t = tags(&["py3-none-any"]);
        let chosen = best_wheel(&files, "demo", "1.0", &t, Some("3.11.7")).unwrap();
        let d = tempfile::tempdir().unwrap();
        let path = index.download(chosen, d.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), wheel);
        assert_eq!(path, d.path().join("demo-1.0-py3-none-any.whl"));

        // A wrong hash fails, names both hashes, and leaves nothing behind.
        let Page::Files(files) = index.project("tampered").unwrap() else {
            panic!()
        };
        let d2 = tempfile::tempdir().unwrap();
        let e = index
            .download(&files[0], d2.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("demo-1.0-py3-none-any.whl") && e.contains(&good) && e.contains(&bad),
            "{e}"
        );
        assert!(e.contains(&format!("{base}/files/")), "{e}");
        assert_eq!(
            std::fs::read_dir(d2.path()).unwrap().count(),
            0,
            "no file left"
        );

        // The page of another project: not read.
        assert!(
            matches!(index.project("impostor").unwrap(), Page::NotSupported(why) if why.contains("the page asked for impostor is the page of demo")),
        );

        // An HTML index and a missing project are answers too: left to pip.
        assert!(
            matches!(index.project("legacy").unwrap(), Page::NotSupported(why) if why.contains("text/html"))
        );
        assert_eq!(index.project("nowhere").unwrap(), Page::NotFound);
        // A missing file is an error naming it.
        let mut gone = files[0].clone();
        gone.url = Url::parse(&format!("{base}/files/gone.whl")).unwrap();
        let e = index.download(&gone, d2.path()).unwrap_err().to_string();
        assert!(e.contains("404") && e.contains("gone.whl"), "{e}");
        assert_eq!(
            std::fs::read_dir(d2.path()).unwrap().count(),
            0,
            "no file left"
        );
    }

    #[test]
    fn credentials_are_not_shown() {
        let u = Url::parse("https://user:secret@mirror.example/simple/").unwrap();
        assert_eq!(redacted(&u), "https://***@mirror.example/simple/");
    }
}
