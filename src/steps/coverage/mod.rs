//! Step `coverage`: what the build installed from a source tree covers the tree's packages.
//!
//! A build backend that cannot see a tree's file list builds a wheel without complaint: pbr in
//! a git work tree without git installs the top-level modules only (keystone 29: 5 of 597
//! files of `keystone/`), and the image is broken though every command succeeded. After the
//! install step this step compares, for the project and every EXTRA_PROJECTS tree, the files
//! of the tree's packages with the RECORD of the distribution installed from it, and fails the
//! build naming what is missing and the likely cause. The requirements build checks the wheels
//! it builds from source trees the same way ([`check_wheel`]).
//!
//! - The tree's files are what its build backend reads: `git ls-files` (the index, through
//!   libgit2) in a git work tree, else the egg-info's SOURCES.txt of an sdist, else the tree.
//! - Its packages are the installed distribution's top-level names (`top_level.txt`, else
//!   RECORD's), found at the tree's root or below `src/`.
//! - Left out on purpose, so not expected: bytecode, MANIFEST.in's `prune`, `exclude`,
//!   `global-exclude` and `recursive-exclude`, the packages excluded from setuptools' package
//!   finder and the exclude-package-data patterns (setup.cfg's `[options.packages.find]` and
//!   `[options.exclude_package_data]`, pyproject.toml's `[tool.setuptools.packages.find]` and
//!   `[tool.setuptools.exclude-package-data]`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Context as _, Error, Result};
use crate::plan::{Cmd, CoverageAction, PlanInput, Step};
use crate::runner::{Context, Runner};

mod exclusions;

pub use exclusions::{glob, Exclusions};

/// The `coverage` step: after the install, for the trees it installed.
pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let trees = super::source_tree::source_trees(input);
    let names: Vec<String> = trees.iter().map(|t| t.display().to_string()).collect();
    Ok(Some(
        Step::new(
            "coverage",
            format!("the install covers the packages of {}", names.join(", ")),
        )
        .action(check_action(input, trees)),
    ))
}

/// The action checking the installs of `trees` into the build's venv.
pub fn check_action(input: &PlanInput, trees: Vec<PathBuf>) -> CoverageAction {
    CoverageAction::CheckInstall {
        venv: input.config.paths.venv.clone(),
        trees,
    }
}

impl fmt::Display for CoverageAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CoverageAction::CheckInstall { venv, trees } = self;
        let trees: Vec<String> = trees.iter().map(|t| t.display().to_string()).collect();
        write!(
            f,
            "check that {}'s RECORD of each of {} holds every file of the tree's packages",
            venv.display(),
            trees.join(" ")
        )
    }
}

/// Runs one action of this module.
pub fn run(action: &CoverageAction, ctx: &mut Context) -> Result<()> {
    let CoverageAction::CheckInstall { venv, trees } = action;
    let site = site_packages(venv)?;
    for tree in trees {
        let installed = installed_from(&site, tree)?;
        let what = format!("the install of {} from {}", installed.name, tree.display());
        check(tree, &installed, &what, ctx.runner)?;
    }
    Ok(())
}

/// Checks the wheel built from `tree` (a requirements build's source tree).
pub fn check_wheel(wheel: &Path, tree: &Path, runner: &mut dyn Runner) -> Result<()> {
    let contents = wheel_contents(wheel)?;
    let what = format!(
        "the wheel {} built from {}",
        wheel.file_name().unwrap_or_default().to_string_lossy(),
        tree.display()
    );
    check(tree, &contents, &what, runner)
}

/// Compares, reports a success in the log, or fails naming what is missing and why.
fn check(tree: &Path, installed: &Installed, what: &str, runner: &mut dyn Runner) -> Result<()> {
    let expected = expected_files(tree, &installed.top_level)?;
    let missing = missing(&expected.files, &installed.files);
    if missing.is_empty() {
        crate::say!(
            "{what}: complete, all {} files of {} that {} lists",
            expected.files.len(),
            installed.top_level.join(", "),
            expected.listing
        );
        return Ok(());
    }
    let (cause, hint) = likely_cause(tree, &expected.listing, &missing, runner);
    Err(Error::new(format!(
        "{what} is missing {} of the {} files of its packages ({}, as {} lists them): {}",
        missing.len(),
        expected.files.len(),
        installed.top_level.join(", "),
        expected.listing,
        missing_modules(&missing)
    ))
    .cause(format!("{cause}\nmissing:\n{}", describe(&missing)))
    .hint(hint))
}

/// How the tree's file list was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// The git index of a work tree (what `git ls-files` prints, as pbr reads it).
    Git,
    /// Every file below the tree.
    Walk,
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listing::Git => write!(f, "git ls-files"),
            Listing::Walk => write!(f, "the source tree"),
        }
    }
}

/// The files a tree's packages should have installed, relative to site-packages.
#[derive(Debug)]
pub struct Expected {
    pub files: BTreeSet<String>,
    pub listing: Listing,
}

/// What was installed (a RECORD) or built (a wheel) from a tree.
#[derive(Debug, Default)]
pub struct Installed {
    /// The distribution's name, as its dist-info spells it.
    pub name: String,
    /// Its files, relative to site-packages.
    pub files: BTreeSet<String>,
    /// Its top-level packages and modules.
    pub top_level: Vec<String>,
}

/// The venv's site-packages (`lib/python3.X/site-packages`).
pub fn site_packages(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    let found = fs::read_dir(&lib)
        .context(|| format!("cannot read {}", lib.display()))?
        .filter_map(|e| e.ok().map(|e| e.path().join("site-packages")))
        .find(|p| p.is_dir());
    found.ok_or_else(|| {
        Error::new(format!("no python3.X/site-packages in {}", lib.display()))
            .hint("the venv step makes the venv: check its log")
    })
}

/// The distribution installed from `tree`: the dist-info whose direct_url.json names the tree
/// (pip and uv write one for a local install), else the one of the tree's name.
pub fn installed_from(site: &Path, tree: &Path) -> Result<Installed> {
    let want_url = format!("file://{}", tree.display());
    let name = super::source_tree::tree_name(tree);
    let mut by_name = None;
    let entries = fs::read_dir(site).context(|| format!("cannot read {}", site.display()))?;
    let mut infos: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "dist-info"))
        .collect();
    infos.sort();
    for info in infos {
        if let Ok(text) = fs::read_to_string(info.join("direct_url.json")) {
            let url = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v["url"]
                        .as_str()
                        .map(|u| u.trim_end_matches('/').to_string())
                });
            if url.as_deref() == Some(want_url.trim_end_matches('/')) {
                return read_dist_info(site, &info);
            }
        }
        let stem = info.file_stem().unwrap_or_default().to_string_lossy();
        let dist = stem.split('-').next().unwrap_or_default();
        if name.as_deref().is_some_and(|n| {
            crate::constraints::normalize(n) == crate::constraints::normalize(dist)
        }) {
            by_name = Some(info);
        }
    }
    match by_name {
        Some(info) => read_dist_info(site, &info),
        None => Err(Error::new(format!(
            "nothing in {} was installed from {}",
            site.display(),
            tree.display()
        ))
        .cause(format!(
            "no dist-info has a direct_url.json naming {want_url}{}",
            name.map(|n| format!(" or the tree's name, {n}"))
                .unwrap_or_default()
        ))
        .hint("the install step installs the tree: check its log")),
    }
}

/// RECORD and top_level.txt of an installed dist-info.
fn read_dist_info(site: &Path, info: &Path) -> Result<Installed> {
    let record = info.join("RECORD");
    let text =
        fs::read_to_string(&record).context(|| format!("cannot read {}", record.display()))?;
    let files: BTreeSet<String> = text.lines().filter_map(record_path).collect();
    let top = fs::read_to_string(info.join("top_level.txt")).ok();
    let stem = info.file_stem().unwrap_or_default().to_string_lossy();
    let _ = site;
    Ok(Installed {
        name: stem.split('-').next().unwrap_or_default().to_string(),
        top_level: top_level(top.as_deref(), &files),
        files,
    })
}

/// The names of a wheel's files, and its dist-info's name and top_level.txt.
pub fn wheel_contents(wheel: &Path) -> Result<Installed> {
    let file = fs::File::open(wheel).context(|| format!("cannot open {}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| Error::new(format!("{} is not a wheel", wheel.display())).caused_by(e))?;
    let files: BTreeSet<String> = zip.file_names().map(String::from).collect();
    let top_file = files
        .iter()
        .find(|f| f.ends_with(".dist-info/top_level.txt") && f.matches('/').count() == 1)
        .cloned();
    let mut top = None;
    if let Some(f) = top_file {
        let mut text = String::new();
        if let Ok(mut entry) = zip.by_name(&f) {
            let _ = entry.read_to_string(&mut text);
        }
        top = Some(text);
    }
    let name = wheel
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .split('-')
        .next()
        .unwrap_or_default()
        .to_string();
    Ok(Installed {
        name,
        top_level: top_level(top.as_deref(), &files),
        files,
    })
}

/// The path of a RECORD line (CSV: `path,hash,size`; a path with a comma is quoted).
fn record_path(line: &str) -> Option<String> {
    let line = line.trim_end_matches('\r');
    if line.is_empty() {
        return None;
    }
    if let Some(rest) = line.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    out.push('"');
                    chars.next();
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        return Some(out);
    }
    Some(line.split(',').next().unwrap_or_default().to_string())
}

/// top_level.txt's names, else the top-level packages and modules of the file list.
fn top_level(text: Option<&str>, files: &BTreeSet<String>) -> Vec<String> {
    let mut names: BTreeSet<String> = text
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.replace('.', "/"))
        .collect();
    if names.is_empty() {
        for f in files {
            let first = f.split('/').next().unwrap_or_default();
            let is_meta =
                first.ends_with(".dist-info") || first.ends_with(".data") || first == "..";
            if is_meta || first == "__pycache__" {
                continue;
            }
            if f.contains('/') {
                names.insert(first.to_string());
            } else if let Some(m) = first.strip_suffix(".py") {
                names.insert(m.to_string());
            }
        }
    }
    names.into_iter().collect()
}

/// The files of `tree`'s packages `top_level`, as installed paths, less what the project
/// leaves out on purpose.
pub fn expected_files(tree: &Path, top_level: &[String]) -> Result<Expected> {
    let (files, listing) = source_files(tree)?;
    let rules = Exclusions::read(tree);
    let mut expected = BTreeSet::new();
    for top in top_level {
        // The package's place in the tree: at its root, or below src/ (a src layout).
        let base = if tree.join(top).is_dir() || tree.join(format!("{top}.py")).is_file() {
            String::new()
        } else if tree.join("src").join(top).is_dir() {
            "src/".to_string()
        } else {
            continue;
        };
        let dir = format!("{base}{top}/");
        let module = format!("{base}{top}.py");
        for f in &files {
            let installed = if let Some(rest) = f.strip_prefix(&dir) {
                format!("{top}/{rest}")
            } else if *f == module {
                format!("{top}.py")
            } else {
                continue;
            };
            if !rules.excludes(f, &installed) {
                expected.insert(installed);
            }
        }
    }
    Ok(Expected {
        files: expected,
        listing,
    })
}

/// The tree's files as its build backend should see them (relative, `/`-separated): in a git
/// work tree the index (what `git ls-files` prints, all pbr packs), else every file of the
/// tree. An sdist's egg-info SOURCES.txt is not taken as the list: a file added to the tree
/// after the sdist was made (a patch) is in the tree but not in SOURCES.txt, and pbr would
/// leave it out without a word.
pub fn source_files(tree: &Path) -> Result<(Vec<String>, Listing)> {
    if tree.join(".git").exists() {
        if let Ok(repo) = git2::Repository::open(tree) {
            let index = repo.index().map_err(|e| {
                Error::new(format!("cannot read the git index of {}", tree.display())).caused_by(e)
            })?;
            let files = index
                .iter()
                .map(|e| String::from_utf8_lossy(&e.path).into_owned())
                .collect();
            return Ok((files, Listing::Git));
        }
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(tree)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
    {
        let entry = entry
            .map_err(|e| Error::new(format!("cannot list {}", tree.display())).caused_by(e))?;
        if entry.file_type().is_file() {
            if let Ok(rel) = entry.path().strip_prefix(tree) {
                files.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    Ok((files, Listing::Walk))
}

/// The SOURCES.txt of an sdist tree's egg-info (at the root or below src/).
fn egg_info_sources(tree: &Path) -> Option<PathBuf> {
    [tree.to_path_buf(), tree.join("src")]
        .iter()
        .filter_map(|d| fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "egg-info"))
        .map(|p| p.join("SOURCES.txt"))
        .find(|p| p.is_file())
}

/// The expected files that were not installed.
pub fn missing(expected: &BTreeSet<String>, installed: &BTreeSet<String>) -> Vec<String> {
    expected.difference(installed).cloned().collect()
}

/// The missing packages and modules as Python names, most files first: `keystone.cmd (12
/// files), keystone.api (40 files), ...`.
pub fn missing_modules(missing: &[String]) -> String {
    let groups = by_package(missing);
    let mut ranked: Vec<(&String, &Vec<String>)> = groups.iter().collect();
    ranked.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let shown: Vec<String> = ranked
        .iter()
        .take(8)
        .map(|(pkg, files)| format!("{pkg} ({} files)", files.len()))
        .collect();
    let more = ranked.len().saturating_sub(shown.len());
    let mut s = shown.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more packages"));
    }
    s
}

/// Every missing file, by package, a line each (at most 40 lines).
fn describe(missing: &[String]) -> String {
    let groups = by_package(missing);
    let mut lines: Vec<String> = groups
        .iter()
        .map(|(pkg, files)| {
            let mut names = files.iter().take(6).cloned().collect::<Vec<_>>().join(" ");
            if files.len() > 6 {
                names.push_str(&format!(" ... ({} files)", files.len()));
            }
            format!("  {pkg}: {names}")
        })
        .collect();
    if lines.len() > 40 {
        let more = lines.len() - 40;
        lines.truncate(40);
        lines.push(format!("  ... and {more} more packages"));
    }
    lines.join("\n")
}

/// Missing files by the Python package (dotted directory) they belong in.
fn by_package(missing: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in missing {
        let (dir, name) = f.rsplit_once('/').unwrap_or(("", f));
        groups
            .entry(dir.replace('/', "."))
            .or_default()
            .push(name.to_string());
    }
    groups
}

/// The likely cause of a shortfall, and what to try.
fn likely_cause(
    tree: &Path,
    listing: &Listing,
    missing: &[String],
    runner: &mut dyn Runner,
) -> (String, String) {
    let in_git = tree.ancestors().any(|d| d.join(".git").exists());
    if in_git {
        let ls = Cmd::new(
            "git",
            [
                "-C".to_string(),
                tree.display().to_string(),
                "ls-files".into(),
            ],
        );
        return match runner.output(&ls) {
            Err(e) if e.what.contains("is not installed") => (
                format!(
                    "pbr built it without git: {} is a git work tree, where pbr lists a package's files with `git ls-files` and, without git, packs the top-level modules only",
                    tree.display()
                ),
                "a tree in git needs git in the build (loci's base step installs it for such trees; did DIST_PACKAGES, a child image or PATH take it away?), or give an sdist tree without .git".into(),
            ),
            Err(e) => (
                format!("`git ls-files` fails in {}, so pbr saw no files: {}", tree.display(), e.what),
                "git refuses a work tree another user owns (\"dubious ownership\"): the tree must belong to the user the build runs as".into(),
            ),
            Ok(_) => (
                format!("the build backend left them out although {listing} lists them"),
                "check the project's packaging (packages, package data, MANIFEST.in)".into(),
            ),
        };
    }
    let missing_from_sources = egg_info_sources(tree).and_then(|sources| {
        let text = fs::read_to_string(&sources).ok()?;
        let listed: BTreeSet<&str> = text.lines().map(str::trim).collect();
        let unlisted = missing
            .iter()
            .filter(|f| !listed.contains(in_tree(tree, f).as_str()))
            .count();
        Some((sources, unlisted))
    });
    match missing_from_sources {
        Some((sources, n)) if n > 0 => (
            format!(
                "{n} of them are not in {}: pbr and setuptools build an sdist tree from that list, so files added to the tree after the sdist was made are left out",
                sources.display()
            ),
            "give the tree as a git checkout (pbr then lists its files with git), or make a new sdist of it".into(),
        ),
        Some((sources, _)) => (
            format!("the build backend left them out although {} lists them", sources.display()),
            "check the project's packaging (packages, package data, MANIFEST.in)".into(),
        ),
        None => (
            format!(
                "the build backend left them out ({} has no .git and no egg-info SOURCES.txt: was it made by hand?)",
                tree.display()
            ),
            "check the project's packaging (packages, package data, MANIFEST.in)".into(),
        ),
    }
}

/// The path in the tree of an installed path (below `src/` in a src layout).
fn in_tree(tree: &Path, installed: &str) -> String {
    let top = installed.split('/').next().unwrap_or_default();
    if !tree.join(top).exists() && tree.join("src").join(top).exists() {
        format!("src/{installed}")
    } else {
        installed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runner whose `git` is not installed (and records nothing else).
    struct NoGit;
    impl Runner for NoGit {
        fn run(&mut self, cmd: &Cmd) -> Result<()> {
            self.output(cmd).map(|_| ())
        }
        fn output(&mut self, cmd: &Cmd) -> Result<String> {
            Err(Error::new(format!("`{}` is not installed", cmd.program)))
        }
        fn probe(&mut self, cmd: &Cmd) -> Result<String> {
            self.output(cmd)
        }
    }

    const FILES: &[&str] = &[
        "demo/__init__.py",
        "demo/cmd/__init__.py",
        "demo/cmd/manage.py",
        "demo/api/__init__.py",
        "demo/api/v1.py",
        "demo/templates/page.html",
        "demo/locale/de/LC_MESSAGES/demo.po",
    ];

    /// An unpacked sdist of `demo` (PKG-INFO, egg-info with SOURCES.txt) under `dir/demo`.
    fn sdist(dir: &Path) -> PathBuf {
        let tree = dir.join("demo");
        for f in FILES {
            let p = tree.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, f).unwrap();
        }
        fs::write(
            tree.join("PKG-INFO"),
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0.0\n",
        )
        .unwrap();
        fs::write(tree.join("setup.cfg"), "[metadata]\nname = demo\n").unwrap();
        fs::create_dir_all(tree.join("demo.egg-info")).unwrap();
        let mut sources: Vec<&str> = FILES.to_vec();
        sources.extend(["PKG-INFO", "setup.cfg", "demo.egg-info/SOURCES.txt"]);
        fs::write(tree.join("demo.egg-info/SOURCES.txt"), sources.join("\n")).unwrap();
        // Bytecode left by an earlier build is not part of the package.
        fs::create_dir_all(tree.join("demo/__pycache__")).unwrap();
        fs::write(tree.join("demo/__pycache__/x.cpython-311.pyc"), "").unwrap();
        tree
    }

    /// A site-packages holding demo installed from `tree` with these files of the package.
    fn site_with(dir: &Path, tree: &Path, files: &[&str], top_level: bool) -> PathBuf {
        let site = dir.join("venv/lib/python3.11/site-packages");
        let info = site.join("demo-1.0.0.dist-info");
        fs::create_dir_all(&info).unwrap();
        let mut record: Vec<String> = files.iter().map(|f| format!("{f},sha256=x,1")).collect();
        record.push("demo-1.0.0.dist-info/RECORD,,".into());
        record.push("\"demo-1.0.0.dist-info/odd,name\",sha256=y,2".into());
        record.push("../../../bin/demo-manage,sha256=z,3".into());
        fs::write(info.join("RECORD"), record.join("\n") + "\n").unwrap();
        if top_level {
            fs::write(info.join("top_level.txt"), "demo\n").unwrap();
        }
        fs::write(
            info.join("direct_url.json"),
            format!(
                "{{\"url\": \"file://{}\", \"dir_info\": {{}}}}",
                tree.display()
            ),
        )
        .unwrap();
        // Another distribution, installed from the index.
        fs::create_dir_all(site.join("other-2.0.dist-info")).unwrap();
        fs::write(
            site.join("other-2.0.dist-info/RECORD"),
            "other/__init__.py,,\n",
        )
        .unwrap();
        site
    }

    #[test]
    fn a_whole_install_passes_and_a_truncated_one_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sdist(dir.path());
        let site = site_with(dir.path(), &tree, FILES, true);
        assert_eq!(site_packages(&dir.path().join("venv")).unwrap(), site);
        let installed = installed_from(&site, &tree).unwrap();
        assert_eq!(installed.name, "demo");
        assert_eq!(installed.top_level, ["demo"]);
        assert!(installed.files.contains("demo-1.0.0.dist-info/odd,name"));
        check(&tree, &installed, "demo", &mut NoGit).unwrap();

        // What pbr packs without its file list: the top-level modules only.
        let dir = tempfile::tempdir().unwrap();
        let tree = sdist(dir.path());
        let site = site_with(dir.path(), &tree, &["demo/__init__.py"], false);
        let installed = installed_from(&site, &tree).unwrap();
        assert_eq!(
            installed.top_level,
            ["demo"],
            "from RECORD without top_level.txt"
        );
        let e = check(&tree, &installed, "the install of demo", &mut NoGit)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the install of demo is missing 6 of the 7 files of its packages (demo, as"),
            "{e}"
        );
        assert!(
            e.contains(
                "demo.api (2 files), demo.cmd (2 files), demo.locale.de.LC_MESSAGES (1 files)"
            ),
            "{e}"
        );
        assert!(e.contains("demo.cmd: __init__.py manage.py"), "{e}");
        assert!(e.contains("SOURCES.txt lists them"), "{e}");

        // A module added to the sdist tree after it was made: not in SOURCES.txt, so pbr
        // leaves it out; the tree, not SOURCES.txt, says what is expected.
        fs::write(tree.join("demo/cmd/patched.py"), "").unwrap();
        let site = site_with(dir.path(), &tree, FILES, true);
        let installed = installed_from(&site, &tree).unwrap();
        let e = check(&tree, &installed, "the install of demo", &mut NoGit)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing 1 of the 8 files"), "{e}");
        assert!(e.contains("demo.cmd: patched.py"), "{e}");
        assert!(e.contains("1 of them are not in"), "{e}");
        assert!(
            e.contains("files added to the tree after the sdist was made"),
            "{e}"
        );
    }

    #[test]
    fn a_git_tree_is_listed_by_its_index_and_without_git_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sdist(dir.path());
        fs::remove_dir_all(tree.join("demo.egg-info")).unwrap();
        let repo = git2::Repository::init(&tree).unwrap();
        let mut index = repo.index().unwrap();
        for f in FILES {
            index.add_path(Path::new(f)).unwrap();
        }
        index.write().unwrap();
        // Untracked: pbr's `git ls-files` does not see it, nor does the check.
        fs::write(tree.join("demo/scratch.py"), "").unwrap();
        let expected = expected_files(&tree, &["demo".into()]).unwrap();
        assert_eq!(expected.listing, Listing::Git);
        assert_eq!(expected.files.len(), FILES.len());
        assert!(!expected.files.contains("demo/scratch.py"));

        let site = site_with(
            dir.path(),
            &tree,
            &["demo/__init__.py", "demo/cmd/__init__.py"],
            true,
        );
        let installed = installed_from(&site, &tree).unwrap();
        let e = check(&tree, &installed, "the install of demo", &mut NoGit)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing 5 of the 7 files"), "{e}");
        assert!(e.contains("pbr built it without git"), "{e}");
        assert!(e.contains("is a git work tree"), "{e}");
    }

    #[test]
    fn a_plain_tree_is_walked_and_a_src_layout_found() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("plain");
        for f in [
            "src/demo/__init__.py",
            "src/demo/sub/a.py",
            "tests/test_a.py",
            "setup.py",
        ] {
            let p = tree.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "").unwrap();
        }
        let expected = expected_files(&tree, &["demo".into()]).unwrap();
        assert_eq!(expected.listing, Listing::Walk);
        let files: Vec<&str> = expected.files.iter().map(String::as_str).collect();
        assert_eq!(files, ["demo/__init__.py", "demo/sub/a.py"]);
        // A tree whose packages are not in it: nothing expected, nothing claimed.
        assert!(expected_files(&tree, &["elsewhere".into()])
            .unwrap()
            .files
            .is_empty());
    }

    #[test]
    fn a_tree_nothing_was_installed_from_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sdist(dir.path());
        let site = dir.path().join("site");
        fs::create_dir_all(site.join("other-2.0.dist-info")).unwrap();
        let e = installed_from(&site, &tree).unwrap_err().to_string();
        assert!(e.contains("was installed from"), "{e}");
        assert!(e.contains("or the tree's name, demo"), "{e}");
    }

    #[test]
    fn a_wheel_is_checked_like_an_install() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sdist(dir.path());
        let write = |name: &str, files: &[&str]| {
            let path = dir.path().join(name);
            let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            for f in files
                .iter()
                .chain(["demo-1.0.0.dist-info/top_level.txt"].iter())
            {
                zip.start_file(*f, opts).unwrap();
                std::io::Write::write_all(&mut zip, b"demo\n").unwrap();
            }
            zip.finish().unwrap();
            path
        };
        let whole = write("demo-1.0.0-py3-none-any.whl", FILES);
        check_wheel(&whole, &tree, &mut NoGit).unwrap();
        let cut = write("demo-1.0.1-py3-none-any.whl", &FILES[..3]);
        let e = check_wheel(&cut, &tree, &mut NoGit)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the wheel demo-1.0.1-py3-none-any.whl built from"),
            "{e}"
        );
        assert!(e.contains("missing 4 of the 7 files"), "{e}");
    }
}
