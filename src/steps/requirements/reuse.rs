//! The wheel cache of a requirements build: what an earlier build of the same FROM and
//! platform made or downloaded, kept in the Python package cache (the BuildKit cache mount at
//! `LOCI_CACHE_DIR/python`, directory `loci-wheels-v1`), so that a rebuild after one bumped
//! constraint fetches or builds that constraint only.
//!
//! Two kinds of entries:
//!
//! - `downloads/SHA256/FILE`: a binary wheel the prefetch downloaded (KEEP_ALL_WHEELS=True),
//!   named by the sha256 the index gives for it. Content-addressed: the prefetch copies it into
//!   the root, checking that sha256 again, instead of downloading it. The closure fetch's
//!   downloads (the dependencies of the prefetched wheels) are kept the same way, and their
//!   projects listed in `closure-dependencies.txt`, which the next build seeds its offline
//!   closure check from ([`super::closure`]).
//! - `builds/KEY/`: the wheels one `pip wheel` kept (KEEP_ALL_WHEELS=False: those it built;
//!   True: with the dependencies it fetched), and `manifest.json`. KEY is the sha256 of
//!   everything that determines that `pip wheel` besides the constraints ([`KeyParts`]): the
//!   requirement (`name===version`), PIP_WHEEL_ARGS, KEEP_ALL_WHEELS, the environment of the
//!   build (CPUCOUNT aside: a degree of parallelism), the target (the venv's Python version
//!   and its compatible tags, from `pip debug --verbose`) and the system the wheel is built on
//!   (the packages installed when the step starts). The constraints are not in the key whole,
//!   else every bump would miss every entry: the manifest records the constraint lines of
//!   every project that went into the result (each wheel kept and each build dependency pip
//!   installed, from pip's `-v` output), and the entry is used only while the current
//!   upper-constraints.txt has exactly those lines for them. A requirement that is not
//!   pinned (uwsgi, `setuptools<81`) is what the index offers: its key also has the index's
//!   list of its files ([`take_cached`]).
//!
//! An entry is written under a temporary name and renamed into place (builds sharing the
//! cache never see half an entry); one whose manifest or wheels are missing or unreadable is
//! a miss, rebuilt and replaced. A build dependency the constraints do not pin (setuptools
//! under SETUPTOOL_CONSTRAINT's cap) counts by its constraint lines (the cap), as pip's own
//! wheel cache does: its version is the one the index gave when the entry was built.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BuildItem, WheelsSpec};
use crate::constraints::normalize;
use crate::error::{Error, Result};
use crate::pypi::{Index, Page};

/// The cache's directory in the Python package cache (its version in the name: a layout
/// change starts a new one).
pub const DIR: &str = "loci-wheels-v1";

/// What a `pip wheel`'s result depends on, besides its requirement and the constraints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyParts {
    pub pip_args: Vec<String>,
    pub keep_all: bool,
    /// The build's environment, CPUCOUNT left out.
    pub env: Vec<(String, String)>,
    pub python: Option<String>,
    pub tags: Vec<String>,
    /// The installed packages' fingerprint ([`system_fingerprint`]).
    pub system: String,
}

impl KeyParts {
    /// The entry key of `requirement`: a sha256, hex.
    pub fn key(&self, requirement: &str) -> String {
        let mut h = Sha256::new();
        let mut field = |name: &str, value: &str| {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(value.as_bytes());
            h.update([0]);
        };
        field("v", "1");
        field("requirement", requirement.trim());
        for a in &self.pip_args {
            field("arg", a);
        }
        field("keep_all", if self.keep_all { "1" } else { "0" });
        for (k, v) in &self.env {
            if k != "CPUCOUNT" {
                field(k, v);
            }
        }
        field("python", self.python.as_deref().unwrap_or(""));
        for t in &self.tags {
            field("tag", t);
        }
        field("system", &self.system);
        hex::encode(h.finalize())
    }
}

/// The packages installed on the system, as `name version` pairs hashed: dpkg's status file
/// (or rpm's database), the first of `files` that exists; `"none"` when none does.
pub fn system_fingerprint(files: &[&Path]) -> String {
    for f in files {
        let Ok(text) = fs::read(f) else { continue };
        let mut h = Sha256::new();
        let text = String::from_utf8_lossy(&text);
        if f.ends_with("status") {
            // dpkg: only the installed packages and their versions (not the file's order of
            // fields, nor the state of a package that is gone).
            let mut pairs: Vec<String> = text
                .split("\n\n")
                .filter(|p| p.contains("Status: install ok installed"))
                .map(|p| {
                    let get = |k: &str| {
                        p.lines()
                            .find_map(|l| l.strip_prefix(k))
                            .unwrap_or("")
                            .trim()
                            .to_string()
                    };
                    format!(
                        "{} {} {}",
                        get("Package:"),
                        get("Architecture:"),
                        get("Version:")
                    )
                })
                .collect();
            pairs.sort();
            for p in pairs {
                h.update(p.as_bytes());
                h.update(b"\n");
            }
        } else {
            h.update(text.as_bytes());
        }
        return format!("{}:{}", f.display(), hex::encode(h.finalize()));
    }
    "none".into()
}

/// The constraint lines of every project of `upper`, by normalised name (a project may have
/// several lines, one per marker).
pub fn constraint_lines(upper: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in upper.lines() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.is_empty() || l.starts_with('-') || l.contains("://") {
            continue;
        }
        let end = l
            .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
            .unwrap_or(l.len());
        if end == 0 {
            continue;
        }
        out.entry(normalize(&l[..end]))
            .or_default()
            .push(l.to_string());
    }
    out
}

/// The build dependencies pip installed for its builds, from its `-v` output (the indented
/// `Successfully installed NAME-VERSION ...` lines of the build environments): names,
/// normalised.
pub fn build_dependencies(log: &str) -> Vec<String> {
    let mut names: Vec<String> = log
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Successfully installed "))
        .flat_map(|rest| rest.split_whitespace())
        .filter_map(|nv| nv.rsplit_once('-').map(|(n, _)| normalize(n)))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// An entry's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub requirement: String,
    /// The wheel files of the entry, as pip named them.
    pub wheels: Vec<String>,
    /// The constraint lines the result depends on, by project (empty: not constrained).
    pub constraints: BTreeMap<String, Vec<String>>,
}

impl Manifest {
    /// The manifest of a build of `requirement` that kept `wheels`, with its `log`, under
    /// the constraints `lines`.
    pub fn of_build(
        requirement: &str,
        wheels: &[String],
        log: &str,
        lines: &BTreeMap<String, Vec<String>>,
    ) -> Manifest {
        let mut names: Vec<String> = wheels
            .iter()
            .filter_map(|w| super::wheel_name_version(w).map(|(n, _)| normalize(&n)))
            .collect();
        names.extend(build_dependencies(log));
        let constraints = names
            .into_iter()
            .map(|n| {
                let l = lines.get(&n).cloned().unwrap_or_default();
                (n, l)
            })
            .collect();
        Manifest {
            requirement: requirement.trim().to_string(),
            wheels: wheels.to_vec(),
            constraints,
        }
    }

    /// Whether the entry still holds for the constraints `lines`: the first project whose
    /// lines differ, when it does not.
    pub fn stale(&self, lines: &BTreeMap<String, Vec<String>>) -> Option<String> {
        self.constraints
            .iter()
            .find(|(n, l)| lines.get(*n).map(Vec::as_slice).unwrap_or(&[]) != l.as_slice())
            .map(|(n, _)| n.clone())
    }
}

/// The cache at `dir` (the Python cache's [`DIR`]).
#[derive(Debug, Clone)]
pub struct WheelCache {
    pub dir: PathBuf,
    pub parts: KeyParts,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// Usable: its directory and wheels.
    Hit(PathBuf, Vec<String>),
    /// No entry.
    Miss,
    /// An entry, no longer valid (why).
    Stale(String),
}

impl WheelCache {
    fn entry(&self, requirement: &str) -> PathBuf {
        self.dir.join("builds").join(self.parts.key(requirement))
    }

    /// The entry of `requirement`, if valid under `lines`.
    pub fn lookup(&self, requirement: &str, lines: &BTreeMap<String, Vec<String>>) -> Lookup {
        let dir = self.entry(requirement);
        let Ok(text) = fs::read_to_string(dir.join("manifest.json")) else {
            return Lookup::Miss;
        };
        let Ok(m) = serde_json::from_str::<Manifest>(&text) else {
            return Lookup::Stale("its manifest is unreadable".into());
        };
        if m.requirement != requirement.trim() {
            return Lookup::Stale("its manifest names another requirement".into());
        }
        if let Some(n) = m.stale(lines) {
            return Lookup::Stale(format!("the constraints on {n} changed"));
        }
        if let Some(w) = m.wheels.iter().find(|w| !dir.join(w).is_file()) {
            return Lookup::Stale(format!("{w} is missing"));
        }
        Lookup::Hit(dir, m.wheels)
    }

    /// Stores the wheels `wheels` of `src` (copies) as the entry of `manifest.requirement`.
    pub fn store(&self, src: &Path, manifest: &Manifest) -> Result<()> {
        let builds = self.dir.join("builds");
        let key = self.parts.key(&manifest.requirement);
        let tmp = builds.join(format!(
            ".{key}.{}.{:?}.part",
            std::process::id(),
            std::thread::current().id()
        ));
        let fail = |e: std::io::Error| {
            Error::new(format!(
                "cannot store {} in the wheel cache",
                manifest.requirement
            ))
            .cause(e)
        };
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(fail)?;
        let done = (|| -> std::io::Result<()> {
            for w in &manifest.wheels {
                fs::copy(src.join(w), tmp.join(w))?;
            }
            let json = serde_json::to_string_pretty(manifest).map_err(std::io::Error::other)?;
            fs::write(tmp.join("manifest.json"), json)?;
            let to = builds.join(&key);
            let _ = fs::remove_dir_all(&to);
            fs::rename(&tmp, &to)
        })();
        if done.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        done.map_err(fail)
    }

    /// Where a downloaded wheel with this sha256 is kept.
    pub fn download_path(&self, sha256: &str, file: &str) -> PathBuf {
        self.dir.join("downloads").join(sha256).join(file)
    }

    /// Copies the cached download `file` (sha256 `sha256`) into `dest`, checking its sha256;
    /// `false` when the cache has no such file (or a damaged one, which is removed).
    pub fn take_download(&self, sha256: &str, file: &str, dest: &Path) -> bool {
        let from = self.download_path(sha256, file);
        if !from.is_file() {
            return false;
        }
        if sha256_of(&from).ok().as_deref() != Some(sha256) {
            let _ = fs::remove_file(&from);
            return false;
        }
        copy_into(&from, dest, file).is_ok()
    }

    /// Keeps the downloaded `dest/file` (sha256 `sha256`) for later builds; failures only cost
    /// a download next time.
    pub fn keep_download(&self, sha256: &str, file: &str, dest: &Path) {
        let to = self.download_path(sha256, file);
        if to.is_file() {
            return;
        }
        if let Some(dir) = to.parent() {
            let _ = fs::create_dir_all(dir).and_then(|()| copy_into(&dest.join(file), dir, file));
        }
    }
}

/// The projects the closure fetch of earlier builds downloaded (KEEP_ALL_WHEELS=True; see
/// [`super::closure`]), one normalised name a line.
pub const CLOSURE_DEPENDENCIES: &str = "closure-dependencies.txt";

impl WheelCache {
    /// The projects earlier closure fetches downloaded (none when the record is missing).
    pub fn closure_dependencies(&self) -> std::collections::BTreeSet<String> {
        fs::read_to_string(self.dir.join(CLOSURE_DEPENDENCIES))
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Keeps the wheels `files` of `root`, which the closure fetch downloaded, by their sha256
    /// (as the prefetch keeps its downloads), and adds their projects to the record (written
    /// whole under a temporary name, then renamed). Returns the files kept; a failure only
    /// costs a download next time.
    pub fn keep_closure_dependencies(&self, root: &Path, files: &[String]) -> Vec<String> {
        let mut names = self.closure_dependencies();
        let mut kept = Vec::new();
        for f in files {
            let Some((name, _)) = super::wheel_name_version(f) else {
                continue;
            };
            let Ok(sha) = sha256_of(&root.join(f)) else {
                continue;
            };
            self.keep_download(&sha, f, root);
            if self.download_path(&sha, f).is_file() {
                names.insert(normalize(&name));
                kept.push(f.clone());
            }
        }
        if kept.is_empty() {
            return kept;
        }
        let text: String = names.iter().map(|n| format!("{n}\n")).collect();
        let to = self.dir.join(CLOSURE_DEPENDENCIES);
        let part = self.dir.join(format!(
            ".{CLOSURE_DEPENDENCIES}.{}.part",
            std::process::id()
        ));
        if fs::write(&part, text)
            .and_then(|()| fs::rename(&part, &to))
            .is_err()
        {
            let _ = fs::remove_file(&part);
        }
        kept
    }
}

/// Where the installed packages are listed, for the key's system fingerprint.
const PACKAGE_DBS: &[&str] = &[
    "/var/lib/dpkg/status",
    "/var/lib/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages",
];

impl WheelCache {
    /// The wheel cache of a build: `None` without PACKAGE_CACHE. Its target is set by
    /// [`WheelCache::with_target`].
    pub fn for_spec(spec: &WheelsSpec) -> Option<WheelCache> {
        let dir = spec.cache.clone()?;
        let dbs: Vec<&Path> = PACKAGE_DBS.iter().map(Path::new).collect();
        Some(WheelCache {
            dir,
            parts: KeyParts {
                pip_args: spec.pip.args.clone(),
                keep_all: spec.keep_all,
                env: spec.pip.env.clone(),
                python: None,
                tags: Vec::new(),
                system: system_fingerprint(&dbs),
            },
        })
    }

    /// This cache keyed by the venv's Python and its compatible tags (pip's, best first).
    pub fn with_target(mut self, python: Option<String>, tags: Vec<String>) -> WheelCache {
        self.parts.python = python;
        self.parts.tags = tags;
        self
    }
}

/// A fingerprint of a project's files on the index (their names and whether yanked): what
/// pip chooses a requirement that is not pinned from.
fn index_fingerprint(index: &Index, name: &str) -> Option<String> {
    let Page::Files(files) = index.project(name).ok()? else {
        return None;
    };
    let mut names: Vec<String> = files
        .iter()
        .map(|f| format!("{} {}", f.filename, f.yanked))
        .collect();
    names.sort();
    Some(hex::encode(Sha256::digest(names.join("\n"))))
}

/// Copies into `root` the wheels of every item of `rest` whose entry holds under `lines`, and
/// says what it reused and what was out of date; returns the items left to build with their
/// entry keys. A requirement that is not pinned (uwsgi, `setuptools<81`) is what the index
/// offers: its key has the index's files of it too, and without the index it is not cached.
/// `pinned` says whether a requirement pins one version.
pub fn take_cached(
    cache: Option<&WheelCache>,
    rest: &[BuildItem],
    lines: &BTreeMap<String, Vec<String>>,
    index: Option<&Index>,
    pinned: &dyn Fn(&str) -> bool,
    root: &Path,
) -> Result<(Vec<BuildItem>, BTreeMap<String, String>)> {
    let Some(c) = cache else {
        return Ok((rest.to_vec(), BTreeMap::new()));
    };
    let key_of = |item: &BuildItem| -> Option<String> {
        if pinned(&item.requirement) {
            return Some(item.requirement.clone());
        }
        let f = index_fingerprint(index?, &item.name)?;
        Some(format!("{} (index files {f})", item.requirement))
    };
    let (mut items, mut keys) = (Vec::new(), BTreeMap::new());
    let (mut reused, mut stale) = (Vec::new(), Vec::new());
    for item in rest.iter().cloned() {
        let Some(key) = key_of(&item) else {
            items.push(item);
            continue;
        };
        match c.lookup(&key, lines) {
            Lookup::Hit(dir, wheels) => {
                for w in &wheels {
                    copy_into(&dir.join(w), root, w)
                        .map_err(|e| crate::disk::write_error(&root.join(w), e, None))?;
                }
                reused.push(format!("{} ({})", item.requirement, wheels.join(" ")));
                continue;
            }
            Lookup::Stale(why) => stale.push(format!("{} ({why})", item.requirement)),
            Lookup::Miss => {}
        }
        keys.insert(item.requirement.clone(), key);
        items.push(item);
    }
    let list = |what: &str, v: &[String]| {
        if v.is_empty() {
            String::new()
        } else {
            format!("; {what}: {}", v.join(", "))
        }
    };
    crate::say!(
        "wheel cache ({}): {} of the {} left to pip wheel reused, {} to build{}{}",
        c.dir.display(),
        reused.len(),
        rest.len(),
        items.len(),
        list("reused", &reused),
        list("out of date", &stale)
    );
    Ok((items, keys))
}

/// The sha256 of a file, hex.
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Copies `from` to `dir/file` under a hidden temporary name, then renames it: nobody sees
/// half a wheel. A file already there is left as it is.
pub fn copy_into(from: &Path, dir: &Path, file: &str) -> std::io::Result<()> {
    let to = dir.join(file);
    if to.exists() {
        return Ok(());
    }
    let part = dir.join(format!(
        ".{file}.{}.{:?}.part",
        std::process::id(),
        std::thread::current().id()
    ));
    let r = fs::copy(from, &part).and_then(|_| fs::rename(&part, &to));
    if r.is_err() {
        let _ = fs::remove_file(&part);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> KeyParts {
        KeyParts {
            pip_args: vec!["-v".into()],
            keep_all: true,
            env: vec![
                ("UWSGI_PROFILE_OVERRIDE".into(), "ssl=true".into()),
                ("CPUCOUNT".into(), "2".into()),
            ],
            python: Some("3.11.2".into()),
            tags: vec![
                "cp311-cp311-manylinux_2_36_x86_64".into(),
                "py3-none-any".into(),
            ],
            system: "dpkg:abc".into(),
        }
    }

    #[test]
    fn the_key_changes_with_every_input_but_the_cpu_count() {
        let p = parts();
        let k = p.key("six===1.17.0");
        assert_eq!(k.len(), 64);
        assert_eq!(
            k,
            p.key(" six===1.17.0\n"),
            "the line's blanks do not count"
        );
        assert_ne!(k, p.key("six===1.16.0"), "the version");
        assert_ne!(k, p.key("docopt===1.17.0"), "the name");
        let mut cpus = p.clone();
        cpus.env[1].1 = "64".into();
        assert_eq!(k, cpus.key("six===1.17.0"), "CPUCOUNT is parallelism only");
        let changed: [fn(&mut KeyParts); 6] = [
            |p| p.pip_args.push("--pre".into()),
            |p| p.keep_all = false,
            |p| p.env[0].1 = "ssl=false".into(),
            |p| p.python = Some("3.12.1".into()),
            |p| p.tags[0] = "cp311-cp311-manylinux_2_36_aarch64".into(),
            |p| p.system = "dpkg:def".into(),
        ];
        for (i, change) in changed.iter().enumerate() {
            let mut q = p.clone();
            change(&mut q);
            assert_ne!(k, q.key("six===1.17.0"), "change {i}");
        }
    }

    #[test]
    fn constraint_lines_by_normalised_name() {
        let upper = "# comment\nSix===1.17.0\noslo.config===10.3.0\n\
                     pywin32===306;sys_platform=='win32'\npywin32===305;sys_platform=='cygwin'\n\
                     setuptools<81\ngit+https://x/y#egg=z\n-e ./foo\n";
        let l = constraint_lines(upper);
        assert_eq!(l["six"], ["Six===1.17.0"]);
        assert_eq!(l["oslo-config"], ["oslo.config===10.3.0"]);
        assert_eq!(l["pywin32"].len(), 2);
        assert_eq!(l["setuptools"], ["setuptools<81"]);
        assert_eq!(l.len(), 4);
    }

    #[test]
    fn build_dependencies_from_pips_verbose_output() {
        let log = "Collecting docopt===0.6.2\n  Running command installing build dependencies for docopt\n\
                   \x20 Successfully installed setuptools-80.9.0 setuptools_scm-8.1.0\n\
                   \x20 Successfully installed wheel-0.45.1\n\
                   \x20 Created wheel for docopt: filename=docopt-0.6.2-py2.py3-none-any.whl size=1 sha256=00\n";
        assert_eq!(
            build_dependencies(log),
            ["setuptools", "setuptools-scm", "wheel"]
        );
    }

    #[test]
    fn an_entry_holds_while_its_projects_constraints_do() {
        let upper = "docopt===0.6.2\nsetuptools<81\nsix===1.17.0\npbr===7.0.3\n";
        let lines = constraint_lines(upper);
        let log = "  Successfully installed setuptools-80.9.0\n";
        let m = Manifest::of_build(
            "docopt===0.6.2",
            &["docopt-0.6.2-py2.py3-none-any.whl".into()],
            log,
            &lines,
        );
        assert_eq!(
            m.constraints.keys().collect::<Vec<_>>(),
            ["docopt", "setuptools"]
        );
        assert_eq!(m.stale(&lines), None);
        // Another constraint bumped: still valid.
        let bumped = constraint_lines("docopt===0.6.2\nsetuptools<81\nsix===1.18.0\npbr===7.0.3\n");
        assert_eq!(m.stale(&bumped), None);
        // Its build dependency's cap changed: stale.
        let capped = constraint_lines("docopt===0.6.2\nsetuptools<82\nsix===1.17.0\n");
        assert_eq!(m.stale(&capped).as_deref(), Some("setuptools"));
        // A dependency that was not constrained and now is: stale.
        let m2 = Manifest::of_build(
            "x===1",
            &["x-1-py3-none-any.whl".into(), "y-2-py3-none-any.whl".into()],
            "",
            &constraint_lines("x===1\n"),
        );
        assert_eq!(m2.stale(&constraint_lines("x===1\n")), None);
        assert_eq!(
            m2.stale(&constraint_lines("x===1\ny===2\n")).as_deref(),
            Some("y")
        );
    }

    #[test]
    fn store_lookup_and_what_makes_an_entry_stale() {
        let d = tempfile::tempdir().unwrap();
        let cache = WheelCache {
            dir: d.path().join("cache"),
            parts: parts(),
        };
        let src = d.path().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("x-1-py3-none-any.whl"), b"wheel").unwrap();
        let lines = constraint_lines("x===1\n");
        assert!(matches!(cache.lookup("x===1", &lines), Lookup::Miss));
        let m = Manifest::of_build("x===1", &["x-1-py3-none-any.whl".into()], "", &lines);
        cache.store(&src, &m).unwrap();
        assert!(
            src.join("x-1-py3-none-any.whl").is_file(),
            "copied, not moved"
        );
        let Lookup::Hit(dir, wheels) = cache.lookup("x===1", &lines) else {
            panic!()
        };
        assert_eq!(wheels, ["x-1-py3-none-any.whl"]);
        assert_eq!(fs::read(dir.join(&wheels[0])).unwrap(), b"wheel");
        // Other key parts: another entry.
        let mut other = cache.clone();
        other.parts.python = Some("3.12.0".into());
        assert!(matches!(other.lookup("x===1", &lines), Lookup::Miss));
        // A wheel gone (the cache's repair removed a damaged one): stale.
        fs::remove_file(dir.join(&wheels[0])).unwrap();
        assert!(matches!(cache.lookup("x===1", &lines), Lookup::Stale(w) if w.contains("missing")));
        // Stored again: replaced whole; no temporary left.
        cache.store(&src, &m).unwrap();
        assert!(matches!(cache.lookup("x===1", &lines), Lookup::Hit(..)));
        let names: Vec<String> = fs::read_dir(d.path().join("cache/builds"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [cache.parts.key("x===1")]);
    }

    #[test]
    fn downloads_are_kept_by_sha256_and_checked_when_taken() {
        let d = tempfile::tempdir().unwrap();
        let cache = WheelCache {
            dir: d.path().join("cache"),
            parts: parts(),
        };
        let root = d.path().join("root");
        let other = d.path().join("other");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&other).unwrap();
        let f = "six-1.17.0-py2.py3-none-any.whl";
        fs::write(root.join(f), b"six").unwrap();
        let sha = sha256_of(&root.join(f)).unwrap();
        assert!(!cache.take_download(&sha, f, &other));
        cache.keep_download(&sha, f, &root);
        assert!(cache.take_download(&sha, f, &other));
        assert_eq!(fs::read(other.join(f)).unwrap(), b"six");
        // Damaged in the cache: not taken, removed.
        fs::write(cache.download_path(&sha, f), b"sxx").unwrap();
        let third = d.path().join("third");
        fs::create_dir_all(&third).unwrap();
        assert!(!cache.take_download(&sha, f, &third));
        assert!(!third.join(f).exists());
        assert!(!cache.download_path(&sha, f).exists());
    }
}
