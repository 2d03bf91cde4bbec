//! PROJECT=requirements: build the wheels of a requirements image (LOCI's requirements.sh).
//!
//! The build is planned as ordinary steps (`base`, `venv`, `packages` with bindep's
//! `requirements` profile, `source` cloning PROJECT_REPO to /tmp/requirements) followed by the
//! steps of this module:
//!
//! 1. `requirements` — [`RequirementsAction::RequirementsConstraints`]: take upper-constraints.txt and
//!    global-requirements.txt from the clone, drop the constraints LOCI drops (setuptools when
//!    PROJECT_REF=master, ceilometer, confluent-kafka on aarch64), build the `git+` entries and
//!    the source trees found in the data dir into wheels first and pin them by `name===version`
//!    (read from the wheel's file name), and write both files to the image root. Then, when
//!    PIP_PACKAGES is given, `pip install` them against the constraints (packages whose
//!    `setup_requires` would otherwise pull unconstrained versions). Then
//!    [`RequirementsAction::RequirementsWheels`]: first the prefetch ([`prefetch`], REQUIREMENTS_PREFETCH):
//!    every plain pin is looked up on pip's index, and one with a binary wheel for the venv's
//!    Python and platform is not built (KEEP_ALL_WHEELS=False) or is downloaded directly
//!    (True); then one `pip wheel` per remaining constraint, in parallel (four jobs per core
//!    by default), every failure (the prefetch's downloads included) collected and reported
//!    at the end.
//! 2. `purge` — [`RequirementsAction::PurgeRoot`]: LOCI's `rm -rf /!(*whl|*txt)`, done natively: delete
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
//! The prefetch follows from this: with KEEP_ALL_WHEELS=False, a constraint whose pinned
//! version has a binary wheel for the target on the index would only be downloaded by pip,
//! then dropped, so it is not fetched at all (the log names them); with True, that wheel is
//! downloaded as pip would, without pip.
//!
//! # Source trees in the data dir
//!
//! Like LOCI's `honor_local_sources`, every directory of the data dir (/tmp) with a setup.cfg
//! (LOCI's test) or a pyproject.toml whose package (setup.cfg `[metadata] name`, else
//! pyproject.toml `[project] name`, mapped through python-custom-name-mapping.txt)
//! is a constraint replaces the index's release: instead of asking `python3 setup.py
//! --version` and pointing the build constraints at the tree, loci builds the tree's wheel
//! first (with the git+ entries) and pins the constraint to the version of that wheel, so the
//! version is exactly what pip built (pbr included) and every later build finds it through
//! `--find-links`.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::Path;
use std::sync::Mutex;

use super::python::{build_constraints, venv_bin, BuildConstraintMode};
use crate::config::Config;
use crate::constraints::normalize;
use crate::error::{Context, Error, Result};
use crate::plan::{Cmd, PlanInput, RequirementsAction, Step};
use crate::runner;

pub mod closure;
mod constraints;
mod pick;
mod pool;
pub mod prefetch;
mod purge;
pub mod reuse;
mod spec;
pub mod toolchain;
mod trees;

pub use self::constraints::*;
pub use self::pick::*;
pub use self::pool::*;
pub use self::purge::*;
pub use self::trees::*;
pub use crate::plan::requirements::{
    BuildPackages, ConstraintsSpec, DropRule, PipWheel, WheelsSpec,
};

/// Packages LOCI builds besides the constraints (uwsgi is not a constraint; enum-compat is
/// one, so it is built once).
pub const EXTRA_PACKAGES: &[&str] = &["uwsgi", "enum-compat"];

/// Environment of every `pip wheel`, as in LOCI: uwsgi with SSL, cassandra-driver's build
/// concurrency. (LOCI also builds uwsgi on one CPU, CPUCOUNT=1, because its jobs fill the
/// machine; loci's prefetch leaves the pool only the few constraints that compile, so uwsgi,
/// the longest of them, gets every CPU: [`wheel_env`].)
pub const WHEEL_ENV: &[(&str, &str)] = &[
    ("UWSGI_PROFILE_OVERRIDE", "ssl=true"),
    ("CASS_DRIVER_BUILD_CONCURRENCY", "8"),
];

/// [`WHEEL_ENV`] and uwsgi's CPUCOUNT: the machine's CPUs with the prefetch, else LOCI's 1.
pub fn wheel_env(cpus: usize, prefetch: bool) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = WHEEL_ENV
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cpus = if prefetch { cpus.max(1) } else { 1 };
    env.insert(1, ("CPUCOUNT".into(), cpus.to_string()));
    env
}

/// The `requirements` step: the constraints and the wheels.
pub fn plan_wheels(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let root = c.paths.root.clone();
    let work = c.paths.data_dir.join("loci-requirements-build");
    // Most `pip wheel` runs only download: keep the network busy, bounded by the machine.
    let jobs = c.requirements_jobs.unwrap_or(4 * input.host.cpus);
    let build_packages = build_packages(input)?;
    let mut args = balance_quiet(&c.pip_wheel_args);
    if c.cache_dir.is_some() {
        // The wheel cache records the build dependencies pip installs, which it prints with -v.
        args.push("-v".into());
    }
    let pip = PipWheel {
        pip: venv_bin(input, "pip"),
        args,
        env: wheel_env(input.host.cpus, c.requirements_prefetch),
    };
    let constraints = ConstraintsSpec {
        repo_dir: c.paths.sources_dir.join(&c.project),
        root: root.clone(),
        work: work.clone(),
        sources_dir: c.paths.sources_dir.clone(),
        skip_dirs: vec![c.project.clone(), "loci-requirements-build".into()],
        name_mapping: name_mapping(&c.paths.loci_dir)?,
        drops: drop_rules(&c.project_ref, &input.host.arch),
        pip: pip.clone(),
        jobs,
        setuptools: c.setuptools_constraint.clone(),
        build_constraints: work.join("build-constraints.txt"),
        build_packages: build_packages.clone(),
    };
    let toolchain = toolchain::download(input, &work, &root);
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
        prefetch: c.requirements_prefetch,
        build_constraints: root.join("upper-constraints.txt"),
        pip,
        cache: c
            .cache_dir
            .as_ref()
            .map(|d| d.join("python").join(reuse::DIR)),
        build_packages: build_packages.clone(),
        toolchain: Some(toolchain),
    };
    let mut step = Step::new(
        "requirements",
        format!(
            "wheels for the constraints of {} at {}",
            c.project_repo, c.project_ref
        ),
    )
    .action(RequirementsAction::RequirementsConstraints {
        spec: Box::new(constraints),
    });
    if !c.pip_packages.is_empty() {
        // PIP_PACKAGES may compile: the build packages first.
        if let Some(b) = &build_packages {
            step = step.action(super::packages::install_action(input.distro, &b.packages));
        }
        step = step.run(
            Cmd::new(venv_bin(input, "pip"), ["install"])
                .args(c.pip_args.iter().cloned())
                .args([
                    "--no-cache-dir".to_string(),
                    "-c".into(),
                    root.join("upper-constraints.txt").display().to_string(),
                ])
                .args(c.pip_packages.iter().cloned()),
        );
    }
    step = step.action(RequirementsAction::RequirementsWheels {
        spec: Box::new(wheels),
    });
    Ok(Some(step))
}

/// The packages step's system packages (bindep's `requirements` profile and DIST_PACKAGES),
/// and git ([`super::base::git_with_build_packages`]), which the requirements step installs
/// only when it has something to build.
fn build_packages(input: &PlanInput) -> Result<Option<BuildPackages>> {
    let mut packages = super::packages::project_packages(input)?;
    if super::base::git_with_build_packages(input) {
        input.distro.add_build_tools(&mut packages);
    }
    Ok((!packages.is_empty()).then(|| BuildPackages {
        packages,
        refresh: input.distro.refresh_cmd(),
    }))
}

/// The `packages` step of PROJECT=requirements: the packages of the packages step and git,
/// their install deferred to the `requirements` step ([`build_packages`]): the image holds
/// only wheels, and a rebuild whose wheels all come from the index or the wheel cache
/// compiles nothing and runs no git.
pub fn plan_packages(input: &PlanInput) -> Result<Option<Step>> {
    let Some(b) = build_packages(input)? else {
        return Ok(None);
    };
    let mut step = Step::new(
        "packages",
        "system packages to build wheels with (bindep's requirements profile, DIST_PACKAGES; \
         git for git+ constraints and source trees)",
    )
    .action(RequirementsAction::BuildPackagesDeferred {
        packages: b.packages.clone(),
    });
    step.packages = b.packages;
    Ok(Some(step))
}

/// The `purge` step: only the wheels and constraint files stay at the image root.
pub fn plan_purge(input: &PlanInput) -> Result<Option<Step>> {
    let root = input.config.paths.root.clone();
    Ok(Some(
        Step::new(
            "purge",
            format!("leave only *.whl and *.txt at {}", root.display()),
        )
        .action(RequirementsAction::PurgeRoot { root }),
    ))
}

impl fmt::Display for RequirementsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequirementsAction::RequirementsConstraints { spec } => write!(f, "{spec}"),
            RequirementsAction::RequirementsWheels { spec } => write!(f, "{spec}"),
            RequirementsAction::PurgeRoot { root } => write!(
                f,
                "delete everything at {} except *.whl and *.txt (mount points left alone)",
                root.display()
            ),
            RequirementsAction::BuildPackagesDeferred { packages } => write!(
                f,
                "not now: the requirements step installs these {} packages before its first build, \
                 and none when the index and the wheel cache leave nothing to build: {}",
                packages.len(),
                packages.join(" ")
            ),
        }
    }
}

/// Runs one action of this module.
pub fn run(action: &RequirementsAction, ctx: &mut runner::Context) -> Result<()> {
    match action {
        RequirementsAction::RequirementsConstraints { spec } => prepare(spec, ctx),
        RequirementsAction::RequirementsWheels { spec } => build(spec, ctx),
        RequirementsAction::PurgeRoot { root } => purge(root).map(|_| ()),
        RequirementsAction::BuildPackagesDeferred { packages } => {
            crate::say!(
                "{} build packages deferred to the requirements step (installed only if it builds something)",
                packages.len()
            );
            Ok(())
        }
    }
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

/// [`RequirementsAction::RequirementsConstraints`], its commands run by the context's runner
/// (the source builds in parallel with its environment).
pub fn prepare(spec: &ConstraintsSpec, ctx: &mut runner::Context) -> Result<()> {
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
        install_build_packages(
            spec.build_packages.as_ref(),
            ctx,
            &format!("{} source builds", items.len()),
        )?;
        let mode = BuildConstraintMode::detect(&spec.pip.pip, ctx.runner)?;
        let env = ctx.runner.env();
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
                // A wheel built from a source tree of the data dir holds the tree's packages
                // whole (a truncated one would be installed by every service).
                let tree = Path::new(&r.item.requirement);
                crate::steps::coverage::check_wheel(&spec.root.join(file), tree, ctx.runner)?;
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
///
/// Left as a side file on purpose: the two actions are separate plan actions with a `pip
/// install` of PIP_PACKAGES between them, and exec's dispatch passes no state from one action
/// to the next. Passing the list in memory needs that state in exec.rs's `State`, which the
/// step-shape work of issue 10 owns; until then the file in the work dir is the hand-off.
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
    crate::say!(
        "[{n}/{total}] {} ({:.1}s): {status}",
        r.item.requirement,
        r.seconds
    );
}

/// [`RequirementsAction::RequirementsWheels`], its commands run by the context's runner (the
/// `pip wheel` pool in parallel with its environment).
///
/// With the wheel cache ([`reuse`]), decided here and logged: the prefetch's downloads come
/// from it when it has them; every item left to `pip wheel` whose entry holds for the current
/// constraints is copied from it instead of built; only the rest is built, after the deferred
/// build packages are installed (none when nothing is built), and each build is kept in it.
pub fn build(spec: &WheelsSpec, ctx: &mut runner::Context) -> Result<()> {
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
    // The venv toolchain's download, and the prefetch's questions to pip, beside each other.
    let env = ctx.runner.env();
    let toolchain = spec.toolchain.as_ref().map(|cmd| Beside::start(cmd, &env));
    let answers = spec
        .prefetch
        .then(|| prefetch::PipAnswers::ask(&spec.pip.pip, &env));
    let cache = reuse::WheelCache::for_spec(spec);
    let tls = &ctx.config.tls;
    let prefetch::Prefetched {
        out: prefetched,
        looked,
        pip_version,
    } = prefetch::run_cached(spec, ctx.runner, tls, items, cache.as_ref(), answers);
    // pip's version from its `pip debug`, else from `pip --version`.
    let mode = match pip_version {
        Some(v) => BuildConstraintMode::of_pip(&v)?,
        None => BuildConstraintMode::detect(&spec.pip.pip, ctx.runner)?,
    };
    let lines = reuse::constraint_lines(&upper);
    // The cache's target: the prefetch's (pip debug), else pip's own answer.
    let target = match &looked {
        Some((_, t)) => Some(t.clone()),
        None if cache.is_some() => ctx
            .runner
            .output(&Cmd::new(spec.pip.pip.clone(), ["debug", "--verbose"]))
            .ok()
            .and_then(|t| prefetch::parse_pip_debug(&t)),
        None => None,
    };
    let cache = match (cache, target) {
        (Some(c), Some(t)) => Some(c.with_target(t.python, t.tags)),
        (Some(_), None) => {
            crate::say!("wheel cache off: `pip debug --verbose` names no target to key it by");
            None
        }
        (None, _) => None,
    };
    if let Some(t) = toolchain {
        toolchain::take(t, &spec.work, &spec.root)?;
    }
    let index = looked.as_ref().map(|(i, _)| i);
    let pinned = |r: &str| prefetch::pinned(r).is_some();
    let (items, keys) = reuse::take_cached(
        cache.as_ref(),
        &prefetched.rest,
        &lines,
        index,
        &pinned,
        &spec.root,
    )?;
    if items.is_empty() {
        if spec.build_packages.is_some() {
            crate::say!("nothing left to build: the wheels need no build packages");
        }
    } else {
        install_build_packages(
            spec.build_packages.as_ref(),
            ctx,
            &format!("{} wheels to build", items.len()),
        )?;
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
    crate::say!(
        "build constraints from {} ({})",
        spec.build_constraints.display(),
        match mode {
            BuildConstraintMode::Option => "--build-constraint",
            BuildConstraintMode::Environment =>
                "PIP_CONSTRAINT in pip's environment: this pip predates --build-constraint",
        }
    );
    let env = ctx.runner.env();
    let keep_all = spec.keep_all;
    let root = &spec.root;
    let moved: Mutex<Result<()>> = Mutex::new(Ok(()));
    let keep_error = |e: Error| {
        if let Ok(mut m) = moved.lock() {
            if m.is_ok() {
                *m = Err(e);
            }
        }
    };
    let results = run_builds(
        &items,
        &spec.work.join("wheels"),
        spec.jobs,
        &env,
        &|item, dir| spec.command(&item.requirement, dir, mode),
        &|r, n, total| {
            let (kept, dropped) = select_wheels(&r.wheels, &r.log, keep_all);
            if r.failure.is_none() {
                if let (Some(c), Some(key)) = (cache.as_ref(), keys.get(&r.item.requirement)) {
                    let m = reuse::Manifest::of_build(key, &kept, &r.log, &lines);
                    if let Err(e) = c.store(&r.dir, &m) {
                        crate::say!("wheel cache: {} not kept: {e}", r.item.requirement);
                    }
                }
            }
            for f in &kept {
                if let Err(e) = move_into(&r.dir, f, root) {
                    keep_error(e);
                }
            }
            for f in &dropped {
                let _ = fs::remove_file(r.dir.join(f));
            }
            report(r, n, total, &kept);
        },
    )?;
    moved.into_inner().unwrap_or(Ok(()))?;
    let mut results = results;
    if spec.keep_all {
        // The dependencies of the prefetched wheels, seeded from the wheel cache.
        let seeding = match (&cache, &looked) {
            (Some(cache), Some((index, target))) => Some(closure::Seeding {
                cache,
                index,
                target,
                lines: &lines,
                threads: spec.jobs.max(prefetch::MIN_THREADS),
            }),
            _ => None,
        };
        let installed = !items.is_empty();
        let covered = &prefetched.covered;
        results.extend(closure::complete_in_build(
            spec, ctx, mode, installed, covered, seeding,
        )?);
    }
    results.extend(prefetched.failures);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, PackagesAction};
    use std::path::PathBuf;

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
        let input = PlanInput::new(&config, &distro).bindep(
            "bindep.txt",
            "build-essential [platform:dpkg requirements]\n",
        );
        crate::steps::plan_all(&input).unwrap()
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
        let Action::Requirements(RequirementsAction::RequirementsConstraints { spec }) =
            &req.actions[0]
        else {
            panic!("{:?}", req.actions)
        };
        assert_eq!(spec.repo_dir, PathBuf::from("/tmp/requirements"));
        assert_eq!(spec.root, PathBuf::from("/image"));
        assert!(
            spec.drops.iter().any(|d| d.name == "setuptools"),
            "PROJECT_REF defaults to master"
        );
        // The packages step installs nothing: the requirements step does, when it builds
        // (before PIP_PACKAGES, which may compile).
        assert_eq!(
            steps[3].actions,
            [Action::Requirements(
                RequirementsAction::BuildPackagesDeferred {
                    packages: vec!["build-essential".into(), "git".into()]
                }
            )]
        );
        assert!(
            matches!(&spec.build_packages, Some(b) if b.packages == ["build-essential", "git"])
        );
        let Action::Packages(PackagesAction::Install { packages, .. }) = &req.actions[1] else {
            panic!("{:?}", req.actions)
        };
        assert_eq!(packages, &["build-essential", "git"]);
        let Action::Run { cmd } = &req.actions[2] else {
            panic!("{:?}", req.actions)
        };
        assert_eq!(
            cmd.to_string(),
            "/var/lib/openstack/bin/pip install --no-cache-dir -c /image/upper-constraints.txt pylxd"
        );
        let Action::Requirements(RequirementsAction::RequirementsWheels { spec }) = &req.actions[3]
        else {
            panic!("{:?}", req.actions)
        };
        assert!(spec.build_packages.is_some());
        assert_eq!(spec.cache, None, "no LOCI_CACHE_DIR here: no wheel cache");
        assert_eq!(
            spec.only.as_deref(),
            Some(&["oslo-config".to_string(), "six".into(), "uwsgi".into()][..])
        );
        assert_eq!(spec.extras, ["uwsgi", "enum-compat", "pylxd"]);
        assert!(spec.jobs >= 1);
        assert_eq!(
            spec.command("six===1.17.0", Path::new("/w/1"), BuildConstraintMode::Option)
                .to_string(),
            format!("UWSGI_PROFILE_OVERRIDE=ssl=true CPUCOUNT={} CASS_DRIVER_BUILD_CONCURRENCY=8 /var/lib/openstack/bin/pip wheel --pre \
             --find-links /image --no-deps --wheel-dir /w/1 -c /image/upper-constraints.txt \
             --build-constraint /image/upper-constraints.txt six===1.17.0", crate::host::Host::detect().cpus)
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
        // REQUIREMENTS_PREFETCH defaults to true, but --pre in PIP_WHEEL_ARGS turns it off.
        assert!(spec.prefetch);
        assert!(
            text.contains("first look up every pinned constraint")
                && text.contains("(so none here: PIP_WHEEL_ARGS has --pre)"),
            "{text}"
        );
        assert!(
            text.contains("constraints with a binary wheel for this platform are not built (LOCI drops downloaded wheels; KEEP_ALL_WHEELS=False)"),
            "{text}"
        );
        assert_eq!(
            steps[6].actions,
            [Action::Requirements(RequirementsAction::PurgeRoot {
                root: "/image".into()
            })]
        );
    }

    #[test]
    fn the_wheel_cache_is_in_the_python_cache_and_shown_in_the_plan() {
        let steps = plan_for(&[("PROJECT", "requirements")], |c| {
            c.cache_dir = Some("/mnt/cache".into())
        });
        let req = steps.iter().find(|s| s.name == "requirements").unwrap();
        let Some(Action::Requirements(RequirementsAction::RequirementsWheels { spec })) =
            req.actions.last()
        else {
            panic!("{:?}", req.actions)
        };
        assert_eq!(
            spec.cache.as_deref(),
            Some(Path::new("/mnt/cache/python/loci-wheels-v1"))
        );
        assert_eq!(
            spec.pip.args,
            ["-v"],
            "pip names the build dependencies with -v"
        );
        let text = req.actions.last().unwrap().to_string();
        assert!(
            text.contains("wheel cache /mnt/cache/python/loci-wheels-v1: downloads by sha256")
                && text.contains("install the 2 build packages of the packages step"),
            "{text}"
        );
        let packages = steps.iter().find(|s| s.name == "packages").unwrap();
        assert_eq!(packages.packages, ["build-essential", "git"]);
        assert!(packages.actions[0]
            .to_string()
            .starts_with("not now: the requirements step installs these 2 packages"));
    }

    #[test]
    fn uwsgi_gets_every_cpu_only_with_the_prefetch() {
        let count = |env: Vec<(String, String)>| {
            env.into_iter()
                .find(|(k, _)| k == "CPUCOUNT")
                .map(|(_, v)| v)
        };
        assert_eq!(count(wheel_env(4, true)).as_deref(), Some("4"));
        assert_eq!(count(wheel_env(4, false)).as_deref(), Some("1"), "LOCI's");
        assert_eq!(count(wheel_env(0, true)).as_deref(), Some("1"));
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
        assert_eq!(
            req.actions.len(),
            2,
            "no PIP_PACKAGES install: constraints, wheels (the venv toolchain in them)"
        );
        let Action::Requirements(RequirementsAction::RequirementsWheels { spec }) = &req.actions[1]
        else {
            panic!()
        };
        let cmd = spec.toolchain.as_ref().expect("the venv toolchain");
        assert_eq!(cmd.args[..3], ["download", "--only-binary", ":all:"]);
        assert!(
            cmd.to_string().contains(
                "--dest /tmp/loci-requirements-build/toolchain -c /upper-constraints.txt"
            ),
            "into the work dir, moved into the root: {cmd}"
        );
        assert!(cmd.args.ends_with(&[
            "pip".to_string(),
            "setuptools<81".into(),
            "wheel".into(),
            "bindep".into(),
            "pkginfo".into(),
            "uv".into()
        ]));
        let Action::Requirements(RequirementsAction::RequirementsConstraints { spec }) =
            &req.actions[0]
        else {
            panic!()
        };
        assert!(spec.drops.iter().all(|d| d.name != "setuptools"));
        let Action::Requirements(RequirementsAction::RequirementsWheels { spec }) = &req.actions[1]
        else {
            panic!()
        };
        assert_eq!(spec.only, None);
        assert!(spec.keep_all);
        assert!(!spec
            .command("six", Path::new("/w"), BuildConstraintMode::Option)
            .args
            .contains(&"--no-deps".to_string()));
        assert!(steps.iter().all(|s| s.name != "cleanup"));
        let text = req.actions[1].to_string();
        assert!(spec.prefetch);
        assert!(
            text.contains("binary wheels for this platform are downloaded directly into /")
                && text.contains("`pip install --dry-run`")
                && text.contains("only the rest goes to pip wheel"),
            "{text}"
        );
        assert!(!text.contains("so none here"), "{text}");
    }

    #[test]
    fn requirements_prefetch_false_is_one_pip_wheel_per_constraint() {
        let steps = plan_for(
            &[
                ("PROJECT", "requirements"),
                ("REQUIREMENTS_PREFETCH", "False"),
            ],
            |_| {},
        );
        let req = steps.iter().find(|s| s.name == "requirements").unwrap();
        let Action::Requirements(RequirementsAction::RequirementsWheels { spec }) = &req.actions[1]
        else {
            panic!()
        };
        assert!(!spec.prefetch);
        let text = req.actions[1].to_string();
        assert!(
            text.contains(
                "no prefetch (REQUIREMENTS_PREFETCH=False): one pip wheel per constraint"
            ),
            "{text}"
        );
        assert!(!text.contains("look up"), "{text}");
        // What build() does then: every constraint to pip, without asking pip or the index.
        let mut runner = crate::runner::RecordingRunner::default();
        let items = build_list("six===1.17.0\n", &[], None, &BTreeSet::new());
        let (out, said) = run_prefetch(spec, &mut runner, &items);
        assert_eq!(out.rest, items);
        assert!(out.covered.is_empty() && out.failures.is_empty());
        assert!(runner.commands.is_empty(), "{:?}", runner.commands);
        assert_eq!(
            said,
            ["prefetch off: REQUIREMENTS_PREFETCH=False; every constraint goes to pip wheel"]
        );
    }

    /// The prefetch of `items` as build() runs it, with what it said.
    fn run_prefetch(
        spec: &WheelsSpec,
        runner: &mut crate::runner::RecordingRunner,
        items: &[BuildItem],
    ) -> (prefetch::Outcome, Vec<String>) {
        crate::report::capture(|| {
            prefetch::run(
                spec,
                runner,
                &crate::http::TlsConfig::default(),
                items.to_vec(),
            )
        })
    }

    #[test]
    fn pip_settings_that_change_its_choice_turn_the_prefetch_off() {
        let steps = plan_for(&[("PROJECT", "requirements")], |_| {});
        let req = steps.iter().find(|s| s.name == "requirements").unwrap();
        let Action::Requirements(RequirementsAction::RequirementsWheels { spec }) = &req.actions[1]
        else {
            panic!()
        };
        let mut runner = crate::runner::RecordingRunner {
            answer: ":env:.extra-index-url='https://mirror.example/simple'\n".into(),
            ..Default::default()
        };
        let items = build_list("six===1.17.0\n", &[], None, &BTreeSet::new());
        let (out, said) = run_prefetch(spec, &mut runner, &items);
        assert_eq!(out.rest, items);
        assert_eq!(runner.commands.len(), 1, "pip config list only");
        assert_eq!(
            runner.commands[0].to_string(),
            "/var/lib/openstack/bin/pip config list"
        );
        assert!(
            said[0].starts_with("prefetch off: pip's configuration sets extra-index-url"),
            "{said:?}"
        );
    }

    #[test]
    fn pips_answers_asked_beside_the_step_are_not_asked_again() {
        let steps = plan_for(&[("PROJECT", "requirements")], |_| {});
        let req = steps.iter().find(|s| s.name == "requirements").unwrap();
        let Action::Requirements(RequirementsAction::RequirementsWheels { spec }) = &req.actions[1]
        else {
            panic!()
        };
        let answers = prefetch::PipAnswers {
            config: Beside::start(
                &Cmd::new(
                    "echo",
                    [":env:.extra-index-url='https://mirror.example/simple'"],
                ),
                &[],
            ),
            debug: Beside::start(&Cmd::new("true", [] as [&str; 0]), &[]),
        };
        let mut runner = crate::runner::RecordingRunner::default();
        let items = build_list("six===1.17.0\n", &[], None, &BTreeSet::new());
        let (p, said) = crate::report::capture(|| {
            let tls = crate::http::TlsConfig::default();
            prefetch::run_cached(spec, &mut runner, &tls, items.clone(), None, Some(answers))
        });
        assert!(runner.commands.is_empty(), "{:?}", runner.commands);
        assert_eq!(p.out.rest, items);
        assert!(
            said[0].starts_with("prefetch off: pip's configuration sets extra-index-url"),
            "{said:?}"
        );
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
                Action::Requirements(RequirementsAction::RequirementsWheels { spec }) => Some(spec),
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
}
