//! PROJECT=requirements: build the wheels of a requirements image (LOCI's requirements.sh).
//!
//! The build is planned as ordinary steps (`base`, `venv`, `packages` with bindep's
//! `requirements` profile, `source` cloning PROJECT_REPO to /tmp/requirements) followed by the
//! steps of this module:
//!
//! 1. `requirements` — [`Action::RequirementsConstraints`]: take upper-constraints.txt and
//!    global-requirements.txt from the clone, drop the constraints LOCI drops (setuptools when
//!    PROJECT_REF=master, ceilometer, confluent-kafka on aarch64), build the `git+` entries and
//!    the source trees found in the data dir into wheels first and pin them by `name===version`
//!    (read from the wheel's file name), and write both files to the image root. Then, when
//!    PIP_PACKAGES is given, `pip install` them against the constraints (packages whose
//!    `setup_requires` would otherwise pull unconstrained versions). Then
//!    [`Action::RequirementsWheels`]: one `pip wheel` per constraint, in parallel (as many jobs
//!    as the machine has cores), every failure collected and reported at the end.
//! 2. `purge` — [`Action::PurgeRoot`]: LOCI's `rm -rf /!(*whl|*txt)`, done natively: delete
//!    everything at the root except `*.whl` and `*.txt`, leaving mount points alone.
//!
//! # Which wheels are kept (KEEP_ALL_WHEELS=False)
//!
//! LOCI keeps only the wheels it compiled: binary wheels pip merely downloaded from the index
//! are dropped (service images get those from the index). LOCI greps pip's old `Skipping`
//! lines; loci runs every `pip wheel` into a directory of its own and keeps exactly the files
//! pip names in its `Created wheel for NAME: filename=FILE` lines, which pip prints only for
//! wheels it built (a downloaded or copied wheel is announced by `Saved FILE`). That is
//! per-file exact, independent of wheel tags, and cannot confuse two packages. pip prints these
//! lines at its default verbosity, so `-q` in PIP_WHEEL_ARGS is balanced with `-v`. Each pip's
//! output goes to a log file in the work dir; its last lines are shown when it fails.
//! With KEEP_ALL_WHEELS=True, every constraint is built with its dependencies (no `--no-deps`,
//! as in LOCI) and every wheel is kept.
//!
//! # Source trees in the data dir
//!
//! Like LOCI's `honor_local_sources`, every directory of the data dir (/tmp) with a setup.cfg
//! whose package (setup.cfg `[metadata] name`, mapped through python-custom-name-mapping.txt)
//! is a constraint replaces the index's release: instead of asking `python3 setup.py
//! --version` and pointing the build constraints at the tree, loci builds the tree's wheel
//! first (with the git+ entries) and pins the constraint to the version of that wheel, so the
//! version is exactly what pip built (pbr included) and every later build finds it through
//! `--find-links`.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::constraints::{line_name, normalize};
use crate::error::{Context, Error, Result};
use crate::plan::{Action, Cmd, PlanInput, Step};
use crate::steps::wheels::{build_constraints, BuildConstraintMode};

/// LOCI's mapping of source folder / PyPI name / package name, built into loci; a copy in the
/// loci dir (/opt/loci/python-custom-name-mapping.txt) takes precedence.
const EMBEDDED_NAME_MAPPING: &str = include_str!("../../python-custom-name-mapping.txt");

/// Packages LOCI builds besides the constraints (uwsgi is not a constraint; enum-compat is
/// one, so it is built once).
pub const EXTRA_PACKAGES: &[&str] = &["uwsgi", "enum-compat"];

/// Environment of every `pip wheel`, as in LOCI: uwsgi with SSL, built on one CPU (the jobs
/// already fill the machine), cassandra-driver's build concurrency.
pub const WHEEL_ENV: &[(&str, &str)] = &[
    ("UWSGI_PROFILE_OVERRIDE", "ssl=true"),
    ("CPUCOUNT", "1"),
    ("CASS_DRIVER_BUILD_CONCURRENCY", "8"),
];

/// How many output lines of a failed `pip wheel` are shown.
const FAILURE_TAIL: usize = 15;

/// A constraint dropped before building, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropRule {
    /// The project name (compared after PEP 503 normalisation).
    pub name: String,
    pub reason: String,
}

/// A `pip wheel` template: the venv's pip, PIP_WHEEL_ARGS, and the environment of every run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipWheel {
    pub pip: String,
    /// PIP_WHEEL_ARGS, with `-v` balancing any `-q` (pip must print its `Created wheel` lines).
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// What [`Action::RequirementsConstraints`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConstraintsSpec {
    /// The requirements repository clone (/tmp/requirements).
    pub repo_dir: PathBuf,
    /// The image root, where both files and every kept wheel end up (`/`).
    pub root: PathBuf,
    /// Scratch space: per-build wheel directories and logs.
    pub work: PathBuf,
    /// Scanned for source trees that replace constraints (the data dir, /tmp).
    pub sources_dir: PathBuf,
    /// Source trees are never looked for in these directories of `sources_dir`.
    pub skip_dirs: Vec<String>,
    /// (package name, PyPI name) pairs of python-custom-name-mapping.txt.
    pub name_mapping: Vec<(String, String)>,
    pub drops: Vec<DropRule>,
    pub pip: PipWheel,
    pub jobs: usize,
    /// SETUPTOOL_CONSTRAINT: the cap on setuptools added to upper-constraints.txt (the image's
    /// copy, so that services install a setuptools within it too) and to the build constraints.
    pub setuptools: String,
    /// The build constraints of the source builds (the named constraints and the setuptools
    /// cap; the git+ entries are not constraints pip takes).
    pub build_constraints: PathBuf,
}

/// What [`Action::RequirementsWheels`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WheelsSpec {
    /// The image root: holds upper-constraints.txt (the build constraints) and receives the wheels.
    pub root: PathBuf,
    /// Scratch space: per-build wheel directories and logs.
    pub work: PathBuf,
    /// Built besides the constraints (uwsgi, enum-compat, PIP_PACKAGES).
    pub extras: Vec<String>,
    /// REQUIREMENTS_ONLY / REQUIREMENTS_ONLY_FILE: build only these (PEP 503 names); `None`
    /// builds everything.
    pub only: Option<Vec<String>>,
    /// KEEP_ALL_WHEELS: build with dependencies and keep every wheel.
    pub keep_all: bool,
    /// Constraints kept in upper-constraints.txt but not built ([`not_built`]); PIP_PACKAGES
    /// naming them are built.
    pub not_built: Vec<DropRule>,
    /// How many `pip wheel` run at once.
    pub jobs: usize,
    pub pip: PipWheel,
    /// The build constraints of every `pip wheel` (LOCI's `--build-constraint`): the image's
    /// upper-constraints.txt, which carries the setuptools cap.
    pub build_constraints: PathBuf,
}

impl WheelsSpec {
    /// The `pip wheel` command for one requirement, writing into `dir`, with the build
    /// constraints passed as `mode` says.
    pub fn command(&self, requirement: &str, dir: &Path, mode: BuildConstraintMode) -> Cmd {
        let mut cmd = Cmd::new(self.pip.pip.clone(), ["wheel"])
            .args(self.pip.args.iter().cloned())
            .args(["--find-links".to_string(), self.root.display().to_string()]);
        if !self.keep_all {
            cmd = cmd.arg("--no-deps");
        }
        cmd = cmd
            .args(["--wheel-dir".to_string(), dir.display().to_string()])
            .args([
                "-c".to_string(),
                self.root
                    .join("upper-constraints.txt")
                    .display()
                    .to_string(),
            ]);
        cmd = mode.apply(cmd, &self.build_constraints).arg(requirement);
        for (k, v) in &self.pip.env {
            cmd = cmd.env(k.clone(), v.clone());
        }
        cmd
    }
}

impl ConstraintsSpec {
    /// The `pip wheel` command for a git+ entry or a source tree (no constraints: the tree's
    /// own version would clash with the index's pin; build constraints, as `mode` says).
    pub fn command(&self, requirement: &str, dir: &Path, mode: BuildConstraintMode) -> Cmd {
        let cmd = Cmd::new(self.pip.pip.clone(), ["wheel"])
            .args(self.pip.args.iter().cloned())
            .args([
                "--no-deps".to_string(),
                "--wheel-dir".into(),
                dir.display().to_string(),
            ]);
        let mut cmd = mode.apply(cmd, &self.build_constraints).arg(requirement);
        for (k, v) in &self.pip.env {
            cmd = cmd.env(k.clone(), v.clone());
        }
        cmd
    }
}

impl fmt::Display for ConstraintsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "take upper-constraints.txt and global-requirements.txt from {} to {}",
            self.repo_dir.display(),
            self.root.display()
        )?;
        for d in &self.drops {
            write!(f, "\n      drop {} ({})", d.name, d.reason)?;
        }
        if !self.setuptools.is_empty() {
            write!(
                f,
                "\n      cap setuptools{} (SETUPTOOL_CONSTRAINT) in upper-constraints.txt and the build constraints",
                self.setuptools
            )?;
        }
        let example = self.command(
            "<entry>",
            &self.work.join("<n>"),
            BuildConstraintMode::Option,
        );
        write!(
            f,
            "\n      build git+ entries and source trees in {} (dirs with setup.cfg whose name, mapped by \
             python-custom-name-mapping.txt, is a constraint) first, {} at once: {example}\
             \n      pin them as name===version from the wheels; the wheels go to {}\
             \n      (a pip older than 25.3 gets the build constraints as PIP_CONSTRAINT=FILE instead of --build-constraint)",
            self.sources_dir.display(),
            self.jobs,
            self.root.display()
        )
    }
}

impl fmt::Display for WheelsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let example = self.command(
            "<constraint>",
            &self.work.join("<n>"),
            BuildConstraintMode::Option,
        );
        write!(f, "build a wheel for every constraint")?;
        if !self.extras.is_empty() {
            write!(f, " and {}", self.extras.join(" "))?;
        }
        for d in &self.not_built {
            write!(f, "\n      not built: {} ({})", d.name, d.reason)?;
        }
        match &self.only {
            Some(only) => write!(
                f,
                ", only these {} (REQUIREMENTS_ONLY): {}",
                only.len(),
                only.join(" ")
            )?,
            None => write!(f, ", all of them")?,
        }
        write!(f, "\n      {} at once, each: {example}", self.jobs)?;
        if self.keep_all {
            write!(
                f,
                "\n      keep every wheel, dependencies included (KEEP_ALL_WHEELS=True)"
            )?;
        } else {
            write!(
                f,
                "\n      keep only the wheels pip built (`Created wheel` in its log), drop the binary wheels it downloaded (KEEP_ALL_WHEELS=False)"
            )?;
        }
        write!(
            f,
            "\n      collect every failure, report them all at the end"
        )
    }
}

/// The steps of a requirements build after `source`: `requirements` and `purge`.
pub fn plan(input: &PlanInput) -> Result<Vec<Step>> {
    let c = input.config;
    let root = c.paths.root.clone();
    let work = c.paths.data_dir.join("loci-requirements-build");
    let jobs = c.requirements_jobs.unwrap_or_else(|| {
        // Most `pip wheel` runs only download: keep the network busy, bounded by the machine.
        4 * std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let pip = PipWheel {
        pip: super::venv_bin(input, "pip"),
        args: balance_quiet(&c.pip_wheel_args),
        env: WHEEL_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let constraints = ConstraintsSpec {
        repo_dir: c.paths.sources_dir.join(&c.project),
        root: root.clone(),
        work: work.clone(),
        sources_dir: c.paths.sources_dir.clone(),
        skip_dirs: vec![c.project.clone(), "loci-requirements-build".into()],
        name_mapping: name_mapping(&c.paths.loci_dir)?,
        drops: drop_rules(&c.project_ref, std::env::consts::ARCH),
        pip: pip.clone(),
        jobs,
        setuptools: c.setuptools_constraint.clone(),
        build_constraints: work.join("build-constraints.txt"),
    };
    let mut extras: Vec<String> = EXTRA_PACKAGES.iter().map(|s| s.to_string()).collect();
    extras.extend(c.pip_packages.iter().cloned());
    let wheels = WheelsSpec {
        root: root.clone(),
        work,
        extras,
        only: only_list(c)?,
        keep_all: c.keep_all_wheels,
        not_built: not_built(),
        jobs,
        build_constraints: root.join("upper-constraints.txt"),
        pip,
    };
    let mut step = Step::new(
        "requirements",
        format!(
            "wheels for the constraints of {} at {}",
            c.project_repo, c.project_ref
        ),
    )
    .action(Action::RequirementsConstraints {
        spec: Box::new(constraints),
    });
    if !c.pip_packages.is_empty() {
        step = step.run(
            Cmd::new(super::venv_bin(input, "pip"), ["install"])
                .args(c.pip_args.iter().cloned())
                .args([
                    "--no-cache-dir".to_string(),
                    "-c".into(),
                    root.join("upper-constraints.txt").display().to_string(),
                ])
                .args(c.pip_packages.iter().cloned()),
        );
    }
    step = step.action(Action::RequirementsWheels {
        spec: Box::new(wheels),
    });
    let purge = Step::new(
        "purge",
        format!("leave only *.whl and *.txt at {}", root.display()),
    )
    .action(Action::PurgeRoot { root });
    Ok(vec![step, purge])
}

/// The constraints LOCI drops before building.
pub fn drop_rules(project_ref: &str, arch: &str) -> Vec<DropRule> {
    let mut drops = Vec::new();
    if project_ref == "master" {
        drops.push(DropRule {
            name: "setuptools".into(),
            reason: "PROJECT_REF=master: its pin clashes with other constrained packages".into(),
        });
    }
    drops.push(DropRule {
        name: "ceilometer".into(),
        reason: "a service built as its own image, not a library wheel".into(),
    });
    if arch == "aarch64" {
        drops.push(DropRule {
            name: "confluent-kafka".into(),
            reason:
                "aarch64: the distro's librdkafka is too old to build it (x86_64 uses PyPI's wheel)"
                    .into(),
        });
    }
    drops
}

/// The constraints LOCI's requirements.sh leaves out of the build (`egrep -v
/// "(scipy|scikit-learn)"`): they stay in upper-constraints.txt, and a service that needs them
/// installs PyPI's binary wheels. LOCI's pattern matches any line containing either word; here
/// the two names themselves (the only such lines in the 2026.1 constraints).
pub fn not_built() -> Vec<DropRule> {
    ["scipy", "scikit-learn"]
        .into_iter()
        .map(|name| DropRule {
            name: name.into(),
            reason: "an analytics package LOCI does not build: huge build times, no binaries off x86 (it stays a constraint)"
                .into(),
        })
        .collect()
}

/// Adds one `-v` per `-q` so that pip keeps printing at its default level.
pub fn balance_quiet(args: &[String]) -> Vec<String> {
    let mut level: i32 = 0;
    for a in args {
        match a.as_str() {
            "--quiet" => level -= 1,
            "--verbose" => level += 1,
            s if s.starts_with("-q") && s[1..].chars().all(|c| c == 'q') => {
                level -= (s.len() - 1) as i32
            }
            s if s.starts_with("-v") && s[1..].chars().all(|c| c == 'v') => {
                level += (s.len() - 1) as i32
            }
            _ => {}
        }
    }
    let mut out = args.to_vec();
    for _ in level..0 {
        out.push("-v".into());
    }
    out
}

/// The (package name, PyPI name) pairs of python-custom-name-mapping.txt.
pub fn parse_name_mapping(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() >= 3).then(|| (cols[2].to_string(), cols[1].to_string()))
        })
        .collect()
}

fn name_mapping(loci_dir: &Path) -> Result<Vec<(String, String)>> {
    let path = loci_dir.join("python-custom-name-mapping.txt");
    match fs::read_to_string(&path) {
        Ok(t) => Ok(parse_name_mapping(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(parse_name_mapping(EMBEDDED_NAME_MAPPING))
        }
        Err(e) => Err(Error::new(format!("cannot read {}", path.display())).cause(e)),
    }
}

/// The PyPI name of a package according to the mapping (itself when unmapped).
pub fn pypi_name<'a>(mapping: &'a [(String, String)], package: &'a str) -> &'a str {
    let want = normalize(package);
    mapping
        .iter()
        .find(|(pkg, _)| normalize(pkg) == want)
        .map(|(_, pypi)| pypi.as_str())
        .unwrap_or(package)
}

/// Names listed in a REQUIREMENTS_ONLY_FILE: one per line (anything after the name, such as a
/// version, is ignored), `#` comments.
pub fn parse_only_list(text: &str) -> Vec<String> {
    text.lines().filter_map(line_name).map(normalize).collect()
}

/// REQUIREMENTS_ONLY plus the names of REQUIREMENTS_ONLY_FILE, normalised, sorted; `None`
/// when neither is set (the full build).
fn only_list(c: &Config) -> Result<Option<Vec<String>>> {
    let mut names: BTreeSet<String> = c.requirements_only.iter().map(|n| normalize(n)).collect();
    if let Some(file) = &c.requirements_only_file {
        let text = fs::read_to_string(file).map_err(|e| {
            Error::new(format!("REQUIREMENTS_ONLY_FILE={} cannot be read", file.display()))
                .cause(e)
                .hint("point it at a file of package names, one per line (tests/fixtures/requirements/keystone-2026.1-closure.txt), or unset it to build every constraint")
        })?;
        names.extend(parse_only_list(&text));
    }
    if names.is_empty() && c.requirements_only_file.is_none() {
        return Ok(None);
    }
    Ok(Some(names.into_iter().collect()))
}

/// Removes every line whose project is dropped by `drops`; returns the new text and the
/// removed lines.
pub fn apply_drops(text: &str, drops: &[DropRule]) -> (String, Vec<String>) {
    let names: Vec<String> = drops.iter().map(|d| normalize(&d.name)).collect();
    let mut out = String::with_capacity(text.len());
    let mut removed = Vec::new();
    for line in text.split_inclusive('\n') {
        if !line.trim_start().starts_with("git+") {
            if let Some(n) = line_name(line) {
                if names.contains(&normalize(n)) {
                    removed.push(line.trim_end().to_string());
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    (out, removed)
}

/// The `git+` entries (unnamed constraints) of a constraints file.
pub fn git_entries(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("git+"))
        .map(String::from)
        .collect()
}

/// Replaces the `git+` entries by `name===version` pins, appended at the end as LOCI does.
pub fn replace_git_entries(text: &str, pins: &[(String, String)]) -> String {
    let mut out: String = text
        .split_inclusive('\n')
        .filter(|l| !l.trim_start().starts_with("git+"))
        .collect();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for (name, version) in pins {
        out.push_str(&format!("{name}==={version}\n"));
    }
    out
}

/// Pins every line of project `name` to `version` (keeping the file's spelling of the name,
/// dropping markers); false when no line names it.
pub fn pin_version(text: &str, name: &str, version: &str) -> (String, bool) {
    let want = normalize(name);
    let mut found = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line_name(line) {
            Some(n) if !line.trim_start().starts_with("git+") && normalize(n) == want => {
                if !found {
                    out.push_str(&format!("{n}==={version}\n"));
                }
                found = true;
            }
            _ => out.push_str(line),
        }
    }
    (out, found)
}

/// Name and version of a wheel from its file name (`name-version(-build)?-py-abi-plat.whl`).
pub fn wheel_name_version(file: &str) -> Option<(String, String)> {
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() != 5 && parts.len() != 6 {
        return None;
    }
    Some((parts[0].to_string(), parts[1].to_string()))
}

/// One thing to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildItem {
    /// The normalised project name.
    pub name: String,
    /// The argument given to `pip wheel` (a constraint line, a name, a URL or a directory).
    pub requirement: String,
}

/// The build list: every named constraint line (markers kept: pip skips lines whose markers
/// do not match), then the extras that are not constraints, without the projects in `skip`
/// (already built from source), restricted to `only`.
pub fn build_list(
    text: &str,
    extras: &[String],
    only: Option<&[String]>,
    skip: &BTreeSet<String>,
) -> Vec<BuildItem> {
    let mut items: Vec<BuildItem> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("git+") {
            continue;
        }
        if let Some(n) = line_name(line) {
            items.push(BuildItem {
                name: normalize(n),
                requirement: line.to_string(),
            });
        }
    }
    for e in extras {
        let Some(n) = line_name(e) else { continue };
        let n = normalize(n);
        if !items.iter().any(|i| i.name == n) {
            items.push(BuildItem {
                name: n,
                requirement: e.clone(),
            });
        }
    }
    items.retain(|i| !skip.contains(&i.name));
    if let Some(only) = only {
        items.retain(|i| only.contains(&i.name));
    }
    items
}

/// The files pip reports as built in its output (`Created wheel for X: filename=F size=...`).
pub fn built_wheels(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("Created wheel for ")?;
            let f = rest.split_once("filename=")?.1;
            Some(f.split_whitespace().next()?.to_string())
        })
        .collect()
}

/// The projects pip reports as built in its summary line (`Successfully built a b`),
/// normalised: a second witness, should the `Created wheel` lines ever change.
pub fn built_projects(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter_map(|l| l.trim().strip_prefix("Successfully built "))
        .flat_map(|rest| rest.split_whitespace().map(normalize))
        .collect()
}

/// Splits the wheels found after a build into (kept, dropped): everything is kept with
/// `keep_all`, else only what pip built.
pub fn select_wheels(found: &[String], log: &str, keep_all: bool) -> (Vec<String>, Vec<String>) {
    if keep_all {
        return (found.to_vec(), Vec::new());
    }
    let built = built_wheels(log);
    let projects = built_projects(log);
    found.iter().cloned().partition(|f| {
        built.contains(f)
            || wheel_name_version(f).is_some_and(|(n, _)| projects.contains(&normalize(&n)))
    })
}

/// The outcome of one `pip wheel`.
#[derive(Debug)]
pub struct BuildResult {
    pub item: BuildItem,
    /// The wheels it left in its directory (file names).
    pub wheels: Vec<String>,
    pub dir: PathBuf,
    pub log: String,
    /// `None` on success, else how it failed.
    pub failure: Option<String>,
    pub seconds: f64,
}

/// Runs `make_cmd` for every item, `jobs` at a time, each into `work/<n>` with its output in
/// `work/<n>.log`; the environment of every child is `env` plus the command's own.
pub fn run_builds(
    items: &[BuildItem],
    work: &Path,
    jobs: usize,
    env: &[(String, String)],
    make_cmd: &(dyn Fn(&BuildItem, &Path) -> Cmd + Sync),
    on_done: &(dyn Fn(&BuildResult, usize, usize) + Sync),
) -> Result<Vec<BuildResult>> {
    fs::create_dir_all(work).context(|| format!("cannot create {}", work.display()))?;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<BuildResult>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let total = items.len();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(total.max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let item = &items[i];
                let dir = work.join(format!("{i:04}-{}", item.name));
                let r = build_one(item, &dir, env, make_cmd);
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                on_done(&r, n, total);
                if let Ok(mut v) = results.lock() {
                    v[i] = Some(r);
                }
            });
        }
    });
    Ok(results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect())
}

fn build_one(
    item: &BuildItem,
    dir: &Path,
    env: &[(String, String)],
    make_cmd: &dyn Fn(&BuildItem, &Path) -> Cmd,
) -> BuildResult {
    let start = Instant::now();
    let cmd = make_cmd(item, dir);
    let log_path = dir.with_extension("log");
    let mut result = BuildResult {
        item: item.clone(),
        wheels: Vec::new(),
        dir: dir.to_path_buf(),
        log: String::new(),
        failure: None,
        seconds: 0.0,
    };
    let status = (|| -> std::io::Result<std::process::ExitStatus> {
        fs::create_dir_all(dir)?;
        let mut log = fs::File::create(&log_path)?;
        writeln!(log, "+ {cmd}")?;
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args).env_remove("PIP_CONSTRAINT");
        for (k, v) in env.iter().chain(cmd.env.iter()) {
            c.env(k, v);
        }
        if let Some(cwd) = &cmd.cwd {
            c.current_dir(cwd);
        }
        c.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
    })();
    result.log = fs::read_to_string(&log_path).unwrap_or_default();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            result.failure = Some(match s.code() {
                Some(c) => format!("exit code {c}"),
                None => s.to_string(),
            })
        }
        Err(e) => result.failure = Some(format!("cannot run `{}`: {e}", cmd.program)),
    }
    if let Ok(entries) = fs::read_dir(dir) {
        let mut wheels: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".whl"))
            .collect();
        wheels.sort();
        result.wheels = wheels;
    }
    result.seconds = start.elapsed().as_secs_f64();
    result
}

/// The last lines of a log.
fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One error naming every failed build, with the last lines of each one's output.
pub fn failures_error(results: &[BuildResult], what: &str, work: &Path) -> Option<Error> {
    let failed: Vec<&BuildResult> = results.iter().filter(|r| r.failure.is_some()).collect();
    if failed.is_empty() {
        return None;
    }
    let names: Vec<&str> = failed.iter().map(|r| r.item.requirement.as_str()).collect();
    let mut cause = String::new();
    for r in &failed {
        cause.push_str(&format!(
            "{} ({}), last lines of its output:\n{}\n",
            r.item.requirement,
            r.failure.as_deref().unwrap_or(""),
            tail(&r.log, FAILURE_TAIL)
                .lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    Some(
        Error::new(format!(
            "{} of {} {what} failed to build: {}",
            failed.len(),
            results.len(),
            names.join(", ")
        ))
        .cause(cause)
        .hint(format!(
            "a missing -dev package belongs in bindep.txt (profile `requirements`); a constraint that cannot build here can be \
             left out with REQUIREMENTS_ONLY/REQUIREMENTS_ONLY_FILE; full logs are in {}",
            work.display()
        )),
    )
}

/// Moves `file` from `dir` into `root` (replacing nothing that is there already).
fn move_into(dir: &Path, file: &str, root: &Path) -> Result<()> {
    let from = dir.join(file);
    let to = root.join(file);
    if to.exists() {
        let _ = fs::remove_file(&from);
        return Ok(());
    }
    match fs::rename(&from, &to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => {
            // Another file system (the bind-mounted data dir): copy under a name pip ignores,
            // then rename, so that concurrent builds never see half a wheel.
            let part = root.join(format!(".{file}.part"));
            fs::copy(&from, &part)
                .and_then(|_| fs::rename(&part, &to))
                .context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
            let _ = fs::remove_file(&from);
            Ok(())
        }
        Err(e) => Err(Error::new(format!(
            "cannot move {} to {}",
            from.display(),
            to.display()
        ))
        .cause(e)),
    }
}

/// The name of a source tree: setup.cfg's `[metadata] name`, else pyproject.toml's
/// `[project] name`.
pub fn tree_name(dir: &Path) -> Option<String> {
    let key_in_section = |text: &str, section: &str| -> Option<String> {
        let mut inside = false;
        for line in text.lines() {
            let l = line.trim();
            if l.starts_with('[') {
                inside = l == section;
                continue;
            }
            if inside {
                if let Some((k, v)) = l.split_once('=') {
                    if k.trim() == "name" {
                        let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                        return (!v.is_empty()).then(|| v.to_string());
                    }
                }
            }
        }
        None
    };
    fs::read_to_string(dir.join("setup.cfg"))
        .ok()
        .and_then(|t| key_in_section(&t, "[metadata]"))
        .or_else(|| {
            fs::read_to_string(dir.join("pyproject.toml"))
                .ok()
                .and_then(|t| key_in_section(&t, "[project]"))
        })
}

/// Source trees of `spec.sources_dir` that replace a constraint of `text`: (directory,
/// constraint name as the constraints file spells it after mapping).
pub fn local_trees(spec: &ConstraintsSpec, text: &str) -> Vec<(PathBuf, String)> {
    let names: Vec<String> = text.lines().filter_map(line_name).map(normalize).collect();
    let Ok(entries) = fs::read_dir(&spec.sources_dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.join("setup.cfg").is_file())
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            !spec.skip_dirs.contains(&n)
        })
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let Some(pkg) = tree_name(&d) else {
            crate::say!("{}: no package name in setup.cfg, not used", d.display());
            continue;
        };
        let pypi = pypi_name(&spec.name_mapping, &pkg).to_string();
        if names.contains(&normalize(&pypi)) {
            out.push((d, pypi));
        }
    }
    out
}

/// [`Action::RequirementsConstraints`].
pub fn prepare(spec: &ConstraintsSpec, config: &Config) -> Result<()> {
    let read = |f: &str| {
        let p = spec.repo_dir.join(f);
        fs::read_to_string(&p).map_err(|e| {
            Error::new(format!(
                "PROJECT_REPO has no {f} (looked for {})",
                p.display()
            ))
            .cause(e)
            .hint("PROJECT_REPO must be openstack/requirements (or a fork) at PROJECT_REF")
        })
    };
    let upper = read("upper-constraints.txt")?;
    let global = read("global-requirements.txt")?;
    let (mut upper, removed) = apply_drops(&upper, &spec.drops);
    for l in &removed {
        crate::say!("dropped constraint {l}");
    }
    let gits = git_entries(&upper);
    let trees = local_trees(spec, &upper);
    fs::create_dir_all(&spec.work).context(|| format!("cannot create {}", spec.work.display()))?;
    let named: String = upper
        .split_inclusive('\n')
        .filter(|l| !l.trim_start().starts_with("git+"))
        .collect();
    fs::write(
        &spec.build_constraints,
        build_constraints(&named, &spec.setuptools),
    )
    .context(|| format!("cannot write {}", spec.build_constraints.display()))?;
    let mut items: Vec<BuildItem> = gits
        .iter()
        .map(|g| BuildItem {
            name: "git".into(),
            requirement: g.clone(),
        })
        .collect();
    for (dir, name) in &trees {
        crate::say!(
            "source tree {} replaces the constraint on {name}",
            dir.display()
        );
        items.push(BuildItem {
            name: normalize(name),
            requirement: dir.display().to_string(),
        });
    }
    fs::create_dir_all(&spec.root).context(|| format!("cannot create {}", spec.root.display()))?;
    let mut git_pins = Vec::new();
    let mut from_source = Vec::new();
    if !items.is_empty() {
        let mut runner = crate::exec::SystemRunner::new(config);
        let mode = BuildConstraintMode::detect(&spec.pip.pip, &mut runner)?;
        let env = runner.env;
        let results = run_builds(
            &items,
            &spec.work.join("source"),
            spec.jobs,
            &env,
            &|item, dir| spec.command(&item.requirement, dir, mode),
            &|r, n, total| report(r, n, total, &r.wheels),
        )?;
        if let Some(e) = failures_error(
            &results,
            "source builds (git+ constraints, source trees)",
            &spec.work,
        ) {
            return Err(e);
        }
        for r in &results {
            let Some(file) = r.wheels.first() else {
                return Err(
                    Error::new(format!("pip built no wheel for {}", r.item.requirement))
                        .cause(tail(&r.log, FAILURE_TAIL))
                        .hint("check that the entry is a Python project"),
                );
            };
            let (name, version) = wheel_name_version(file).ok_or_else(|| {
                Error::new(format!(
                    "{file} is not a wheel file name ({})",
                    r.item.requirement
                ))
            })?;
            move_into(&r.dir, file, &spec.root)?;
            if r.item.name == "git" {
                git_pins.push((name, version));
            } else {
                from_source.push((r.item.name.clone(), version));
            }
        }
    }
    upper = replace_git_entries(&upper, &git_pins);
    for (name, version) in &from_source {
        upper = pin_version(&upper, name, version).0;
    }
    for (name, version) in git_pins.iter().chain(from_source.iter()) {
        crate::say!("pinned {name}==={version} (built from source)");
    }
    // LOCI master appends `setuptools<81` to the image's upper-constraints.txt; the same
    // function makes the build constraints of index builds.
    let upper = build_constraints(&upper, &spec.setuptools);
    let write = |f: &str, text: &str| {
        let p = spec.root.join(f);
        fs::write(&p, text).context(|| format!("cannot write {}", p.display()))
    };
    write("upper-constraints.txt", &upper)?;
    write("global-requirements.txt", &global)?;
    // The projects built here are not built again.
    let done: Vec<String> = git_pins
        .iter()
        .chain(from_source.iter())
        .map(|(n, _)| normalize(n))
        .collect();
    write_built_from_source(&spec.work, &done)
}

/// Remembers the projects built from source for [`build`] (the two actions share nothing else).
fn write_built_from_source(work: &Path, names: &[String]) -> Result<()> {
    fs::create_dir_all(work).context(|| format!("cannot create {}", work.display()))?;
    let p = work.join("built-from-source");
    fs::write(&p, names.join("\n")).context(|| format!("cannot write {}", p.display()))
}

fn read_built_from_source(work: &Path) -> BTreeSet<String> {
    fs::read_to_string(work.join("built-from-source"))
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn report(r: &BuildResult, n: usize, total: usize, kept: &[String]) {
    let status = match &r.failure {
        Some(f) => format!(
            "FAILED ({f}), log: {}",
            r.dir.with_extension("log").display()
        ),
        None if r.wheels.is_empty() => "nothing to build (markers do not match)".into(),
        None => {
            let dropped = r.wheels.len() - kept.len();
            let mut s = format!(
                "kept {}",
                if kept.is_empty() {
                    "nothing".into()
                } else {
                    kept.join(" ")
                }
            );
            if dropped > 0 {
                s.push_str(&format!(", dropped {dropped} downloaded"));
            }
            s
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "[{n}/{total}] {} ({:.1}s): {status}",
        r.item.requirement, r.seconds
    );
    let _ = out.flush();
}

/// [`Action::RequirementsWheels`].
pub fn build(spec: &WheelsSpec, config: &Config) -> Result<()> {
    let upper_path = spec.root.join("upper-constraints.txt");
    let upper = fs::read_to_string(&upper_path)
        .context(|| format!("cannot read {}", upper_path.display()))?;
    let skip = read_built_from_source(&spec.work);
    let (buildable, left_out) = apply_drops(&upper, &spec.not_built);
    for l in &left_out {
        crate::say!("not built, as in LOCI (it stays a constraint): {l}");
    }
    let items = build_list(&buildable, &spec.extras, spec.only.as_deref(), &skip);
    if let Some(only) = &spec.only {
        let mut known: BTreeSet<&str> = items.iter().map(|i| i.name.as_str()).collect();
        let left_out: Vec<String> = spec.not_built.iter().map(|d| normalize(&d.name)).collect();
        known.extend(left_out.iter().map(String::as_str));
        let unknown: Vec<&str> = only
            .iter()
            .map(String::as_str)
            .filter(|n| !known.contains(n) && !skip.contains(*n))
            .collect();
        if !unknown.is_empty() {
            crate::say!(
                "REQUIREMENTS_ONLY names that are not constraints (ignored): {}",
                unknown.join(" ")
            );
        }
    }
    crate::say!(
        "building {} wheels, {} at once{}",
        items.len(),
        spec.jobs,
        if spec.keep_all {
            ", keeping every wheel"
        } else {
            ", keeping only those built here"
        }
    );
    let mut runner = crate::exec::SystemRunner::new(config);
    let mode = BuildConstraintMode::detect(&spec.pip.pip, &mut runner)?;
    crate::say!(
        "build constraints from {} ({})",
        spec.build_constraints.display(),
        match mode {
            BuildConstraintMode::Option => "--build-constraint",
            BuildConstraintMode::Environment =>
                "PIP_CONSTRAINT in pip's environment: this pip predates --build-constraint",
        }
    );
    let env = runner.env;
    let keep_all = spec.keep_all;
    let root = &spec.root;
    let moved: Mutex<Result<()>> = Mutex::new(Ok(()));
    let results = run_builds(
        &items,
        &spec.work.join("wheels"),
        spec.jobs,
        &env,
        &|item, dir| spec.command(&item.requirement, dir, mode),
        &|r, n, total| {
            let (kept, dropped) = select_wheels(&r.wheels, &r.log, keep_all);
            for f in &kept {
                if let Err(e) = move_into(&r.dir, f, root) {
                    if let Ok(mut m) = moved.lock() {
                        if m.is_ok() {
                            *m = Err(e);
                        }
                    }
                }
            }
            for f in &dropped {
                let _ = fs::remove_file(r.dir.join(f));
            }
            report(r, n, total, &kept);
        },
    )?;
    moved.into_inner().unwrap_or(Ok(()))?;
    if let Some(e) = failures_error(&results, "wheels", &spec.work) {
        return Err(e);
    }
    let kept = fs::read_dir(root)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".whl"))
                .count()
        })
        .unwrap_or(0);
    crate::say!("{kept} wheels in {}", root.display());
    Ok(())
}

/// What [`purge`] did.
#[derive(Debug, Default)]
pub struct PurgeReport {
    /// Entries of the root kept (the wheels and txt files).
    pub kept: Vec<String>,
    pub removed: usize,
    /// Mount points left alone.
    pub mounts: Vec<PathBuf>,
    /// Entries that could not be removed because they are busy (mount points in use).
    pub busy: usize,
    /// Other failures (reported, not fatal: LOCI ignores them too).
    pub errors: Vec<String>,
}

/// Whether an entry at the top of the root is kept by the purge.
pub fn keep_at_root(name: &str, meta: &fs::Metadata) -> bool {
    !meta.is_dir() && (name.ends_with(".whl") || name.ends_with(".txt"))
}

/// The processes from this one up to PID 1, as (pid, command name).
fn ancestry() -> Vec<(u32, String)> {
    let mut chain = Vec::new();
    let mut pid = std::process::id();
    for _ in 0..64 {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        chain.push((pid, comm.trim().to_string()));
        if pid <= 1 {
            break;
        }
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let ppid: u32 = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if ppid == 0 {
            break;
        }
        pid = ppid;
    }
    chain
}

/// Whether loci runs as the command of a container (a `docker build` RUN): it is PID 1, or
/// its parent is (the RUN's shell), or its grandparent is a container init (`--init`). On a
/// booted machine or from an interactive shell, deleting everything at `/` is refused.
pub fn runs_as_container_command(chain: &[(u32, String)]) -> bool {
    let Some((last, init)) = chain.last() else {
        return false;
    };
    if *last != 1 || matches!(init.as_str(), "systemd" | "init") {
        return false;
    }
    match chain.len() {
        1 | 2 => true,
        3 => matches!(
            init.as_str(),
            "docker-init" | "tini" | "dumb-init" | "catatonit"
        ),
        _ => false,
    }
}

/// Refuses to purge the real `/` unless loci runs as a container's command.
fn refuse_outside_a_container(root: &Path) -> Result<()> {
    if root != Path::new("/") {
        return Ok(());
    }
    let chain = ancestry();
    if runs_as_container_command(&chain) {
        return Ok(());
    }
    let shown: Vec<String> = chain.iter().map(|(p, c)| format!("{c}({p})")).collect();
    Err(Error::new("refusing to delete everything at / outside a container build")
        .cause(format!("loci's process ancestry is {}", shown.join(" <- ")))
        .hint("PROJECT=requirements leaves only the wheels at /: run it as the command of a `docker build` RUN (loci or its shell as PID 1), never on a host"))
}

/// [`Action::PurgeRoot`]: deletes everything at `root` except `*.whl` and `*.txt`, leaving
/// mount points (another device than the root's) alone and ignoring busy entries.
pub fn purge(root: &Path) -> Result<PurgeReport> {
    refuse_outside_a_container(root)?;
    let dev = fs::symlink_metadata(root)
        .context(|| format!("cannot inspect {}", root.display()))?
        .dev();
    let r = purge_with(root, &|_, m| m.dev() != dev)?;
    crate::say!(
        "kept {} files at {}, removed {} entries, left {} mount points alone{}",
        r.kept.len(),
        root.display(),
        r.removed,
        r.mounts.len(),
        if r.busy > 0 {
            format!(", {} busy", r.busy)
        } else {
            String::new()
        }
    );
    for e in &r.errors {
        crate::say!("warning: {e}");
    }
    Ok(r)
}

/// [`purge`] with the mount-point test as a parameter.
pub fn purge_with(
    root: &Path,
    is_mount: &dyn Fn(&Path, &fs::Metadata) -> bool,
) -> Result<PurgeReport> {
    let mut report = PurgeReport::default();
    let entries = fs::read_dir(root).context(|| format!("cannot list {}", root.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let Ok(meta) = fs::symlink_metadata(&p) else {
            continue;
        };
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if keep_at_root(&name, &meta) {
            report.kept.push(name);
            continue;
        }
        remove_tree(&p, &meta, is_mount, &mut report);
    }
    report.kept.sort();
    Ok(report)
}

fn remove_tree(
    p: &Path,
    meta: &fs::Metadata,
    is_mount: &dyn Fn(&Path, &fs::Metadata) -> bool,
    report: &mut PurgeReport,
) {
    if is_mount(p, meta) {
        report.mounts.push(p.to_path_buf());
        return;
    }
    let result = if meta.is_dir() {
        if let Ok(entries) = fs::read_dir(p) {
            for e in entries.filter_map(|e| e.ok()) {
                let child = e.path();
                if let Ok(m) = fs::symlink_metadata(&child) {
                    remove_tree(&child, &m, is_mount, report);
                }
            }
        }
        fs::remove_dir(p)
    } else {
        fs::remove_file(p)
    };
    match result {
        Ok(()) => report.removed += 1,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // Busy: a mount point in use; not empty: it holds one.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(nix::libc::EBUSY) | Some(nix::libc::ENOTEMPTY)
            ) =>
        {
            report.busy += 1
        }
        Err(e) => report
            .errors
            .push(format!("cannot remove {}: {e}", p.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(names: &[&str]) -> Vec<DropRule> {
        names
            .iter()
            .map(|n| DropRule {
                name: n.to_string(),
                reason: String::new(),
            })
            .collect()
    }

    fn plan_for(pairs: &[(&str, &str)], tweak: impl Fn(&mut Config)) -> Vec<Step> {
        let env: crate::config::Env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut config = Config::from_env(&env).unwrap();
        tweak(&mut config);
        let os = crate::os_release::OsRelease::parse(
            "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        );
        let distro = crate::distro::Distro::detect(&os, None, Some(false)).unwrap();
        let input = PlanInput {
            stage: crate::plan::Stage::Project,
            config: &config,
            distro: &distro,
            bindep_files: vec![(
                "bindep.txt".into(),
                "build-essential [platform:dpkg requirements]\n".into(),
            )],
            pydep_files: vec![],
        };
        super::super::plan_all(&input).unwrap()
    }

    #[test]
    fn plan_shows_the_concrete_build() {
        let d = tempfile::tempdir().unwrap();
        let only = d.path().join("closure.txt");
        std::fs::write(&only, "# closure\nOslo.Config\nsix\n").unwrap();
        let steps = plan_for(
            &[
                ("PROJECT", "requirements"),
                ("PIP_PACKAGES", "pylxd"),
                ("PIP_WHEEL_ARGS", "--pre"),
                ("REQUIREMENTS_ONLY", "uwsgi"),
                ("REQUIREMENTS_ONLY_FILE", only.to_str().unwrap()),
            ],
            |c| c.paths.root = "/image".into(),
        );
        let names: Vec<&str> = steps.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "preflight",
                "base",
                "venv",
                "packages",
                "source",
                "requirements",
                "purge"
            ]
        );
        assert!(
            steps[3].packages.contains(&"build-essential".to_string()),
            "bindep profile requirements"
        );
        let req = &steps[5];
        let Action::RequirementsConstraints { spec } = &req.actions[0] else {
            panic!("{:?}", req.actions)
        };
        assert_eq!(spec.repo_dir, PathBuf::from("/tmp/requirements"));
        assert_eq!(spec.root, PathBuf::from("/image"));
        assert!(
            spec.drops.iter().any(|d| d.name == "setuptools"),
            "PROJECT_REF defaults to master"
        );
        let Action::Run { cmd } = &req.actions[1] else {
            panic!("{:?}", req.actions)
        };
        assert_eq!(
            cmd.to_string(),
            "/var/lib/openstack/bin/pip install --no-cache-dir -c /image/upper-constraints.txt pylxd"
        );
        let Action::RequirementsWheels { spec } = &req.actions[2] else {
            panic!("{:?}", req.actions)
        };
        assert_eq!(
            spec.only.as_deref(),
            Some(&["oslo-config".to_string(), "six".into(), "uwsgi".into()][..])
        );
        assert_eq!(spec.extras, ["uwsgi", "enum-compat", "pylxd"]);
        assert!(spec.jobs >= 1);
        assert_eq!(
            spec.command("six===1.17.0", Path::new("/w/1"), BuildConstraintMode::Option)
                .to_string(),
            "UWSGI_PROFILE_OVERRIDE=ssl=true CPUCOUNT=1 CASS_DRIVER_BUILD_CONCURRENCY=8 /var/lib/openstack/bin/pip wheel --pre \
             --find-links /image --no-deps --wheel-dir /w/1 -c /image/upper-constraints.txt \
             --build-constraint /image/upper-constraints.txt six===1.17.0"
        );
        // A pip older than 25.3: the same file through its environment.
        let old = spec.command(
            "six===1.17.0",
            Path::new("/w/1"),
            BuildConstraintMode::Environment,
        );
        assert!(!old.args.contains(&"--build-constraint".to_string()));
        assert!(old.env.contains(&(
            "PIP_CONSTRAINT".into(),
            "/image/upper-constraints.txt".into()
        )));
        let text = req
            .actions
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            text.contains("drop setuptools") && text.contains("drop ceilometer"),
            "{text}"
        );
        assert!(
            text.contains("cap setuptools<81 (SETUPTOOL_CONSTRAINT)"),
            "LOCI master's default cap: {text}"
        );
        assert!(
            text.contains("only these 3 (REQUIREMENTS_ONLY): oslo-config six uwsgi"),
            "{text}"
        );
        assert!(text.contains(&format!("{} at once", spec.jobs)), "{text}");
        assert_eq!(
            steps[6].actions,
            [Action::PurgeRoot {
                root: "/image".into()
            }]
        );
    }

    #[test]
    fn full_build_and_keep_all_wheels() {
        let steps = plan_for(
            &[
                ("PROJECT", "requirements"),
                ("PROJECT_REF", "stable/2026.1"),
                ("KEEP_ALL_WHEELS", "True"),
            ],
            |_| {},
        );
        let req = steps.iter().find(|s| s.name == "requirements").unwrap();
        assert_eq!(req.actions.len(), 2, "no PIP_PACKAGES install");
        let Action::RequirementsConstraints { spec } = &req.actions[0] else {
            panic!()
        };
        assert!(spec.drops.iter().all(|d| d.name != "setuptools"));
        let Action::RequirementsWheels { spec } = &req.actions[1] else {
            panic!()
        };
        assert_eq!(spec.only, None);
        assert!(spec.keep_all);
        assert!(!spec
            .command("six", Path::new("/w"), BuildConstraintMode::Option)
            .args
            .contains(&"--no-deps".to_string()));
        assert!(steps.iter().all(|s| s.name != "cleanup"));
    }

    #[test]
    fn scipy_and_scikit_learn_stay_constraints_but_are_not_built() {
        let steps = plan_for(
            &[("PROJECT", "requirements"), ("PIP_PACKAGES", "scipy")],
            |_| {},
        );
        let req = steps.iter().find(|s| s.name == "requirements").unwrap();
        let spec = req
            .actions
            .iter()
            .find_map(|a| match a {
                Action::RequirementsWheels { spec } => Some(spec),
                _ => None,
            })
            .unwrap();
        let names: Vec<&str> = spec.not_built.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["scipy", "scikit-learn"]);
        assert!(req
            .actions
            .iter()
            .any(|a| a.to_string().contains("not built: scikit-learn")));
        // What build() builds: the constraint lines without them, PIP_PACKAGES as given.
        let upper = "scipy===1.15.3\nsix===1.17.0\nscikit-learn===1.7.2\nscikit-image===0.25.0\n";
        let (buildable, left_out) = apply_drops(upper, &spec.not_built);
        assert_eq!(left_out, ["scipy===1.15.3", "scikit-learn===1.7.2"]);
        let items = build_list(&buildable, &spec.extras, None, &BTreeSet::new());
        let reqs: Vec<&str> = items.iter().map(|i| i.requirement.as_str()).collect();
        assert_eq!(
            reqs,
            [
                "six===1.17.0",
                "scikit-image===0.25.0",
                "uwsgi",
                "enum-compat",
                "scipy"
            ],
            "LOCI's split builds PIP_PACKAGES after its egrep"
        );
    }

    #[test]
    fn drop_rules_follow_ref_and_arch() {
        let names = |r: Vec<DropRule>| r.into_iter().map(|d| d.name).collect::<Vec<_>>();
        assert_eq!(
            names(drop_rules("master", "x86_64")),
            ["setuptools", "ceilometer"]
        );
        assert_eq!(names(drop_rules("stable/2026.1", "x86_64")), ["ceilometer"]);
        assert_eq!(
            names(drop_rules("stable/2026.1", "aarch64")),
            ["ceilometer", "confluent-kafka"]
        );
    }

    #[test]
    fn drops_whole_names_only() {
        let text = "setuptools===80.9.0\nsetuptools-scm===8.0\nceilometer===24.0.0\nceilometermiddleware===3.10.0\n\
                    confluent_kafka===2.13.0;python_version>='3.10'\nsix===1.17.0\n";
        let (out, removed) = apply_drops(text, &drop_rules("master", "aarch64"));
        assert_eq!(
            out,
            "setuptools-scm===8.0\nceilometermiddleware===3.10.0\nsix===1.17.0\n"
        );
        assert_eq!(removed.len(), 3);
        let (out, removed) = apply_drops(text, &drop_rules("stable/2026.1", "x86_64"));
        assert!(out.contains("setuptools===80.9.0") && out.contains("confluent_kafka"));
        assert_eq!(removed, ["ceilometer===24.0.0"]);
    }

    #[test]
    fn git_entries_are_replaced_by_pins() {
        let text = "six===1.17.0\ngit+https://opendev.org/x/foo@master#egg=foo\npbr===7.0.3\n";
        assert_eq!(
            git_entries(text),
            ["git+https://opendev.org/x/foo@master#egg=foo"]
        );
        let out = replace_git_entries(text, &[("foo_bar".into(), "1.2.3.dev4".into())]);
        assert_eq!(out, "six===1.17.0\npbr===7.0.3\nfoo_bar===1.2.3.dev4\n");
        // Not dropped by rules either, and never a build item.
        assert_eq!(apply_drops(text, &rules(&["git"])).0, text);
        assert!(build_list(text, &[], None, &BTreeSet::new())
            .iter()
            .all(|i| !i.requirement.starts_with("git+")));
    }

    #[test]
    fn wheel_file_names() {
        assert_eq!(
            wheel_name_version("oslo_config-10.3.0-py3-none-any.whl"),
            Some(("oslo_config".into(), "10.3.0".into()))
        );
        assert_eq!(
            wheel_name_version("uWSGI-2.0.28-1-cp311-cp311-linux_x86_64.whl"),
            Some(("uWSGI".into(), "2.0.28".into()))
        );
        assert_eq!(wheel_name_version("foo-1.0.tar.gz"), None);
        assert_eq!(wheel_name_version("foo-1.0.whl"), None);
    }

    #[test]
    fn name_mapping_and_local_pins() {
        let mapping = parse_name_mapping(EMBEDDED_NAME_MAPPING);
        assert!(mapping.contains(&("glance_store".to_string(), "glance-store".to_string())));
        assert_eq!(pypi_name(&mapping, "keystoneauth1"), "keystoneauth1");
        let custom = parse_name_mapping("# c\npython-foo foo-client foo_pkg\n");
        assert_eq!(pypi_name(&custom, "Foo.Pkg"), "foo-client");
        assert_eq!(pypi_name(&custom, "other"), "other");
        let text = "Foo-Client===1.0;python_version>='3.9'\nfoo_client===0.9;python_version<'3.9'\nsix===1.17.0\n";
        let (out, found) = pin_version(text, "foo.client", "1.1.0.dev3");
        assert!(found);
        assert_eq!(out, "Foo-Client===1.1.0.dev3\nsix===1.17.0\n");
        assert!(!pin_version(text, "nope", "1").1);
    }

    #[test]
    fn local_trees_are_found_by_mapped_name() {
        let d = tempfile::tempdir().unwrap();
        let mk = |dir: &str, cfg: &str| {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
            std::fs::write(d.path().join(dir).join("setup.cfg"), cfg).unwrap();
        };
        mk("python-foo", "[metadata]\nname = foo_pkg\nsummary = x\n");
        mk("requirements", "[metadata]\nname = six\n");
        mk("other", "[flake8]\nname = nothing\n");
        mk("unlisted", "[metadata]\nname = not-a-constraint\n");
        std::fs::create_dir_all(d.path().join("bare")).unwrap();
        let spec = ConstraintsSpec {
            repo_dir: d.path().join("requirements"),
            root: d.path().join("root"),
            work: d.path().join("work"),
            sources_dir: d.path().to_path_buf(),
            skip_dirs: vec!["requirements".into()],
            name_mapping: parse_name_mapping("python-foo foo-client foo_pkg\n"),
            drops: vec![],
            pip: PipWheel {
                pip: "pip".into(),
                args: vec![],
                env: vec![],
            },
            jobs: 1,
            setuptools: "<81".into(),
            build_constraints: d.path().join("work/build-constraints.txt"),
        };
        let trees = local_trees(&spec, "six===1.17.0\nfoo_client===1.0\n");
        assert_eq!(
            trees,
            vec![(d.path().join("python-foo"), "foo-client".to_string())]
        );
    }

    #[test]
    fn build_list_restricts_and_adds_extras() {
        let text =
            "# comment\nsix===1.17.0\noslo.config===10.3.0\nenum-compat===0.0.3\nPyYAML===6.0.3\n";
        let extras: Vec<String> = ["uwsgi", "enum-compat", "python-ldap"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let all = build_list(text, &extras, None, &BTreeSet::new());
        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "six",
                "oslo-config",
                "enum-compat",
                "pyyaml",
                "uwsgi",
                "python-ldap"
            ]
        );
        assert_eq!(all[1].requirement, "oslo.config===10.3.0");
        let only =
            parse_only_list("# keystone closure\nOslo_Config\nuwsgi\npyyaml==6\n\nkeystone\n");
        assert_eq!(only, ["oslo-config", "uwsgi", "pyyaml", "keystone"]);
        let skip: BTreeSet<String> = ["pyyaml".to_string()].into();
        let some = build_list(text, &extras, Some(&only), &skip);
        let names: Vec<&str> = some.iter().map(|i| i.requirement.as_str()).collect();
        assert_eq!(names, ["oslo.config===10.3.0", "uwsgi"]);
    }

    #[test]
    fn wheels_are_moved_whole_and_never_replace_one_there() {
        let root = tempfile::tempdir().unwrap();
        // /dev/shm is another file system than /tmp on most hosts: the copy path.
        let shm = Path::new("/dev/shm");
        let src = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .unwrap();
        std::fs::write(src.path().join("a-1-py3-none-any.whl"), "new").unwrap();
        move_into(src.path(), "a-1-py3-none-any.whl", root.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("a-1-py3-none-any.whl")).unwrap(),
            "new"
        );
        assert_eq!(
            listing(root.path()),
            ["a-1-py3-none-any.whl"],
            "no .part left"
        );
        assert!(!src.path().join("a-1-py3-none-any.whl").exists());
        std::fs::write(src.path().join("a-1-py3-none-any.whl"), "second").unwrap();
        move_into(src.path(), "a-1-py3-none-any.whl", root.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("a-1-py3-none-any.whl")).unwrap(),
            "new"
        );
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn only_built_wheels_are_kept() {
        let log = "Collecting six===1.16.0\n  Downloading six-1.16.0-py2.py3-none-any.whl (11 kB)\n\
                   Saved ./w/six-1.16.0-py2.py3-none-any.whl\n\
                   Building wheels for collected packages: docopt\n  Building wheel for docopt (pyproject.toml): started\n\
                   \x20 Created wheel for docopt: filename=docopt-0.6.2-py2.py3-none-any.whl size=13704 sha256=abc\n\
                   \x20 Stored in directory: /tmp/x\nSuccessfully built docopt\n";
        let found = vec![
            "docopt-0.6.2-py2.py3-none-any.whl".to_string(),
            "six-1.16.0-py2.py3-none-any.whl".to_string(),
        ];
        let (kept, dropped) = select_wheels(&found, log, false);
        assert_eq!(kept, ["docopt-0.6.2-py2.py3-none-any.whl"]);
        assert_eq!(dropped, ["six-1.16.0-py2.py3-none-any.whl"]);
        let (kept, dropped) = select_wheels(&found, log, true);
        assert_eq!(kept, found);
        assert!(dropped.is_empty());
        // Without the `Created wheel` line, pip's summary line still tells.
        let summary_only = "Saved ./w/six-1.16.0-py2.py3-none-any.whl\nSuccessfully built docopt\n";
        let (kept, dropped) = select_wheels(&found, summary_only, false);
        assert_eq!(kept, ["docopt-0.6.2-py2.py3-none-any.whl"]);
        assert_eq!(dropped, ["six-1.16.0-py2.py3-none-any.whl"]);
        assert!(select_wheels(&found, "Saved x\n", false).0.is_empty());
    }

    #[test]
    fn quiet_is_balanced() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(balance_quiet(&s(&["--pre"])), s(&["--pre"]));
        assert_eq!(
            balance_quiet(&s(&["-qq", "--pre"])),
            s(&["-qq", "--pre", "-v", "-v"])
        );
        assert_eq!(balance_quiet(&s(&["--quiet", "-v"])), s(&["--quiet", "-v"]));
        assert_eq!(balance_quiet(&s(&["-vq"])), s(&["-vq"]));
    }

    #[test]
    fn purge_keeps_wheels_and_txt_and_skips_mounts() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(root.join("six-1.17.0-py3-none-any.whl"), "w").unwrap();
        std::fs::write(root.join("upper-constraints.txt"), "c").unwrap();
        std::fs::create_dir_all(root.join("usr/lib/python3/x")).unwrap();
        std::fs::write(root.join("usr/lib/python3/x/a.py"), "x").unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/hosts"), "x").unwrap();
        std::fs::write(root.join("etc/passwd"), "x").unwrap();
        std::fs::create_dir_all(root.join("proc/1")).unwrap();
        std::fs::create_dir_all(root.join("dir.txt")).unwrap();
        std::fs::write(root.join(".hidden"), "x").unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        // /proc and /etc/hosts stand for mount points.
        let r = purge_with(root, &|p, _| {
            p.ends_with("proc") || p.ends_with("etc/hosts")
        })
        .unwrap();
        assert_eq!(
            r.kept,
            ["six-1.17.0-py3-none-any.whl", "upper-constraints.txt"]
        );
        assert_eq!(r.mounts, [root.join("etc/hosts"), root.join("proc")]);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.busy, 1, "etc still holds the mounted hosts file");
        let mut left: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "etc",
                "proc",
                "six-1.17.0-py3-none-any.whl",
                "upper-constraints.txt"
            ]
        );
        assert!(root.join("etc/hosts").exists() && !root.join("etc/passwd").exists());
        assert!(root.join("proc/1").exists());
    }

    #[test]
    fn the_real_root_is_purged_only_as_a_container_command() {
        let c = |v: &[(u32, &str)]| {
            v.iter()
                .map(|(p, n)| (*p, n.to_string()))
                .collect::<Vec<_>>()
        };
        // RUN ... && exec loci build: loci is PID 1.
        assert!(runs_as_container_command(&c(&[(1, "loci")])));
        // RUN loci build && ...: the RUN's shell is PID 1.
        assert!(runs_as_container_command(&c(&[(7, "loci"), (1, "sh")])));
        assert!(runs_as_container_command(&c(&[
            (9, "loci"),
            (7, "sh"),
            (1, "docker-init")
        ])));
        // A host, or a shell session inside a container.
        assert!(!runs_as_container_command(&c(&[
            (900, "loci"),
            (1, "systemd")
        ])));
        assert!(!runs_as_container_command(&c(&[
            (900, "loci"),
            (800, "bash"),
            (1, "sh")
        ])));
        assert!(!runs_as_container_command(&c(&[
            (900, "loci"),
            (800, "bash"),
            (700, "sshd"),
            (1, "systemd")
        ])));
        assert!(
            !runs_as_container_command(&c(&[(900, "loci")])),
            "no /proc: no proof"
        );
        // This process's real ancestry reaches PID 1, and decides.
        let chain = ancestry();
        assert_eq!(chain[0].0, std::process::id());
        assert_eq!(chain.last().unwrap().0, 1, "{chain:?}");
        let refused = refuse_outside_a_container(Path::new("/"));
        assert_eq!(refused.is_ok(), runs_as_container_command(&chain));
        if let Err(e) = refused {
            assert!(
                e.to_string().contains("refusing to delete everything at /"),
                "{e}"
            );
        }
        assert!(refuse_outside_a_container(Path::new("/tmp/x")).is_ok());
    }

    #[test]
    fn purge_uses_the_device_number() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("var/lib")).unwrap();
        std::fs::write(d.path().join("a.whl"), "w").unwrap();
        let r = purge(d.path()).unwrap();
        assert_eq!(r.kept, ["a.whl"]);
        assert!(r.mounts.is_empty());
        assert!(!d.path().join("var").exists());
    }

    #[test]
    fn failures_are_aggregated_with_their_output() {
        let item = |r: &str| BuildItem {
            name: normalize(line_name(r).unwrap()),
            requirement: r.into(),
        };
        let results = vec![
            BuildResult {
                item: item("a===1"),
                wheels: vec![],
                dir: "/w/0".into(),
                log: "ERROR: No matching distribution found for a===1\n".into(),
                failure: Some("exit code 1".into()),
                seconds: 1.0,
            },
            BuildResult {
                item: item("six===1.17.0"),
                wheels: vec!["six-1.17.0-py2.py3-none-any.whl".into()],
                dir: "/w/1".into(),
                log: String::new(),
                failure: None,
                seconds: 1.0,
            },
            BuildResult {
                item: item("b===2"),
                wheels: vec![],
                dir: "/w/2".into(),
                log: "error: subprocess-exited-with-error\n".into(),
                failure: Some("exit code 1".into()),
                seconds: 1.0,
            },
        ];
        let e = failures_error(&results, "wheels", Path::new("/w"))
            .unwrap()
            .to_string();
        assert!(
            e.contains("2 of 3 wheels failed to build: a===1, b===2"),
            "{e}"
        );
        assert!(
            e.contains("No matching distribution found for a===1"),
            "{e}"
        );
        assert!(e.contains("subprocess-exited-with-error"), "{e}");
        assert!(failures_error(&results[1..2], "wheels", Path::new("/w")).is_none());
    }

    #[test]
    fn builds_run_at_the_same_time() {
        let d = tempfile::tempdir().unwrap();
        let items: Vec<BuildItem> = ["a", "b"]
            .iter()
            .map(|n| BuildItem {
                name: n.to_string(),
                requirement: n.to_string(),
            })
            .collect();
        // Each stand-in announces itself, then succeeds only if the other one shows up within
        // five seconds: one after the other, both would fail.
        let marks = d.path().join("marks");
        std::fs::create_dir_all(&marks).unwrap();
        let make = |item: &BuildItem, _dir: &Path| {
            let other = if item.name == "a" { "b" } else { "a" };
            let script = format!(
                "touch {m}/{me}; i=0; while [ $i -lt 50 ]; do [ -e {m}/{other} ] && exit 0; sleep 0.1; i=$((i+1)); done; exit 1",
                m = marks.display(),
                me = item.name
            );
            Cmd::new("sh", ["-c".to_string(), script])
        };
        let results =
            run_builds(&items, &d.path().join("work"), 2, &[], &make, &|_, _, _| {}).unwrap();
        assert!(results.iter().all(|r| r.failure.is_none()), "{results:?}");
    }

    #[test]
    fn parallel_builds_run_every_item_and_record_failures() {
        let d = tempfile::tempdir().unwrap();
        let items: Vec<BuildItem> = (0..5)
            .map(|i| BuildItem {
                name: format!("p{i}"),
                requirement: format!("p{i}"),
            })
            .collect();
        // A stand-in for pip: writes a wheel into its dir, fails for p3.
        let make = |item: &BuildItem, dir: &Path| {
            let script = if item.name == "p3" {
                "echo broken >&2; exit 2".to_string()
            } else {
                format!("echo 'Created wheel for {0}: filename={0}-1-py3-none-any.whl size=1' && touch \"$1/{0}-1-py3-none-any.whl\"", item.name)
            };
            Cmd::new(
                "sh",
                [
                    "-c".to_string(),
                    script,
                    "sh".into(),
                    dir.display().to_string(),
                ],
            )
        };
        let seen = AtomicUsize::new(0);
        let results = run_builds(&items, d.path(), 3, &[], &make, &|_, _, _| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 5);
        assert_eq!(results.len(), 5);
        let failed: Vec<&str> = results
            .iter()
            .filter(|r| r.failure.is_some())
            .map(|r| r.item.name.as_str())
            .collect();
        assert_eq!(failed, ["p3"]);
        assert!(results[3].log.contains("broken"));
        assert_eq!(results[0].wheels, ["p0-1-py3-none-any.whl"]);
        assert_eq!(
            select_wheels(&results[0].wheels, &results[0].log, false)
                .0
                .len(),
            1
        );
    }
}
