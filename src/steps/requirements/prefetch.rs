//! The prefetch of a requirements build (REQUIREMENTS_PREFETCH): most constraints have a
//! binary wheel for the target on the index, and a `pip wheel` that only downloads it costs
//! about two seconds of CPU (pip's start-up and resolution). So before the `pip wheel` pool,
//! every plain pin (`name===version`, no markers, no extras) is looked up on pip's index
//! through its PEP 691 JSON API ([`crate::pypi`]), and the wheel pip would pick for the
//! target (its tags from `pip debug --verbose`) is
//!
//! - with KEEP_ALL_WHEELS=False (LOCI's default), not fetched at all: LOCI keeps only the
//!   wheels pip built and drops the ones it downloaded, so the image is the same without them;
//! - with KEEP_ALL_WHEELS=True, downloaded into the root, verified against the index's sha256.
//!   Afterwards one offline `pip install --dry-run` checks that the dependency closure of
//!   those wheels is in the root, and when it is not, one `pip wheel` of them all fetches
//!   what is missing ([`super::closure`]).
//!
//! Everything else (markers, extras, no compatible wheel, yanked, an index without the JSON
//! API, a project the index does not know) goes to the `pip wheel` pool as before. The
//! prefetch is off, for the whole build, when pip would not choose its files from that one
//! index in the usual way: extra indexes, find-links, no-index, binary preferences,
//! another platform, pre-releases ([`pip_index`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::pool::Beside;
use super::reuse::WheelCache;
use super::{BuildItem, BuildResult, WheelsSpec};
use crate::config::parse_bool;
use crate::error::Error;
use crate::plan::Cmd;
use crate::pypi::{self, Index, Page, Tags};
use crate::runner::Runner;

/// The fewest lookups run at once: they wait on the network, not on the CPU.
pub const MIN_THREADS: usize = 16;

/// pip options (long names, as in pip's configuration) under which pip may choose another
/// file than the prefetch would: with any of them set, nothing is prefetched.
pub const BLOCKERS: &[&str] = &[
    "extra-index-url",
    "find-links",
    "no-index",
    "only-binary",
    "no-binary",
    "prefer-binary",
    "platform",
    "python-version",
    "abi",
    "implementation",
    "pre",
];

/// The boolean ones of [`BLOCKERS`]: set to a false value, they are not set.
const FLAGS: &[&str] = &["no-index", "prefer-binary", "pre"];

/// What pip runs for: its supported tags, best first, and its Python version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tags: Vec<String>,
    pub python: Option<String>,
}

/// Reads `pip debug --verbose`: `sys.version: 3.11.7 (...)` and the `Compatible tags: N`
/// list (indented, best first). `None` without the list, or when it is not all there.
pub fn parse_pip_debug(text: &str) -> Option<Target> {
    let python = text
        .lines()
        .find_map(|l| l.strip_prefix("sys.version:"))
        .and_then(|v| v.split_whitespace().next())
        .map(String::from);
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("Compatible tags:"));
    let count: usize = lines
        .next()?
        .strip_prefix("Compatible tags:")?
        .trim()
        .parse()
        .ok()?;
    let tags: Vec<String> = lines
        .take_while(|l| l.starts_with(char::is_whitespace))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace) && t.split('-').count() == 3)
        .map(String::from)
        .collect();
    (count > 0 && tags.len() == count).then_some(Target { tags, python })
}

/// pip's settings for `pip wheel` from `pip config list` (`section.key='value'` lines): the
/// sections `global`, `wheel` and `:env:` (the PIP_* variables), each overriding the one
/// before; keys with `_` spelled `-`; empty values left out.
pub fn parse_pip_config(text: &str) -> BTreeMap<String, String> {
    let rank = |section: &str| match section {
        "global" => Some(0),
        "wheel" => Some(1),
        ":env:" => Some(2),
        _ => None,
    };
    let mut found: Vec<(u8, String, String)> = Vec::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let Some((section, key)) = name.trim().split_once('.') else {
            continue;
        };
        let Some(r) = rank(section) else { continue };
        let value = value.trim();
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
            .unwrap_or(value)
            .trim();
        if value.is_empty() {
            continue;
        }
        found.push((
            r,
            key.to_ascii_lowercase().replace('_', "-"),
            value.to_string(),
        ));
    }
    // Stable: within a section, the later line (a later file) wins.
    found.sort_by_key(|(r, _, _)| *r);
    found.into_iter().map(|(_, k, v)| (k, v)).collect()
}

/// What PIP_WHEEL_ARGS says about the index: `Ok(Some(url))` for `--index-url`/`-i`,
/// `Ok(None)` for nothing, `Err(why)` when an option of [`BLOCKERS`] is there.
pub fn args_index(args: &[String]) -> std::result::Result<Option<String>, String> {
    let mut index = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (a, None),
        };
        if name == "--index-url" || name == "-i" {
            let v = inline
                .map(String::from)
                .or_else(|| args.get(i + 1).cloned());
            if inline.is_none() {
                i += 1;
            }
            index = Some(v.ok_or("PIP_WHEEL_ARGS has --index-url without a URL")?);
        } else if let Some(v) = a
            .strip_prefix("-i")
            .filter(|v| !v.is_empty() && !a.starts_with("--"))
        {
            index = Some(v.to_string());
        } else if name == "-f" || (a.starts_with("-f") && !a.starts_with("--")) {
            return Err("PIP_WHEEL_ARGS has -f (find-links)".into());
        } else if let Some(long) = name.strip_prefix("--") {
            if BLOCKERS.contains(&long) {
                return Err(format!("PIP_WHEEL_ARGS has --{long}"));
            }
        }
        i += 1;
    }
    Ok(index)
}

/// The index pip uses for `pip wheel` and where that comes from, or why nothing is
/// prefetched: PIP_WHEEL_ARGS' `--index-url` wins over pip's configuration's `index-url`,
/// which wins over PyPI.
pub fn pip_index(
    config: &BTreeMap<String, String>,
    wheel_args: &[String],
) -> std::result::Result<(String, &'static str), String> {
    let from_args = args_index(wheel_args)?;
    for key in BLOCKERS {
        if let Some(v) = config.get(*key) {
            if FLAGS.contains(key) && parse_bool(v) == Some(false) {
                continue;
            }
            return Err(format!(
                "pip's configuration sets {key} (`pip config list`: PIP_{} or pip.conf)",
                key.to_ascii_uppercase().replace('-', "_")
            ));
        }
    }
    Ok(match (from_args, config.get("index-url")) {
        (Some(url), _) => (url, "--index-url in PIP_WHEEL_ARGS"),
        (None, Some(url)) => (url.clone(), "index-url in pip's configuration"),
        (None, None) => (pypi::PYPI.to_string(), "pip's default"),
    })
}

/// The name and version of a plain pin (`name===version` or `name==version`: no markers,
/// extras, wildcards, URLs or comments), which the prefetch can look up; `None` for the rest.
pub fn pinned(requirement: &str) -> Option<(&str, &str)> {
    let r = requirement.trim();
    let (name, version) = r.split_once("===").or_else(|| r.split_once("=="))?;
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    let version_ok = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+!_-".contains(c));
    (name_ok && version_ok).then_some((name, version))
}

/// What became of the constraints.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Left to the `pip wheel` pool.
    pub rest: Vec<BuildItem>,
    /// Covered by a binary wheel of the index: (item, the wheel's file name).
    pub covered: Vec<(BuildItem, String)>,
    /// Failed downloads, shaped as failed builds (reported with them at the end).
    pub failures: Vec<BuildResult>,
}

/// What became of one constraint.
enum One {
    Covered(String),
    /// No wheel of the pinned version for the target: pip builds it (its sdist's size, when
    /// the index gives it).
    NoWheel(Option<u64>),
    /// The index does not know the project: pip says what it makes of that.
    NotFound,
    /// The index could not be asked, or answered something loci does not read (why).
    Unusable(String),
    Failed(Error),
}

/// Runs the prefetch for `items` (see the module documentation); never fails the build by
/// itself: when it cannot run, every item goes to pip, with one line saying why.
pub fn run(
    spec: &WheelsSpec,
    runner: &mut dyn Runner,
    tls: &crate::http::TlsConfig,
    items: Vec<BuildItem>,
) -> Outcome {
    run_cached(spec, runner, tls, items, None, None).out
}

/// pip's settings (`pip config list`) and target (`pip debug --verbose`), asked beside each
/// other and the rest of the step (each is a Python start-up, a second or so on a busy
/// machine), for [`run_cached`].
pub struct PipAnswers {
    pub config: Beside,
    pub debug: Beside,
}

impl PipAnswers {
    /// Starts both questions to `pip` with the environment `env` added (the runner's).
    pub fn ask(pip: &str, env: &[(String, String)]) -> PipAnswers {
        PipAnswers {
            config: Beside::start(&Cmd::new(pip, ["config", "list"]), env),
            debug: Beside::start(&Cmd::new(pip, ["debug", "--verbose"]), env),
        }
    }
}

/// What [`run_cached`] did.
#[derive(Default)]
pub struct Prefetched {
    pub out: Outcome,
    /// The index and the target it used, when it ran.
    pub looked: Option<(Index, Target)>,
    /// pip's version as `pip debug --verbose` gives it (`pip 26.3 from ...`), when it ran.
    pub pip_version: Option<String>,
}

/// The `pip version:` line of `pip debug --verbose`: `pip 26.3 from ... (python 3.11)`, as
/// `pip --version` prints it.
pub fn pip_version_of_debug(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("pip version:"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// [`run`], downloads taken from and kept in `cache` (KEEP_ALL_WHEELS=True); also gives back
/// the index and the target it used, and pip's version, when it ran.
pub fn run_cached(
    spec: &WheelsSpec,
    runner: &mut dyn Runner,
    tls: &crate::http::TlsConfig,
    items: Vec<BuildItem>,
    cache: Option<&WheelCache>,
    answers: Option<PipAnswers>,
) -> Prefetched {
    let off = |why: String, items: Vec<BuildItem>| {
        crate::say!("prefetch off: {why}; every constraint goes to pip wheel");
        Prefetched {
            out: Outcome {
                rest: items,
                ..Outcome::default()
            },
            ..Prefetched::default()
        }
    };
    if !spec.prefetch {
        return off("REQUIREMENTS_PREFETCH=False".into(), items);
    }
    let pip = &spec.pip.pip;
    let probing = Instant::now();
    // Asked already (beside each other), else now, one after the other.
    let (asked_config, asked_debug) = match answers {
        Some(a) => (Some(a.config.wait().0), Some(a.debug.wait().0)),
        None => (None, None),
    };
    let config_answer =
        asked_config.unwrap_or_else(|| runner.output(&Cmd::new(pip.clone(), ["config", "list"])));
    let config = match config_answer {
        Ok(text) => parse_pip_config(&text),
        Err(e) => return off(format!("`{pip} config list` failed ({})", e.what), items),
    };
    let (url, source) = match pip_index(&config, &spec.pip.args) {
        Ok(x) => x,
        Err(why) => return off(why, items),
    };
    let debug_answer = asked_debug
        .unwrap_or_else(|| runner.output(&Cmd::new(pip.clone(), ["debug", "--verbose"])));
    let (target, pip_version) = match debug_answer {
        Ok(text) => match parse_pip_debug(&text) {
            Some(t) => (t, pip_version_of_debug(&text)),
            None => {
                return off(
                    format!("`{pip} debug --verbose` lists no compatible tags that loci can read"),
                    items,
                )
            }
        },
        Err(e) => {
            return off(
                format!("`{pip} debug --verbose` failed ({})", e.what),
                items,
            )
        }
    };
    let index = match Index::new(&url, tls) {
        Ok(i) => i,
        Err(e) => return off(e.to_string(), items),
    };
    let dest = spec.keep_all.then_some(spec.root.as_path());
    let threads = spec.jobs.max(MIN_THREADS);
    crate::say!(
        "prefetch: looking up the pinned constraints on {} ({source}, PEP 691), {threads} at once, for {} ({} tags; \
         pip's settings and tags read in {}: `pip config list`, `pip debug --verbose`)",
        index.display(),
        target.python.as_deref().map(|v| format!("Python {v}")).unwrap_or_else(|| "this Python".into()),
        target.tags.len(),
        crate::report::human(probing.elapsed())
    );
    let started = Instant::now();
    let out = prefetch_cached(&index, &target, dest, cache, threads, items);
    match out {
        Ok(out) => {
            summarize(spec, &out, started);
            Prefetched {
                out,
                looked: Some((index, target)),
                pip_version,
            }
        }
        Err((why, items)) => Prefetched {
            pip_version,
            ..off(why, items)
        },
    }
}

/// Looks up (and, with `dest`, downloads) every pinned item, `threads` at once. The first
/// lookup runs alone: when the index cannot be asked at all (a transport error, no JSON API),
/// `Err` gives every item back, with why.
pub fn prefetch(
    index: &Index,
    target: &Target,
    dest: Option<&Path>,
    threads: usize,
    items: Vec<BuildItem>,
) -> std::result::Result<Outcome, (String, Vec<BuildItem>)> {
    prefetch_cached(index, target, dest, None, threads, items)
}

/// [`prefetch`], a download taken from `cache` when it has the file with the index's sha256,
/// and kept there when it did not.
pub fn prefetch_cached(
    index: &Index,
    target: &Target,
    dest: Option<&Path>,
    cache: Option<&WheelCache>,
    threads: usize,
    items: Vec<BuildItem>,
) -> std::result::Result<Outcome, (String, Vec<BuildItem>)> {
    let (out, taken) = lookup(index, target, dest, cache, threads, items, true)?;
    if let (Some(c), true) = (cache, taken > 0) {
        crate::say!(
            "prefetch: {taken} of the {} binary wheels from the wheel cache ({}), the rest downloaded",
            out.covered.len(),
            c.dir.join("downloads").display()
        );
    }
    Ok(out)
}

/// [`prefetch_cached`], with how many files came from the cache; `say` whether to log each
/// item left to pip (the closure's seeds are not).
pub fn lookup(
    index: &Index,
    target: &Target,
    dest: Option<&Path>,
    cache: Option<&WheelCache>,
    threads: usize,
    items: Vec<BuildItem>,
    say: bool,
) -> std::result::Result<(Outcome, usize), (String, Vec<BuildItem>)> {
    let from_cache = AtomicUsize::new(0);
    let tags = Tags::new(target.tags.iter().cloned());
    let python = target.python.as_deref();
    let (pins, mut rest): (Vec<BuildItem>, Vec<BuildItem>) = items
        .into_iter()
        .partition(|i| pinned(&i.requirement).is_some());
    let one = |item: &BuildItem| -> One {
        let Some((name, version)) = pinned(&item.requirement) else {
            return One::NoWheel(None);
        };
        let files = match index.project(name) {
            Ok(Page::Files(f)) => f,
            Ok(Page::NotFound) => return One::NotFound,
            Ok(Page::NotSupported(why)) => return One::Unusable(why),
            Err(e) => return One::Unusable(e.to_string()),
        };
        let Some(file) = pypi::best_wheel(&files, name, version, &tags, python) else {
            return One::NoWheel(pypi::sdist_size(&files, version));
        };
        let cached = |dir: &Path| match (cache, file.sha256.as_deref()) {
            (Some(c), Some(sha)) => c.take_download(sha, &file.filename, dir),
            _ => false,
        };
        match dest {
            None => One::Covered(file.filename.clone()),
            Some(dir) if cached(dir) => {
                from_cache.fetch_add(1, Ordering::SeqCst);
                One::Covered(file.filename.clone())
            }
            Some(dir) => match index.download(file, dir) {
                Ok(_) => {
                    if let (Some(c), Some(sha)) = (cache, file.sha256.as_deref()) {
                        c.keep_download(sha, &file.filename, dir);
                    }
                    One::Covered(file.filename.clone())
                }
                Err(e) if e.kind == pypi::DownloadFailure::Transfer => {
                    One::Unusable(format!("the download failed: {}", e.error.what))
                }
                Err(e) => One::Failed(e.error),
            },
        }
    };
    let mut first = None;
    if let Some(item) = pins.first() {
        let t = Instant::now();
        let r = one(item);
        if let One::Unusable(why) = &r {
            let why = format!(
                "the index cannot be used ({})",
                why.lines().next().unwrap_or("")
            );
            rest.splice(0..0, pins);
            return Err((why, rest));
        }
        first = Some((r, t.elapsed().as_secs_f64()));
    }
    let mut results: Vec<Option<(One, f64)>> = (0..pins.len()).map(|_| None).collect();
    if let Some(slot) = results.first_mut() {
        *slot = first;
    }
    let next = AtomicUsize::new(1);
    let shared = Mutex::new(results);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(pins.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= pins.len() || crate::interrupt::received().is_some() {
                    break;
                }
                let t = Instant::now();
                let r = one(&pins[i]);
                if let Ok(mut v) = shared.lock() {
                    v[i] = Some((r, t.elapsed().as_secs_f64()));
                }
            });
        }
    });
    let results = shared.into_inner().unwrap_or_default();
    let mut out = Outcome::default();
    let mut to_pip = Vec::new();
    let mut to_build: Vec<(u64, BuildItem)> = Vec::new();
    for (item, r) in pins.into_iter().zip(results) {
        match r {
            Some((One::Covered(f), _)) => out.covered.push((item, f)),
            Some((One::Failed(e), seconds)) => out.failures.push(BuildResult {
                failure: Some("download failed".into()),
                log: e.to_string(),
                dir: dest.map(Path::to_path_buf).unwrap_or_default(),
                wheels: Vec::new(),
                item,
                seconds,
            }),
            Some((One::Unusable(why), _)) => {
                if say {
                    crate::say!(
                        "prefetch: {} left to pip wheel: {}",
                        item.requirement,
                        why.lines().next().unwrap_or("")
                    );
                }
                to_pip.push(item);
            }
            Some((One::NotFound, _)) => {
                if say {
                    crate::say!(
                        "prefetch: {} left to pip wheel: the index does not know it",
                        item.requirement
                    );
                }
                to_pip.push(item);
            }
            Some((One::NoWheel(Some(size)), _)) => to_build.push((size, item)),
            Some((One::NoWheel(None), _)) | None => to_pip.push(item),
        }
    }
    out.rest = pool_order(rest, to_pip, to_build);
    Ok((out, from_cache.into_inner()))
}

/// The order the pool builds in: the items that are not pins (uwsgi, lines with markers) and
/// those without a known size as they came, then the rest by the size of their sdist, largest
/// first: longest-first scheduling, so that the few long compiles (py-pure-client, salt,
/// krb5, ...) run beside the many short builds instead of after them.
fn pool_order(
    not_pins: Vec<BuildItem>,
    no_size: Vec<BuildItem>,
    mut sized: Vec<(u64, BuildItem)>,
) -> Vec<BuildItem> {
    sized.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
    not_pins
        .into_iter()
        .chain(no_size)
        .chain(sized.into_iter().map(|(_, i)| i))
        .collect()
}

fn summarize(spec: &WheelsSpec, out: &Outcome, started: Instant) {
    let names: Vec<&str> = out
        .covered
        .iter()
        .map(|(i, _)| i.requirement.as_str())
        .collect();
    let took = crate::report::human(started.elapsed());
    if spec.keep_all {
        crate::say!(
            "prefetch: downloaded {} binary wheels into {} in {took} (KEEP_ALL_WHEELS=True): {}",
            names.len(),
            spec.root.display(),
            out.covered
                .iter()
                .map(|(_, f)| f.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
    } else if names.is_empty() {
        crate::say!("prefetch: no constraint has a binary wheel for this platform on the index (looked up in {took})");
    } else {
        crate::say!(
            "prefetch: {} constraints have a binary wheel for this platform on the index (looked up in {took}); \
             not built and not kept, as LOCI keeps only the wheels built here (KEEP_ALL_WHEELS=False): {}",
            names.len(),
            names.join(" ")
        );
    }
    if !out.failures.is_empty() {
        crate::say!(
            "prefetch: {} downloads failed (reported at the end): {}",
            out.failures.len(),
            out.failures
                .iter()
                .map(|r| r.item.requirement.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    crate::say!("prefetch: {} left to pip wheel", out.rest.len());
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn pip_debug_gives_the_tags_best_first_and_the_python() {
        let t = parse_pip_debug(include_str!(
            "../../../tests/fixtures/pypi/pip-debug-verbose-26.3.txt"
        ))
        .unwrap();
        assert_eq!(t.python.as_deref(), Some("3.11.7"));
        assert_eq!(t.tags.len(), 914);
        assert_eq!(t.tags[0], "cp311-cp311-linux_x86_64");
        assert_eq!(t.tags[1], "cp311-cp311-manylinux_2_36_x86_64");
        assert_eq!(t.tags.last().map(String::as_str), Some("py30-none-any"));
        let pos = |tag: &str| t.tags.iter().position(|x| x == tag).unwrap();
        assert!(pos("cp311-cp311-manylinux2014_x86_64") < pos("cp311-abi3-manylinux_2_17_x86_64"));
        assert!(pos("cp311-abi3-manylinux_2_17_x86_64") < pos("py3-none-any"));
        assert!(!t
            .tags
            .iter()
            .any(|x| x.contains("musllinux") || x.contains("win")));
        // pip without --verbose shows ten tags and a note: not the whole list, no target.
        let short =
            "sys.version: 3.11.7 (main)\nCompatible tags: 914\n  cp311-cp311-linux_x86_64\n  \
                     [First 10 tags shown. Pass --verbose to show all.]\n";
        assert_eq!(parse_pip_debug(short), None);
        assert_eq!(parse_pip_debug("pip version: pip 26.3\n"), None);
    }

    #[test]
    fn pip_config_list_is_read_with_its_precedence() {
        // Real `pip config list` output (pip 26.3, PIP_INDEX_URL and friends set).
        let text = "global.cert='/etc/ssl/certs/ca-certificates.crt'\n\
                    global.index-url='https://global.example/simple'\n\
                    wheel.index_url='https://wheel.example/simple'\n\
                    :env:.default-timeout='180'\n\
                    :env:.disable-pip-version-check='1'\n\
                    install.extra-index-url='https://install-only.example/simple'\n\
                    :env:.find-links=''\n";
        let c = parse_pip_config(text);
        assert_eq!(
            c.get("index-url").map(String::as_str),
            Some("https://wheel.example/simple")
        );
        assert_eq!(c.get("find-links"), None, "empty is unset");
        assert_eq!(
            c.get("extra-index-url"),
            None,
            "pip install's section is not pip wheel's"
        );
        assert_eq!(
            pip_index(&c, &[]),
            Ok((
                "https://wheel.example/simple".into(),
                "index-url in pip's configuration"
            ))
        );
        let c = parse_pip_config(&format!(
            "{text}:env:.index-url='https://env.example/simple'\n"
        ));
        assert_eq!(
            c.get("index-url").map(String::as_str),
            Some("https://env.example/simple")
        );
        // Nothing set: PyPI.
        assert_eq!(
            pip_index(&BTreeMap::new(), &[]),
            Ok((pypi::PYPI.to_string(), "pip's default"))
        );
        // What this machine's pip prints: PIP_FIND_LINKS set.
        let c = parse_pip_config(":env:.find-links='/opt/wheels'\n:env:.pre='0'\n");
        let why = pip_index(&c, &[]).unwrap_err();
        assert!(
            why.contains("find-links") && why.contains("PIP_FIND_LINKS"),
            "{why}"
        );
        for (line, blocked) in [
            (
                ":env:.extra-index-url='https://a/simple https://b/simple'",
                true,
            ),
            (":env:.no-binary=':all:'", true),
            ("global.only-binary=':all:'", true),
            ("wheel.prefer-binary='true'", true),
            (":env:.pre='1'", true),
            (":env:.pre='0'", false),
            (":env:.no-index='false'", false),
            ("global.platform='manylinux2014_aarch64'", true),
            ("global.timeout='60'", false),
        ] {
            assert_eq!(
                pip_index(&parse_pip_config(line), &[]).is_err(),
                blocked,
                "{line}"
            );
        }
    }

    #[test]
    fn pip_wheel_args_choose_the_index_or_turn_the_prefetch_off() {
        assert_eq!(args_index(&s(&["-v", "--no-deps"])), Ok(None));
        assert_eq!(
            args_index(&s(&["--index-url", "https://m/simple"])),
            Ok(Some("https://m/simple".into()))
        );
        assert_eq!(
            args_index(&s(&["--index-url=https://m/simple"])),
            Ok(Some("https://m/simple".into()))
        );
        assert_eq!(
            args_index(&s(&["-i", "https://m/simple"])),
            Ok(Some("https://m/simple".into()))
        );
        assert_eq!(
            args_index(&s(&["-ihttps://m/simple"])),
            Ok(Some("https://m/simple".into()))
        );
        for blocked in [
            &["--pre"][..],
            &["--extra-index-url", "https://x"],
            &["--extra-index-url=https://x"],
            &["-f", "/w"],
            &["-f/w"],
            &["--find-links", "/w"],
            &["--no-index"],
            &["--only-binary", ":all:"],
            &["--no-binary=:all:"],
            &["--prefer-binary"],
            &["--platform", "manylinux2014_aarch64"],
            &["--python-version", "3.12"],
            &["--abi", "cp312"],
            &["--implementation", "pp"],
        ] {
            assert!(args_index(&s(blocked)).is_err(), "{blocked:?}");
        }
        let c = parse_pip_config("global.index-url='https://conf/simple'\n");
        assert_eq!(
            pip_index(&c, &s(&["-i", "https://args/simple"])),
            Ok((
                "https://args/simple".into(),
                "--index-url in PIP_WHEEL_ARGS"
            ))
        );
    }

    #[test]
    fn only_plain_pins_are_prefetched() {
        assert_eq!(pinned("six===1.17.0"), Some(("six", "1.17.0")));
        assert_eq!(
            pinned("oslo.config==10.3.0"),
            Some(("oslo.config", "10.3.0"))
        );
        assert_eq!(pinned("PyYAML===6.0.3"), Some(("PyYAML", "6.0.3")));
        for not in [
            "confluent_kafka===2.13.0;python_version>='3.10'",
            "confluent_kafka===2.13.0 ; python_version>='3.10'",
            "requests[security]===2.32.5",
            "git+https://opendev.org/x/foo@master#egg=foo",
            "uwsgi",
            "six>=1.16",
            "six==1.*",
            "six===1.17.0  # comment",
            "six @ https://example/six.whl",
            "six===",
        ] {
            assert_eq!(pinned(not), None, "{not}");
        }
    }

    #[test]
    fn the_eligible_constraints_of_a_build_list() {
        use super::super::{apply_drops, build_list, not_built};
        use std::collections::BTreeSet;
        let upper =
            "six===1.17.0\nscipy===1.15.3\nconfluent_kafka===2.13.0;python_version>='3.10'\n\
                     oslo.config===10.3.0\nfoo===1.0\nrequests[security]===2.32.5\n\
                     git+https://opendev.org/x/bar@master#egg=bar\n";
        let (buildable, _) = apply_drops(upper, &not_built());
        let built_from_source: BTreeSet<String> = ["foo".to_string()].into();
        let items = build_list(
            &buildable,
            &s(&["uwsgi", "pylxd==2.3.5"]),
            None,
            &built_from_source,
        );
        let eligible: Vec<&str> = items
            .iter()
            .filter(|i| pinned(&i.requirement).is_some())
            .map(|i| i.requirement.as_str())
            .collect();
        // Not: scipy (not built), markers, extras, git+, foo (built from source), uwsgi.
        assert_eq!(
            eligible,
            ["six===1.17.0", "oslo.config===10.3.0", "pylxd==2.3.5"]
        );
    }

    /// A PEP 691 page listing `files` (name, URL, sha256).
    pub(crate) fn page(files: &[(&str, &str, &str)]) -> Vec<u8> {
        let files: Vec<String> = files
            .iter()
            .map(|(f, u, h)| {
                format!(r#"{{"filename":"{f}","url":"{u}","hashes":{{"sha256":"{h}"}}}}"#)
            })
            .collect();
        format!(
            r#"{{"meta":{{"api-version":"1.1"}},"files":[{}]}}"#,
            files.join(",")
        )
        .into_bytes()
    }

    fn items(reqs: &[&str]) -> Vec<BuildItem> {
        reqs.iter()
            .map(|r| BuildItem {
                name: crate::constraints::normalize(crate::constraints::line_name(r).unwrap()),
                requirement: r.to_string(),
            })
            .collect()
    }

    #[test]
    fn a_local_index_decides_what_pip_still_builds() {
        use sha2::Digest;
        let wheel = crate::pypi::test_wheel::wheel("six", "1.17.0");
        let good = hex::encode(sha2::Sha256::digest(&wheel));
        let json = "application/vnd.pypi.simple.v1+json";
        let base = crate::pypi::serve(vec![
            (
                "/simple/six/".into(),
                200,
                json,
                page(&[
                    (
                        "six-1.17.0-py2.py3-none-any.whl",
                        "/files/six-1.17.0-py2.py3-none-any.whl",
                        &good,
                    ),
                    (
                        "six-1.16.0-py2.py3-none-any.whl",
                        "/files/six-1.16.0-py2.py3-none-any.whl",
                        &good,
                    ),
                ]),
            ),
            // Only wheels for other platforms, and the sdist: pip builds it.
            (
                "/simple/cffi/".into(),
                200,
                json,
                page(&[
                    (
                        "cffi-2.0.0-cp311-cp311-musllinux_1_2_x86_64.whl",
                        "/f/1",
                        &good,
                    ),
                    ("cffi-2.0.0-cp311-cp311-win_amd64.whl", "/f/2", &good),
                    ("cffi-2.0.0.tar.gz", "/f/3", &good),
                ]),
            ),
            (
                "/simple/tampered/".into(),
                200,
                json,
                page(&[(
                    "tampered-1.0-py3-none-any.whl",
                    "/files/six-1.17.0-py2.py3-none-any.whl",
                    &"1".repeat(64),
                )]),
            ),
            (
                "/files/six-1.17.0-py2.py3-none-any.whl".into(),
                200,
                "application/octet-stream",
                wheel.clone(),
            ),
            (
                "/html/six/".into(),
                200,
                "text/html",
                b"<html></html>".to_vec(),
            ),
        ]);
        let target = Target {
            tags: s(&[
                "cp311-cp311-manylinux_2_17_x86_64",
                "py3-none-any",
                "py2-none-any",
            ]),
            python: Some("3.11.7".into()),
        };
        let index = Index::new(
            &format!("{base}/simple/"),
            &crate::http::TlsConfig::default(),
        )
        .unwrap();
        let list = items(&[
            "six===1.17.0",
            "cffi===2.0.0",
            "tampered===1.0",
            "nowhere===1.0",
            "confluent_kafka===2.13.0;python_version>='3.10'",
            "uwsgi",
        ]);
        let names = |v: &[BuildItem]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>();

        // KEEP_ALL_WHEELS=False: nothing is downloaded.
        let (out, said) =
            crate::report::capture(|| prefetch(&index, &target, None, 4, list.clone()));
        let out = out.unwrap();
        let covered: Vec<(&str, &str)> = out
            .covered
            .iter()
            .map(|(i, f)| (i.name.as_str(), f.as_str()))
            .collect();
        assert_eq!(
            covered,
            [
                ("six", "six-1.17.0-py2.py3-none-any.whl"),
                ("tampered", "tampered-1.0-py3-none-any.whl")
            ]
        );
        assert_eq!(
            names(&out.rest),
            ["confluent-kafka", "uwsgi", "cffi", "nowhere"],
            "what is not a pin first, then as looked up (no sizes on this index)"
        );
        assert!(out.failures.is_empty());
        assert_eq!(
            said,
            ["prefetch: nowhere===1.0 left to pip wheel: the index does not know it"]
        );

        // KEEP_ALL_WHEELS=True: downloaded, checked; a wrong hash is a failure, no file.
        let root = tempfile::tempdir().unwrap();
        let out = prefetch(&index, &target, Some(root.path()), 4, list.clone()).unwrap();
        assert_eq!(
            names(
                &out.covered
                    .iter()
                    .map(|(i, _)| i.clone())
                    .collect::<Vec<_>>()
            ),
            ["six"]
        );
        assert_eq!(
            names(&out.rest),
            ["confluent-kafka", "uwsgi", "cffi", "nowhere"],
            "what is not a pin first, then as looked up (no sizes on this index)"
        );
        assert_eq!(out.failures.len(), 1);
        assert_eq!(out.failures[0].item.name, "tampered");
        assert!(
            out.failures[0]
                .log
                .contains("does not match the index's hash"),
            "{}",
            out.failures[0].log
        );
        let mut listing: Vec<String> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        listing.sort();
        assert_eq!(listing, ["six-1.17.0-py2.py3-none-any.whl"]);
        assert_eq!(std::fs::read(root.path().join(&listing[0])).unwrap(), wheel);
        let e = super::super::failures_error(&out.failures, "wheels", Path::new("/w"))
            .unwrap()
            .to_string();
        assert!(
            e.contains("tampered===1.0 (download failed)") && e.contains(&"1".repeat(64)),
            "{e}"
        );

        // An index without the JSON API: everything back to pip, with why.
        let html =
            Index::new(&format!("{base}/html/"), &crate::http::TlsConfig::default()).unwrap();
        let (why, back) = prefetch(&html, &target, None, 4, list.clone()).unwrap_err();
        assert!(why.contains("text/html"), "{why}");
        assert_eq!(back, list);
    }

    #[test]
    fn the_pool_starts_the_largest_sdists_first() {
        let one = |name: &str| BuildItem {
            name: name.into(),
            requirement: name.into(),
        };
        let order = pool_order(
            vec![one("uwsgi")],
            vec![one("nowhere")],
            vec![
                (45_057, one("testresources")),
                (23_549_453, one("py-pure-client")),
                (236_761, one("krb5")),
            ],
        );
        let names: Vec<&str> = order.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "uwsgi",
                "nowhere",
                "py-pure-client",
                "krb5",
                "testresources"
            ]
        );
    }
}
