//! The requirements prefetch (its PEP 691 client) against an index that lies, breaks off or
//! floods: a real HTTP server on 127.0.0.1 answers each project in its own hostile way, and the
//! prefetch (KEEP_ALL_WHEELS=True: it downloads) must keep no wrong wheel, leave each such
//! project to pip with one log line or fail it by name, leave no partial file, and finish
//! within the HTTP time budget.

#[path = "support/listing.rs"]
mod listing;
#[path = "support/wheel.rs"]
mod wheel;
use listing::listing;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loci::http::TlsConfig;
use loci::pypi::Index;
use loci::steps::requirements::prefetch::{self, Target};
use loci::steps::requirements::BuildItem;
use sha2::{Digest, Sha256};

/// How the server answers one request.
enum Answer {
    /// A whole answer.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Announces all of `body`, sends `body[..cut]`, then closes the connection or, with
    /// `stall`, keeps it open and silent.
    Cut {
        body: Vec<u8>,
        cut: usize,
        stall: bool,
    },
    /// `head`, then `total` bytes in all, without a Content-Length, then closes.
    Flood { head: Vec<u8>, total: usize },
}

struct Request {
    path: String,
    range_from: Option<usize>,
}

fn json(body: Vec<u8>) -> Answer {
    Answer::Full {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            "application/vnd.pypi.simple.v1+json".into(),
        )],
        body,
    }
}

fn redirect(to: String) -> Answer {
    Answer::Full {
        status: 302,
        headers: vec![("Location".into(), to)],
        body: Vec::new(),
    }
}

fn not_found() -> Answer {
    Answer::Full {
        status: 404,
        headers: vec![],
        body: b"not found".to_vec(),
    }
}

type Route = dyn Fn(&Request) -> Answer + Send + Sync;

/// Serves `route` on 127.0.0.1 (one thread per connection); its port.
fn serve(route: Arc<Route>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { break };
            let route = route.clone();
            std::thread::spawn(move || answer(conn, &*route));
        }
    });
    port
}

fn answer(mut conn: TcpStream, route: &Route) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut range_from = None;
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).map(|n| n == 0).unwrap_or(true) || l == "\r\n" {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("range: bytes=") {
            range_from = v.trim().trim_end_matches('-').parse().ok();
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    let req = Request { path, range_from };
    let status_line = |code: u16| format!("HTTP/1.1 {code} X\r\nConnection: close\r\n");
    match route(&req) {
        Answer::Full {
            status,
            headers,
            body,
        } => {
            let mut head = status_line(status);
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
        Answer::Cut { body, cut, stall } => {
            let head = format!(
                "{}Content-Type: application/vnd.pypi.simple.v1+json\r\nContent-Length: {}\r\n\r\n",
                status_line(200),
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body[..cut]);
            let _ = conn.flush();
            if stall {
                std::thread::sleep(Duration::from_secs(600));
            }
        }
        Answer::Flood { head, total } => {
            let h = format!(
                "{}Content-Type: application/vnd.pypi.simple.v1+json\r\n\r\n",
                status_line(200)
            );
            let _ = conn.write_all(h.as_bytes());
            let _ = conn.write_all(&head);
            let chunk = vec![b' '; 1 << 20];
            let mut sent = head.len();
            while sent < total {
                let n = chunk.len().min(total - sent);
                if conn.write_all(&chunk[..n]).is_err() {
                    return;
                }
                sent += n;
            }
        }
    }
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A PEP 691 page of `name` listing `files` (file name, URL, sha256).
fn page(name: &str, files: &[(&str, &str, &str)]) -> Vec<u8> {
    let files: Vec<String> = files
        .iter()
        .map(|(f, u, h)| format!(r#"{{"filename":"{f}","url":"{u}","hashes":{{"sha256":"{h}"}}}}"#))
        .collect();
    format!(
        r#"{{"meta":{{"api-version":"1.1"}},"name":"{name}","files":[{}]}}"#,
        files.join(",")
    )
    .into_bytes()
}

/// The page of `name` listing its one wheel, `name-1.0-py3-none-any.whl` at /files/, with the
/// hash of `content`.
fn wheel_page(name: &str, content: &[u8]) -> Vec<u8> {
    let file = format!("{name}-1.0-py3-none-any.whl");
    page(name, &[(&file, &format!("/files/{file}"), &sha(content))])
}

fn target() -> Target {
    Target {
        tags: vec!["py3-none-any".into()],
        python: Some("3.11.7".into()),
    }
}

fn items(names: &[&str]) -> Vec<BuildItem> {
    names
        .iter()
        .map(|n| BuildItem {
            name: n.to_string(),
            requirement: format!("{n}===1.0"),
        })
        .collect()
}

/// The index with short timeouts, so that a stalling server costs seconds, not minutes.
fn index(port: u16) -> Index {
    let tls = TlsConfig {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        ..TlsConfig::default()
    };
    Index::new(&format!("http://127.0.0.1:{port}/simple/"), &tls).unwrap()
}

#[test]
fn every_hostile_answer_keeps_no_wrong_wheel() {
    let good = wheel::wheel("good", "1.0");
    let moved = wheel::wheel("moved", "1.0");
    let resumed = wheel::wheel("resumed", "1.0");
    let other = wheel::wheel("other", "1.0");
    let port_cell = Arc::new(std::sync::OnceLock::<u16>::new());
    let port_for_route = port_cell.clone();
    let route: Arc<Route> = Arc::new(move |req: &Request| {
        let port = *port_for_route.get().unwrap();
        let elsewhere = |path: &str| format!("http://localhost:{port}{path}");
        let p = req.path.as_str();
        match p {
            "/simple/good/" => json(wheel_page("good", &good)),
            "/files/good-1.0-py3-none-any.whl" => Answer::Full {
                status: 200,
                headers: vec![],
                body: good.clone(),
            },
            // A wheel whose sha256 differs from the index's.
            "/simple/tampered/" => json(page(
                "tampered",
                &[(
                    "tampered-1.0-py3-none-any.whl",
                    "/files/good-1.0-py3-none-any.whl",
                    &"1".repeat(64),
                )],
            )),
            // A page that breaks off (the connection closes before its announced length).
            "/simple/truncated/" => {
                let body = wheel_page("truncated", &good);
                let cut = body.len() / 2;
                Answer::Cut {
                    body,
                    cut,
                    stall: false,
                }
            }
            // A whole answer holding half a JSON page.
            "/simple/halfjson/" => {
                let body = wheel_page("halfjson", &good);
                json(body[..body.len() / 2].to_vec())
            }
            // A page that stops mid-body and stays silent.
            "/simple/stalled/" => {
                let body = wheel_page("stalled", &good);
                let cut = body.len() / 2;
                Answer::Cut {
                    body,
                    cut,
                    stall: true,
                }
            }
            // 50 MB of JSON page, without a length.
            "/simple/flood/" => Answer::Flood {
                head: br#"{"meta":{"api-version":"1.1"},"name":"flood","files":[],"x":""#.to_vec(),
                total: 50 << 20,
            },
            // 50 MB announced.
            "/simple/announced/" => Answer::Cut {
                body: vec![b' '; 50 << 20],
                cut: 0,
                stall: false,
            },
            // The page of another project.
            "/simple/impostor/" => json(wheel_page("good", &good)),
            // A page listing only a file of another project.
            "/simple/foreign/" => json(page(
                "foreign",
                &[(
                    "other-1.0-py3-none-any.whl",
                    "/files/other-1.0-py3-none-any.whl",
                    &sha(&other),
                )],
            )),
            // A page listing another project's wheel under this project's name, its hash
            // matching.
            "/simple/liar/" => json(page(
                "liar",
                &[(
                    "liar-1.0-py3-none-any.whl",
                    "/files/other-1.0-py3-none-any.whl",
                    &sha(&other),
                )],
            )),
            "/files/other-1.0-py3-none-any.whl" => Answer::Full {
                status: 200,
                headers: vec![],
                body: other.clone(),
            },
            // The page redirects to another host.
            "/simple/redirected/" => redirect(elsewhere("/simple/good/")),
            // The wheel redirects to another host, which serves it: verified, kept.
            "/simple/moved/" => json(wheel_page("moved", &moved)),
            "/files/moved-1.0-py3-none-any.whl" => redirect(elsewhere("/elsewhere/moved.whl")),
            "/elsewhere/moved.whl" => Answer::Full {
                status: 200,
                headers: vec![],
                body: moved.clone(),
            },
            // The wheel redirects to another host, which serves another file.
            "/simple/hijacked/" => json(wheel_page("hijacked", &good)),
            "/files/hijacked-1.0-py3-none-any.whl" => {
                redirect(elsewhere("/files/other-1.0-py3-none-any.whl"))
            }
            // The wheel stops mid-body once; resumed with a range, verified, kept.
            "/simple/resumed/" => json(wheel_page("resumed", &resumed)),
            "/files/resumed-1.0-py3-none-any.whl" => match req.range_from {
                None => Answer::Cut {
                    body: resumed.clone(),
                    cut: resumed.len() / 2,
                    stall: false,
                },
                Some(from) => Answer::Full {
                    status: 206,
                    headers: vec![(
                        "Content-Range".into(),
                        format!("bytes {from}-{}/{}", resumed.len() - 1, resumed.len()),
                    )],
                    body: resumed[from..].to_vec(),
                },
            },
            _ => not_found(),
        }
    });
    let port = serve(route);
    port_cell.set(port).unwrap();
    let index = index(port);
    let root = tempfile::tempdir().unwrap();
    let list = items(&[
        "good",
        "tampered",
        "truncated",
        "halfjson",
        "stalled",
        "flood",
        "announced",
        "impostor",
        "foreign",
        "liar",
        "redirected",
        "moved",
        "hijacked",
        "resumed",
    ]);
    let started = Instant::now();
    let (out, said) =
        loci::report::capture(|| prefetch::prefetch(&index, &target(), Some(root.path()), 4, list));
    let took = started.elapsed();
    let out = out.unwrap_or_else(|(why, _)| panic!("the prefetch was turned off: {why}"));

    // Kept: only the wheels that are what the index says, byte for byte.
    let mut covered: Vec<&str> = out.covered.iter().map(|(i, _)| i.name.as_str()).collect();
    covered.sort();
    assert_eq!(covered, ["good", "moved", "resumed"]);
    assert_eq!(
        listing(root.path()),
        [
            "good-1.0-py3-none-any.whl",
            "moved-1.0-py3-none-any.whl",
            "resumed-1.0-py3-none-any.whl"
        ],
        "no other file, no partial download"
    );
    for (name, want) in [
        ("good", &wheel::wheel("good", "1.0")),
        ("moved", &wheel::wheel("moved", "1.0")),
        ("resumed", &wheel::wheel("resumed", "1.0")),
    ] {
        let got = std::fs::read(root.path().join(format!("{name}-1.0-py3-none-any.whl"))).unwrap();
        assert_eq!(&got, want, "{name}");
    }

    // Failed, by name: the index served another file than it lists.
    let mut failed: Vec<(&str, &str)> = out
        .failures
        .iter()
        .map(|r| (r.item.name.as_str(), r.log.as_str()))
        .collect();
    failed.sort();
    let names: Vec<&str> = failed.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["hijacked", "liar", "tampered"]);
    assert!(
        failed[0].1.contains("does not match the index's hash"),
        "{}",
        failed[0].1
    );
    assert!(
        failed[1].1.contains("is not that wheel")
            && failed[1].1.contains("other-1.0.dist-info, not liar-1.0"),
        "{}",
        failed[1].1
    );
    assert!(
        failed[2].1.contains("does not match the index's hash"),
        "{}",
        failed[2].1
    );
    let e = loci::steps::requirements::failures_error(&out.failures, "wheels", root.path())
        .unwrap()
        .to_string();
    assert!(e.contains("tampered===1.0 (download failed)"), "{e}");

    // Left to pip, each with one line saying why.
    let mut rest: Vec<&str> = out.rest.iter().map(|i| i.name.as_str()).collect();
    rest.sort();
    assert_eq!(
        rest,
        [
            "announced",
            "flood",
            "foreign",
            "halfjson",
            "impostor",
            "redirected",
            "stalled",
            "truncated"
        ]
    );
    for (name, why) in [
        ("truncated", "the page broke off"),
        ("halfjson", "not a PEP 691 project page"),
        ("stalled", "the page broke off"),
        ("flood", "larger than loci reads (32 MiB)"),
        ("announced", "the page is 50 MiB, more than loci reads"),
        (
            "impostor",
            "the page asked for impostor is the page of good",
        ),
        ("redirected", "redirects"),
    ] {
        let lines: Vec<&String> = said
            .iter()
            .filter(|l| l.starts_with(&format!("prefetch: {name}===1.0 left to pip wheel: ")))
            .collect();
        assert_eq!(lines.len(), 1, "{name}: {said:#?}");
        assert!(lines[0].contains(why), "{name}: {}", lines[0]);
    }
    assert!(
        said.iter()
            .any(|l| l.contains("localhost") && l.contains("another host")),
        "{said:#?}"
    );
    // foreign has no wheel of its own: pip builds it, nothing to say.
    assert!(!said.iter().any(|l| l.contains("foreign")), "{said:#?}");

    // Within the HTTP budget: the stalled page costs one read timeout (2 s here).
    assert!(took < Duration::from_secs(30), "{took:?}");
}

/// A wheel download that keeps breaking off at the same byte: given up within the HTTP retry
/// budget, left to pip (the transfer failed, the index did not lie), no partial file.
#[test]
fn a_download_that_keeps_breaking_off_is_left_to_pip_within_the_budget() {
    let wheel = wheel::wheel("broken", "1.0");
    let w = wheel.clone();
    let route: Arc<Route> = Arc::new(move |req: &Request| match req.path.as_str() {
        "/simple/broken/" => json(wheel_page("broken", &w)),
        "/files/broken-1.0-py3-none-any.whl" => Answer::Cut {
            body: w.clone(),
            cut: w.len() / 2,
            stall: false,
        },
        _ => not_found(),
    });
    let port = serve(route);
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (out, said) = loci::report::capture(|| {
        prefetch::prefetch(
            &index(port),
            &target(),
            Some(root.path()),
            1,
            items(&["broken"]),
        )
    });
    let took = started.elapsed();
    // The first lookup failing in transfer turns the prefetch off: everything to pip.
    let (why, back) = out.expect_err("the only download failed");
    assert!(
        why.contains("the download failed") && why.contains("kept breaking off"),
        "{why}"
    );
    assert_eq!(back.len(), 1);
    assert!(said.is_empty(), "{said:?}");
    assert_eq!(
        listing(root.path()),
        Vec::<String>::new(),
        "no partial file"
    );
    assert!(
        took < loci::http::RETRY_BUDGET + Duration::from_secs(15),
        "{took:?}"
    );
}

/// The prefetch's download into a wheels directory on a full disk (a real 1 MiB tmpfs,
/// mounted as root): the package fails by name with the space seen, and no partial file is
/// left.
#[test]
fn a_full_disk_during_a_prefetch_download_fails_the_package_and_leaves_nothing() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test mounts a tmpfs: run it as root (sudo tests/run.sh)"
    );
    let big = wheel::zip(&[
        ("big/data.bin", &wheel::noise(3 << 20, 9)),
        (
            "big-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\n",
        ),
    ]);
    let w = big.clone();
    let route: Arc<Route> = Arc::new(move |req: &Request| match req.path.as_str() {
        "/simple/big/" => json(wheel_page("big", &w)),
        "/files/big-1.0-py3-none-any.whl" => Answer::Full {
            status: 200,
            headers: vec![],
            body: w.clone(),
        },
        _ => not_found(),
    });
    let port = serve(route);
    let mnt = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(mnt.path())
        .status()
        .expect("mount (util-linux) is needed");
    assert!(mounted.success(), "mount -t tmpfs failed");
    let (out, _) = loci::report::capture(|| {
        prefetch::prefetch(
            &index(port),
            &target(),
            Some(mnt.path()),
            1,
            items(&["big"]),
        )
    });
    let left = listing(mnt.path());
    let _ = std::process::Command::new("umount")
        .arg(mnt.path())
        .status();
    let out = out.unwrap_or_else(|(why, _)| panic!("the prefetch was turned off: {why}"));
    assert!(out.covered.is_empty());
    assert_eq!(out.failures.len(), 1);
    let log = &out.failures[0].log;
    assert!(log.contains("the disk is full"), "{log}");
    assert!(
        log.contains(&format!(
            "free on the filesystem of {}",
            mnt.path().display()
        )),
        "{log}"
    );
    assert!(log.contains("needed"), "{log}");
    assert_eq!(left, Vec::<String>::new(), "no partial download");
}
