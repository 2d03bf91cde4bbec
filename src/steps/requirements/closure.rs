//! The dependency closure of the prefetched wheels (KEEP_ALL_WHEELS=True): `pip wheel` with
//! dependencies would have fetched the dependencies of every constraint; the prefetch
//! downloads only the constraints' own wheels. One offline `pip install --dry-run` against
//! the root says whether their closure is there ([`closure_is_complete`]); when it is not, one
//! `pip wheel` of them all, against the root and the index, fetches what is missing
//! ([`fetch_closure`]).
//!
//! With the wheel cache ([`super::reuse`]), a rebuild does not go to pip's index for what an
//! earlier build's closure fetch downloaded: the fetch's downloads (the files it added to the
//! root, not those it built) are kept in the cache by sha256 like the prefetch's, and their
//! projects recorded ([`WheelCache::keep_closure_dependencies`]). The next build looks those
//! projects up on the index at the versions its constraints pin (`name===version`: pinned,
//! the index decides only the file), and the wheel pip would pick, checked against the
//! index's sha256, is put in a seed directory, from the cache or downloaded ([`seed`]). The
//! offline check then runs against the root and the seeds, and the seeds pip's resolver picks
//! (its `--report`) are copied into the root: the same files the online fetch would have
//! saved there, without its one-by-one index queries and downloads. What the seeds do not
//! cover (a new dependency, one without a pin or a wheel) still goes to the online fetch,
//! which sees the seeds too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::pool::{BuildItem, BuildResult};
use super::prefetch::{self, Target};
use super::reuse::{self, WheelCache};
use super::WheelsSpec;
use crate::constraints::normalize;
use crate::error::{Error, Result};
use crate::plan::Cmd;
use crate::pypi::{fits_python, File, Index, Page, Tags, WheelName};
use crate::runner::{self, Runner};
use crate::steps::python::BuildConstraintMode;

/// The seed directory, in the work dir.
pub const SEED_DIR: &str = "closure-seed";

/// What seeding needs: the cache, the index and target the prefetch used, the constraints.
#[derive(Clone, Copy)]
pub struct Seeding<'a> {
    pub cache: &'a WheelCache,
    pub index: &'a Index,
    pub target: &'a Target,
    /// The constraint lines of upper-constraints.txt ([`reuse::constraint_lines`]).
    pub lines: &'a BTreeMap<String, Vec<String>>,
    pub threads: usize,
}

/// The closure in a build: seeded from the wheel cache (`seeding`), checked offline, fetched
/// when incomplete (with the build packages when a wheel had to be built: `installed` says
/// whether they are), and the fetch's downloads kept in the cache. A failed fetch is returned
/// as a failed build.
pub fn complete_in_build(
    spec: &WheelsSpec,
    ctx: &mut runner::Context,
    mode: BuildConstraintMode,
    installed: bool,
    covered: &[(BuildItem, String)],
    seeding: Option<Seeding<'_>>,
) -> Result<Option<BuildResult>> {
    if covered.is_empty() {
        return Ok(None);
    }
    let seeds = seeding.and_then(|s| seed(spec, &s, covered));
    if closure_is_complete_seeded(spec, ctx.runner, covered, seeds.as_deref())? {
        return Ok(None);
    }
    let before = wheels_in(&spec.root);
    let (failed, built) = fetch_with_packages(spec, ctx, mode, installed, seeds.as_deref())?;
    if let (Some(s), None) = (seeding, &failed) {
        let new: Vec<String> = wheels_in(&spec.root)
            .difference(&before)
            .filter(|f| !built.contains(*f))
            .cloned()
            .collect();
        let kept = s.cache.keep_closure_dependencies(&spec.root, &new);
        if !kept.is_empty() {
            crate::say!(
                "prefetch: the {} dependencies the fetch downloaded kept in the wheel cache ({}) for the next build: {}",
                kept.len(),
                s.cache.dir.display(),
                kept.join(" ")
            );
        }
    }
    Ok(failed)
}

/// The fetch ([`fetch_closure_built`]): it mostly downloads. Without the build packages
/// (`installed`: not yet), a wheel it had to build might not be what a build with them makes:
/// then those wheels are deleted, the packages installed and the fetch run again (it finds
/// the downloads in the root). Gives back the wheels it built.
fn fetch_with_packages(
    spec: &WheelsSpec,
    ctx: &mut runner::Context,
    mode: BuildConstraintMode,
    installed: bool,
    seeds: Option<&Path>,
) -> Result<(Option<BuildResult>, BTreeSet<String>)> {
    let (failed, built) = fetch_closure_built(spec, ctx.runner, mode, seeds);
    if installed || spec.build_packages.is_none() || (failed.is_none() && built.is_empty()) {
        return Ok((failed, built));
    }
    for w in &built {
        let _ = fs::remove_file(spec.root.join(w));
    }
    super::pool::install_build_packages(
        spec.build_packages.as_ref(),
        ctx,
        "the dependencies' fetch built wheels (or failed) without them: fetched again",
    )?;
    Ok(fetch_closure_built(spec, ctx.runner, mode, seeds))
}

/// The wheel files in `dir`.
fn wheels_in(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|f| f.ends_with(".whl") && !f.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// The projects the cache has seen the closure fetch download, at the version the constraints
/// pin now, that are neither constraints the prefetch covered nor wheels in the root: looked
/// up on the index and put in the seed directory (from the cache or downloaded, each checked
/// against the index's sha256). `None` when nothing was seeded.
pub fn seed(
    spec: &WheelsSpec,
    s: &Seeding<'_>,
    covered: &[(BuildItem, String)],
) -> Option<PathBuf> {
    let known = s.cache.closure_dependencies();
    let mut present: BTreeSet<String> = wheels_in(&spec.root)
        .iter()
        .filter_map(|f| super::pick::wheel_name_version(f).map(|(n, _)| normalize(&n)))
        .collect();
    present.extend(covered.iter().map(|(i, _)| i.name.clone()));
    let mut items: Vec<BuildItem> = Vec::new();
    let mut free: Vec<&String> = Vec::new();
    for n in known.iter().filter(|n| !present.contains(*n)) {
        match s.lines.get(n).map(Vec::as_slice) {
            Some([line]) if prefetch::pinned(line).is_some() => items.push(BuildItem {
                name: n.clone(),
                requirement: line.clone(),
            }),
            // Not constrained: the index's newest, when that is plain.
            None => free.push(n),
            // Markers, ranges: pip decides, online.
            Some(_) => {}
        }
    }
    items.extend(newest_of(s, &free));
    if items.is_empty() {
        return None;
    }
    let dir = spec.work.join(SEED_DIR);
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = fs::create_dir_all(&dir) {
        crate::say!("prefetch: no seeds for the closure: {}: {e}", dir.display());
        return None;
    }
    let started = Instant::now();
    let n = items.len();
    match prefetch::lookup(
        s.index,
        s.target,
        Some(&dir),
        Some(s.cache),
        s.threads,
        items,
        false,
    ) {
        Ok((out, taken)) => {
            let files: Vec<&str> = out.covered.iter().map(|(_, f)| f.as_str()).collect();
            crate::say!(
                "prefetch: {} of the {n} dependencies earlier closure fetches downloaded are ready offline in {} \
                 ({taken} from the wheel cache, {} downloaded, in {}): {}",
                files.len(),
                dir.display(),
                files.len() - taken.min(files.len()),
                crate::report::human(started.elapsed()),
                files.join(" ")
            );
            (!files.is_empty()).then_some(dir)
        }
        Err((why, _)) => {
            crate::say!("prefetch: no seeds for the closure: {why}");
            None
        }
    }
}

/// `name===V` for each project of `names` (not constrained) whose newest version on the
/// index is plain ([`newest_version`]), looked up `s.threads` at once: pip, free to choose,
/// takes the newest version its requirements allow, and the offline check takes the seed only
/// when they allow that one.
fn newest_of(s: &Seeding<'_>, names: &[&String]) -> Vec<BuildItem> {
    let tags = Tags::new(s.target.tags.iter().cloned());
    let python = s.target.python.as_deref();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let found = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..s.threads.max(1).min(names.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(name) = names.get(i) else { break };
                let Ok(Page::Files(files)) = s.index.project(name) else {
                    continue;
                };
                if let Some(v) = newest_version(&files, name, &tags, python) {
                    if let Ok(mut f) = found.lock() {
                        f.push(BuildItem {
                            name: (*name).clone(),
                            requirement: format!("{name}==={v}"),
                        });
                    }
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap_or_default();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// A final release's sort key: its release number, trailing zeros dropped, and its post number.
type Release = (Vec<u64>, Option<u64>);

/// A final release (PEP 440: `N(.N)*`, an optional `.postN`) as a sort key; `None` for
/// anything else.
fn final_release(v: &str) -> Option<Release> {
    let v = v.to_ascii_lowercase();
    let (release, post) = match v.split_once(".post") {
        Some((r, p)) => (r.to_string(), Some(p.parse::<u64>().ok()?)),
        None => (v, None),
    };
    Some((release_number(&release)?, post))
}

/// `N(.N)*` as numbers, trailing zeros dropped (`1.2.0` is `1.2`); `None` for anything else.
fn release_number(release: &str) -> Option<Vec<u64>> {
    let mut nums: Vec<u64> = release
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    while nums.len() > 1 && nums.last() == Some(&0) {
        nums.pop();
    }
    Some(nums)
}

/// The release number of a pre- or development release (`2.0rc1`, `2.0.0b2`, `2.0.dev3`),
/// trailing zeros dropped; `None` for anything else.
fn pre_release(v: &str) -> Option<Vec<u64>> {
    let v = v.to_ascii_lowercase();
    let end = v.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (release, rest) = (v[..end].trim_end_matches('.'), &v[end..]);
    let tag = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let word = &rest[..rest.len() - tag.len()];
    let known = [
        "a", "b", "c", "rc", "alpha", "beta", "pre", "preview", "dev",
    ];
    let digits_ok = tag.is_empty()
        || tag.chars().all(|c| c.is_ascii_digit())
        || tag.split_once(".dev").is_some_and(|(a, b)| {
            a.chars().all(|c| c.is_ascii_digit()) && b.chars().all(|c| c.is_ascii_digit())
        });
    if !known.contains(&word) || !digits_ok {
        return None;
    }
    release_number(release)
}

/// The version pip takes for a requirement on `name` that nothing constrains but a lower bound,
/// when that is plain: the greatest final release among the files pip considers for the
/// target (its compatible wheels and every sdist; `requires-python` met; not yanked). `None`
/// when a version of them cannot be read, a pre-release is newer, or a `requires-python`
/// cannot be evaluated: pip decides then, online.
pub fn newest_version(
    files: &[File],
    name: &str,
    tags: &Tags,
    python: Option<&str>,
) -> Option<String> {
    const SDISTS: &[&str] = &[".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar"];
    let want = normalize(name);
    let mut best: Option<(Release, String, bool)> = None;
    let mut newest_pre: Option<Vec<u64>> = None;
    for f in files.iter().filter(|f| !f.yanked) {
        let (version, wheel) = match WheelName::parse(&f.filename) {
            Some(w) if normalize(&w.name) == want && tags.best(&w).is_some() => (w.version, true),
            Some(_) => continue,
            None => {
                let Some(stem) = SDISTS.iter().find_map(|e| f.filename.strip_suffix(e)) else {
                    continue;
                };
                match stem.rsplit_once('-') {
                    Some((n, v)) if normalize(n) == want => (v.to_string(), false),
                    _ => continue,
                }
            }
        };
        match fits_python(f, python) {
            Some(true) => {}
            Some(false) => continue,
            None => return None,
        }
        if let Some(key) = final_release(&version) {
            let better = match &best {
                None => true,
                Some((k, _, was_wheel)) => key > *k || (key == *k && wheel && !was_wheel),
            };
            if better {
                best = Some((key, version, wheel));
            }
        } else {
            let pre = pre_release(&version)?;
            if newest_pre.as_ref().is_none_or(|p| pre > *p) {
                newest_pre = Some(pre);
            }
        }
    }
    let ((release, _), version, _) = best?;
    match newest_pre {
        Some(pre) if pre > release => None,
        _ => Some(version),
    }
}

/// The seeds pip's resolver picked, by its `--report` (JSON, PEP 691's installation report):
/// the files of `seeds` among its `install` items' URLs, copied into `root`. `Err` when the
/// report cannot be read.
pub fn take_seeds(
    report: &str,
    seeds: &Path,
    root: &Path,
) -> std::result::Result<Vec<String>, String> {
    let v: serde_json::Value =
        serde_json::from_str(report.trim()).map_err(|e| format!("pip's report: {e}"))?;
    let install = v
        .get("install")
        .and_then(|i| i.as_array())
        .ok_or("pip's report has no install list")?;
    let mut taken = Vec::new();
    for item in install {
        let Some(url) = item.pointer("/download_info/url").and_then(|u| u.as_str()) else {
            return Err("an item of pip's report has no download_info.url".into());
        };
        let Some(path) = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.to_file_path().ok())
        else {
            continue;
        };
        if path.parent() != Some(seeds) {
            continue;
        }
        let Some(file) = path.file_name().map(|f| f.to_string_lossy().into_owned()) else {
            continue;
        };
        reuse::copy_into(&path, root, &file).map_err(|e| {
            format!(
                "cannot copy {} into {}: {e}",
                path.display(),
                root.display()
            )
        })?;
        taken.push(file);
    }
    taken.sort();
    Ok(taken)
}

/// KEEP_ALL_WHEELS=True: makes sure the dependency closure of the prefetched wheels is in the
/// root, which `pip wheel` with dependencies would have fetched. One offline `pip install
/// --dry-run` against the root says whether something is missing; if so, one `pip wheel` of
/// all of them, against the root and the index, fetches it. A failure of that is returned as
/// a failed build (reported with the others).
pub fn complete_closure(
    spec: &WheelsSpec,
    runner: &mut dyn Runner,
    mode: BuildConstraintMode,
    covered: &[(BuildItem, String)],
) -> Result<Option<BuildResult>> {
    if closure_is_complete(spec, runner, covered)? {
        return Ok(None);
    }
    Ok(fetch_closure(spec, runner, mode))
}

/// The first half of [`complete_closure`]: is the closure of the prefetched wheels in the
/// root (logged either way)? Also writes the list [`fetch_closure`] reads.
pub fn closure_is_complete(
    spec: &WheelsSpec,
    runner: &mut dyn Runner,
    covered: &[(BuildItem, String)],
) -> Result<bool> {
    closure_is_complete_seeded(spec, runner, covered, None)
}

/// [`closure_is_complete`] against the root and the `seeds` ([`seed`]) too: when it is, the
/// seeds pip picked are copied into the root ([`take_seeds`]).
pub fn closure_is_complete_seeded(
    spec: &WheelsSpec,
    runner: &mut dyn Runner,
    covered: &[(BuildItem, String)],
    seeds: Option<&Path>,
) -> Result<bool> {
    if covered.is_empty() {
        return Ok(true);
    }
    let list = spec.work.join("prefetched.txt");
    let text: String = covered
        .iter()
        .map(|(i, _)| format!("{}\n", i.requirement.trim()))
        .collect();
    fs::create_dir_all(&spec.work)
        .and_then(|()| fs::write(&list, text))
        .map_err(|e| Error::new(format!("cannot write {}", list.display())).caused_by(e))?;
    let started = Instant::now();
    let (root, upper) = root_and_upper(spec);
    let list_s = list.display().to_string();
    let seeds_s = seeds.map(|d| d.display().to_string());
    let check = closure_check_seeded(&spec.pip.pip, &root, &upper, &list_s, seeds_s.as_deref());
    match runner.output(&check) {
        Ok(report) => {
            let taken = match seeds.map(|d| take_seeds(&report, d, &spec.root)) {
                None => Vec::new(),
                Some(Ok(taken)) => taken,
                Some(Err(why)) => {
                    crate::say!("prefetch: the offline check passed with the seeds, but {why}; fetching with pip wheel");
                    return Ok(false);
                }
            };
            crate::say!(
                "prefetch: the dependencies of the {} downloaded wheels are all in {}{} (checked offline in {}){}",
                covered.len(),
                root,
                if seeds.is_some() { " and the seeds" } else { "" },
                crate::report::human(started.elapsed()),
                if taken.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} seeds copied into {root}: {}",
                        taken.len(),
                        taken.join(" ")
                    )
                }
            );
            Ok(true)
        }
        Err(e) => {
            crate::say!(
                "prefetch: dependencies of the downloaded wheels are missing from {root} ({}); fetching them with pip wheel",
                e.cause
                    .as_deref()
                    .and_then(|c| c.lines().find(|l| l.contains("ERROR:")))
                    .map(str::trim)
                    .unwrap_or("the offline check failed")
            );
            Ok(false)
        }
    }
}

/// The root and its upper-constraints.txt, as arguments.
fn root_and_upper(spec: &WheelsSpec) -> (String, String) {
    let upper = spec.root.join("upper-constraints.txt");
    (spec.root.display().to_string(), upper.display().to_string())
}

/// The second half of [`complete_closure`]: one `pip wheel` of the prefetched list, against
/// the root and the index; its failure as a failed build.
pub fn fetch_closure(
    spec: &WheelsSpec,
    runner: &mut dyn Runner,
    mode: BuildConstraintMode,
) -> Option<BuildResult> {
    fetch_closure_built(spec, runner, mode, None).0
}

/// [`fetch_closure`], with the seeds' directory as a source too, and the wheels it built
/// (pip's `Created wheel` lines), not downloaded.
pub fn fetch_closure_built(
    spec: &WheelsSpec,
    runner: &mut dyn Runner,
    mode: BuildConstraintMode,
    seeds: Option<&Path>,
) -> (Option<BuildResult>, BTreeSet<String>) {
    let list = spec.work.join("prefetched.txt");
    let list_s = list.display().to_string();
    let (root, upper) = root_and_upper(spec);
    let mut fetch = Cmd::new(spec.pip.pip.clone(), ["wheel"])
        .args(spec.pip.args.iter().cloned())
        .args(["--find-links", &root]);
    if let Some(d) = seeds {
        fetch = fetch.args(["--find-links".to_string(), d.display().to_string()]);
    }
    fetch = fetch.args(["--wheel-dir", &root, "-c", &upper]);
    fetch = mode
        .apply(fetch, &spec.build_constraints)
        .args(["-r", &list_s]);
    for (k, v) in &spec.pip.env {
        fetch = fetch.env(k.clone(), v.clone());
    }
    let t = Instant::now();
    match runner.output(&fetch) {
        Ok(out) => {
            let built = super::pick::built_wheels(&out);
            crate::say!(
                "prefetch: the missing dependencies fetched in {}{}",
                crate::report::human(t.elapsed()),
                if built.is_empty() {
                    " (nothing built)".to_string()
                } else {
                    format!(
                        ", built: {}",
                        built.iter().cloned().collect::<Vec<_>>().join(" ")
                    )
                }
            );
            (None, built)
        }
        Err(e) => (
            Some(BuildResult {
                item: BuildItem {
                    name: "prefetched".into(),
                    requirement: format!("the dependencies of the prefetched wheels (-r {list_s})"),
                },
                wheels: Vec::new(),
                dir: spec.work.clone(),
                log: e.to_string(),
                failure: Some("pip wheel failed".into()),
                seconds: t.elapsed().as_secs_f64(),
            }),
            Default::default(),
        ),
    }
}

/// The offline check of [`complete_closure`]: would these requirements install from the root
/// alone?
pub fn closure_check(pip: &str, root: &str, upper: &str, list: &str) -> Cmd {
    closure_check_seeded(pip, root, upper, list, None)
}

/// [`closure_check`] with the seeds' directory as a source too, and then pip's report of
/// what it would install on its standard output.
pub fn closure_check_seeded(
    pip: &str,
    root: &str,
    upper: &str,
    list: &str,
    seeds: Option<&str>,
) -> Cmd {
    let cmd = Cmd::new(
        pip,
        [
            "install",
            "--dry-run",
            "--quiet",
            "--ignore-installed",
            "--no-index",
            "--find-links",
            root,
            "-c",
            upper,
            "-r",
            list,
        ],
    );
    match seeds {
        Some(d) => cmd.args(["--find-links", d, "--report", "-"]),
        None => cmd,
    }
}

#[cfg(test)]
mod tests {
    use super::super::prefetch::tests::page;
    use super::*;
    use crate::runner::RecordingRunner;
    use sha2::Digest;

    #[test]
    fn the_closure_check_is_offline() {
        let c = closure_check(
            "/v/bin/pip",
            "/",
            "/upper-constraints.txt",
            "/w/prefetched.txt",
        );
        assert_eq!(
            c.to_string(),
            "/v/bin/pip install --dry-run --quiet --ignore-installed --no-index --find-links / \
             -c /upper-constraints.txt -r /w/prefetched.txt"
        );
        let seeded = closure_check_seeded(
            "/v/bin/pip",
            "/",
            "/upper-constraints.txt",
            "/w/prefetched.txt",
            Some("/w/closure-seed"),
        );
        assert_eq!(
            seeded.to_string(),
            format!("{c} --find-links /w/closure-seed --report -"),
            "offline still, the seeds a source too, pip's choice on its standard output"
        );
    }

    fn sha(bytes: &[u8]) -> String {
        hex::encode(sha2::Sha256::digest(bytes))
    }

    fn spec(root: &Path, work: &Path) -> WheelsSpec {
        WheelsSpec {
            root: root.to_path_buf(),
            work: work.to_path_buf(),
            extras: vec![],
            only: None,
            keep_all: true,
            not_built: vec![],
            jobs: 4,
            prefetch: true,
            pip: super::super::PipWheel {
                pip: "/v/bin/pip".into(),
                args: vec![],
                env: vec![],
            },
            build_constraints: root.join("upper-constraints.txt"),
            cache: None,
            build_packages: None,
            toolchain: None,
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// The report `pip install --dry-run --report -` prints for these files.
    fn report(files: &[PathBuf]) -> String {
        let items: Vec<String> = files
            .iter()
            .map(|f| {
                format!(
                    r#"{{"download_info":{{"url":"{}","archive_info":{{}}}},"metadata":{{}}}}"#,
                    reqwest::Url::from_file_path(f).unwrap()
                )
            })
            .collect();
        format!(
            r#"{{"version":"1","pip_version":"26.3","install":[{}],"environment":{{}}}}"#,
            items.join(",")
        )
    }

    /// A warm rebuild: the dependencies the first build's closure fetch downloaded come from
    /// the wheel cache (the index only says which file and its sha256; it does not serve
    /// pycparser's file at all here), one whose pin moved is downloaded, and only the seeds
    /// pip's resolver picks land in the root. Nothing is fetched with pip.
    #[test]
    fn a_rebuild_takes_the_closure_fetchs_downloads_from_the_wheel_cache() {
        let d = tempfile::tempdir().unwrap();
        let pycparser = crate::pypi::test_wheel::wheel("pycparser", "3.0");
        let idna_old = crate::pypi::test_wheel::wheel("idna", "3.10");
        let idna_new = crate::pypi::test_wheel::wheel("idna", "3.11");
        let certifi = crate::pypi::test_wheel::wheel("certifi", "2026.10.19.post1");
        let json = "application/vnd.pypi.simple.v1+json";
        let base = crate::pypi::serve(vec![
            (
                "/simple/pycparser/".into(),
                200,
                json,
                page(&[(
                    "pycparser-3.0-py3-none-any.whl",
                    "/files/pycparser-3.0-py3-none-any.whl",
                    &sha(&pycparser),
                )]),
            ),
            (
                "/simple/idna/".into(),
                200,
                json,
                page(&[
                    (
                        "idna-3.10-py3-none-any.whl",
                        "/files/idna-3.10-py3-none-any.whl",
                        &sha(&idna_old),
                    ),
                    (
                        "idna-3.11-py3-none-any.whl",
                        "/files/idna-3.11-py3-none-any.whl",
                        &sha(&idna_new),
                    ),
                ]),
            ),
            (
                "/simple/certifi/".into(),
                200,
                json,
                page(&[
                    (
                        "certifi-2025.1.31-py3-none-any.whl",
                        "/files/certifi-2025.1.31-py3-none-any.whl",
                        &sha(b"older"),
                    ),
                    (
                        "certifi-2026.10.19.post1-py3-none-any.whl",
                        "/files/certifi-2026.10.19.post1-py3-none-any.whl",
                        &sha(&certifi),
                    ),
                ]),
            ),
            (
                "/simple/six/".into(),
                200,
                json,
                page(&[("six-1.17.0-py3-none-any.whl", "/files/six", &sha(b"six"))]),
            ),
            (
                "/files/idna-3.11-py3-none-any.whl".into(),
                200,
                "application/octet-stream",
                idna_new.clone(),
            ),
        ]);
        let index = Index::new(
            &format!("{base}/simple/"),
            &crate::http::TlsConfig::default(),
        )
        .unwrap();
        let target = Target {
            tags: vec!["py3-none-any".into()],
            python: Some("3.11.7".into()),
        };
        let cache = WheelCache {
            dir: d.path().join("cache"),
            parts: Default::default(),
        };

        // The first build: its closure fetch downloaded these into its root.
        let first = d.path().join("first");
        fs::create_dir_all(&first).unwrap();
        let files = [
            "pycparser-3.0-py3-none-any.whl".to_string(),
            "idna-3.10-py3-none-any.whl".into(),
            "certifi-2026.10.19.post1-py3-none-any.whl".into(),
            "six-1.17.0-py3-none-any.whl".into(),
        ];
        fs::write(first.join(&files[0]), &pycparser).unwrap();
        fs::write(first.join(&files[1]), &idna_old).unwrap();
        fs::write(first.join(&files[2]), &certifi).unwrap();
        fs::write(first.join(&files[3]), b"six").unwrap();
        assert_eq!(cache.keep_closure_dependencies(&first, &files), files);
        assert_eq!(
            cache.closure_dependencies().into_iter().collect::<Vec<_>>(),
            ["certifi", "idna", "pycparser", "six"]
        );

        // The rebuild: idna's pin moved; certifi is not constrained (the index's newest, from
        // the cache); six has a range, which pip decides online; cffi is in the root.
        let root = d.path().join("root");
        let work = d.path().join("work");
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("cffi-2.0.0-py3-none-any.whl"), b"cffi").unwrap();
        let spec = spec(&root, &work);
        let lines =
            reuse::constraint_lines("cffi===2.0.0\npycparser===3.0\nidna===3.11\nsix>=1.16\n");
        let covered = vec![(
            BuildItem {
                name: "cffi".into(),
                requirement: "cffi===2.0.0".into(),
            },
            "cffi-2.0.0-py3-none-any.whl".to_string(),
        )];
        let seeding = Seeding {
            cache: &cache,
            index: &index,
            target: &target,
            lines: &lines,
            threads: 2,
        };
        let (seeds, said) = crate::report::capture(|| seed(&spec, &seeding, &covered));
        let seeds = seeds.expect("seeded");
        assert_eq!(seeds, work.join(SEED_DIR));
        assert_eq!(
            listing(&seeds),
            [
                "certifi-2026.10.19.post1-py3-none-any.whl",
                "idna-3.11-py3-none-any.whl",
                "pycparser-3.0-py3-none-any.whl"
            ],
            "{said:?}"
        );
        assert_eq!(fs::read(seeds.join(&files[0])).unwrap(), pycparser);
        assert_eq!(fs::read(seeds.join(&files[2])).unwrap(), certifi);
        assert!(
            said[0].contains("3 of the 3 dependencies")
                && said[0].contains("(2 from the wheel cache, 1 downloaded"),
            "{said:?}"
        );
        // The new idna is kept for the build after.
        assert!(cache
            .download_path(&sha(&idna_new), "idna-3.11-py3-none-any.whl")
            .is_file());

        // pip's resolver picks pycparser from the seeds (and cffi from the root): only that
        // seed is copied into the root, by the offline check alone.
        let mut runner = RecordingRunner {
            answer: report(&[
                root.join("cffi-2.0.0-py3-none-any.whl"),
                seeds.join("pycparser-3.0-py3-none-any.whl"),
                seeds.join("certifi-2026.10.19.post1-py3-none-any.whl"),
            ]),
            ..Default::default()
        };
        let (complete, said) = crate::report::capture(|| {
            closure_is_complete_seeded(&spec, &mut runner, &covered, Some(&seeds))
        });
        assert!(complete.unwrap(), "{said:?}");
        assert_eq!(runner.commands.len(), 1, "{:?}", runner.commands);
        let check = runner.commands[0].to_string();
        assert!(
            check.contains("--no-index")
                && check.ends_with(&format!("--find-links {} --report -", seeds.display())),
            "{check}"
        );
        assert_eq!(
            listing(&root),
            [
                "certifi-2026.10.19.post1-py3-none-any.whl",
                "cffi-2.0.0-py3-none-any.whl",
                "pycparser-3.0-py3-none-any.whl"
            ],
            "idna's seed was not picked: not in the root"
        );
        assert_eq!(
            fs::read(root.join("pycparser-3.0-py3-none-any.whl")).unwrap(),
            pycparser
        );
        assert!(
            said[0].ends_with(&format!(
                "2 seeds copied into {}: certifi-2026.10.19.post1-py3-none-any.whl pycparser-3.0-py3-none-any.whl",
                root.display()
            )),
            "{said:?}"
        );

        // Nothing recorded: no seeds, the check as before.
        let empty = WheelCache {
            dir: d.path().join("empty"),
            parts: Default::default(),
        };
        let none = Seeding {
            cache: &empty,
            ..seeding
        };
        assert_eq!(seed(&spec, &none, &covered), None);
    }

    fn file(name: &str, yanked: bool, requires_python: Option<&str>) -> File {
        File {
            filename: name.into(),
            url: reqwest::Url::parse(&format!("https://files.example/{name}")).unwrap(),
            sha256: Some("0".repeat(64)),
            yanked,
            requires_python: requires_python.map(String::from),
            size: None,
        }
    }

    #[test]
    fn the_newest_version_is_the_one_pip_takes_when_that_is_plain() {
        let tags = Tags::new([
            "cp311-cp311-manylinux_2_17_x86_64".to_string(),
            "py3-none-any".into(),
        ]);
        let newest = |files: &[File]| newest_version(files, "certifi", &tags, Some("3.11.7"));
        let mut files = vec![
            file("certifi-2025.1.31-py3-none-any.whl", false, None),
            file("certifi-2026.10.19.tar.gz", false, None),
            file("certifi-2026.10.19-py3-none-any.whl", false, None),
            file("certifi-2026.10.19.post1-py3-none-any.whl", false, None),
            file("certifi-2026.10.19.post1.tar.gz", false, None),
            // Not candidates for pip: yanked, another platform, another Python.
            file("certifi-2027.1-py3-none-any.whl", true, None),
            file("certifi-2028.1-cp312-cp312-win_amd64.whl", false, None),
            file("certifi-2029.1-py3-none-any.whl", false, Some(">=3.13")),
            // An older pre-release.
            file("certifi-2026.1rc1-py3-none-any.whl", false, None),
        ];
        assert_eq!(newest(&files).as_deref(), Some("2026.10.19.post1"));
        assert_eq!(final_release("1.2.0"), final_release("1.2"));
        assert!(final_release("1.2.post1") > final_release("1.2"));
        assert!(final_release("1.10") > final_release("1.9.9"));
        // An sdist only: that is pip's choice (it builds it; the prefetch then seeds nothing).
        files.push(file("certifi-2026.11.tar.gz", false, None));
        assert_eq!(newest(&files).as_deref(), Some("2026.11"));
        // A newer pre-release, a version loci cannot order, a requires-python it cannot
        // evaluate: pip decides, online.
        for odd in [
            file("certifi-2027.2rc1-py3-none-any.whl", false, None),
            file("certifi-2027.2.dev1-py3-none-any.whl", false, None),
            file("certifi-2026.11+local-py3-none-any.whl", false, None),
            file("certifi-1!1.0-py3-none-any.whl", false, None),
            file("certifi-2020.1-py3-none-any.whl", false, Some(">=3.8-beta")),
        ] {
            let mut with = files.clone();
            with.push(odd.clone());
            assert_eq!(newest(&with), None, "{}", odd.filename);
        }
        assert_eq!(newest(&[]), None);
    }

    #[test]
    fn an_unreadable_report_sends_the_closure_to_pip_wheel() {
        let d = tempfile::tempdir().unwrap();
        let (root, seeds) = (d.path().join("root"), d.path().join("seeds"));
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&seeds).unwrap();
        assert!(take_seeds("Would install cffi-2.0.0", &seeds, &root).is_err());
        assert!(take_seeds(r#"{"version":"1"}"#, &seeds, &root).is_err());
        assert!(take_seeds(r#"{"install":[{"metadata":{}}]}"#, &seeds, &root).is_err());
        // A seed pip did not pick stays out of the root; an index URL is not a seed.
        fs::write(seeds.join("x-1-py3-none-any.whl"), b"x").unwrap();
        let r = r#"{"install":[{"download_info":{"url":"https://files.example/y-1-py3-none-any.whl"}}]}"#;
        assert_eq!(take_seeds(r, &seeds, &root), Ok(vec![]));
        assert!(listing(&root).is_empty());
    }
}
