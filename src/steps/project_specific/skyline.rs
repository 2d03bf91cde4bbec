//! skyline-apiserver: its web console, skyline-console, installed into the venv (LOCI master's
//! `project_specific/skyline-apiserver/02_install_skyline_console.sh`, which clones
//! SKYLINE_CONSOLE_REPO at SKYLINE_CONSOLE_REF and runs `uv pip install -U .` there).
//!
//! The console comes from
//! - a git repository (LOCI's way, the default): SKYLINE_CONSOLE_REPO at SKYLINE_CONSOLE_REF is
//!   cloned into the data dir as `skyline-console` — a tree already there (pre-seeded
//!   `data/skyline-console`, e.g. an unpacked sdist) is used as it is — and pip-installed from
//!   there;
//! - the package index, with SKYLINE_CONSOLE_REPO=pypi: the `skyline-console` release named by
//!   SKYLINE_CONSOLE_REF (a version, a specifier, or `master` for the newest), from the wheels
//!   or PyPI. Its wheel carries the built static files.
//!
//! Either way the install is the build's own `pip install` (constraints, wheels, PIP_ARGS,
//! `--no-index` with KEEP_ALL_WHEELS), so it runs where the venv is made: in the one-stage
//! build after the install step, and in the builder stage of a two-stage build.
//!
//! A git checkout holds no static files (upstream builds them with yarn when it packages a
//! release): the console is then installed without them, as LOCI installs it, and the build log
//! says so.

use std::path::PathBuf;

use crate::config::{Config, ConsoleSource};
use crate::error::{Error, Result};
use crate::plan::{Cmd, PlanInput, SkylineHook, SourceAction, Step};
use crate::runner::{Context, Runner};

/// The project this module serves.
pub const PROJECT: &str = "skyline-apiserver";
/// The console's distribution name.
pub const CONSOLE: &str = "skyline-console";
/// The console's file the hook looks for: the entry page of the static files.
pub const INDEX_HTML: &str = "static/index.html";

/// Hook: check that the installed console has its static files.
pub const HOOK_CHECK: &str =
    "check that skyline_console in the venv has its static files (static/index.html)";

/// Where a git console is cloned to (or found): `skyline-console` in the data dir.
pub fn console_dir(config: &Config) -> PathBuf {
    config.paths.data_dir.join(CONSOLE)
}

/// The console's source tree when this build installs it from git (a skyline-apiserver
/// build, SKYLINE_CONSOLE_REPO a repository): the base step decides on git with it.
pub fn git_console_tree(input: &PlanInput) -> Option<PathBuf> {
    let c = input.config;
    let git = matches!(c.skyline.console, ConsoleSource::Git { .. });
    (c.specific == Some(crate::config::SpecificProject::SkylineApiserver) && git)
        .then(|| console_dir(c))
}

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let mut install = crate::steps::python::pip_install(input, c.keep_all_wheels)?.arg("--upgrade");
    let (summary, clone, target) = match &c.skyline.console {
        ConsoleSource::Git { repo, reference } => {
            let dir = console_dir(c);
            if c.installer == crate::config::Installer::Uv {
                // uv builds a local tree under --only-binary :all: only when exempted by name.
                install = install.args(["--no-binary", CONSOLE]);
            }
            (
                format!("skyline-apiserver: console {CONSOLE} from {repo} at {reference}"),
                Some(SourceAction::GitClone {
                    var: "SKYLINE_CONSOLE".into(),
                    repo: repo.clone(),
                    reference: reference.clone(),
                    dest: dir.clone(),
                    shallow_no_git: false,
                }),
                dir.display().to_string(),
            )
        }
        ConsoleSource::Index { requirement } => (
            format!(
                "skyline-apiserver: console {requirement} from {} (SKYLINE_CONSOLE_REPO=pypi)",
                match (crate::steps::python::wheels_dir(input), c.keep_all_wheels) {
                    (Some(_), true) => "the wheels",
                    (Some(_), false) => "the wheels or the index",
                    (None, _) => "the index",
                }
            ),
            None,
            requirement.clone(),
        ),
    };
    let mut step = Step::new("project", summary);
    let from_git = clone.is_some();
    if let Some(clone) = clone {
        step = step.action(clone);
    }
    step = step.run(install.arg(target));
    if from_git {
        // The console's tree, like the project's, must be installed whole.
        let tree = console_dir(c);
        step = step.action(crate::steps::coverage::check_action(input, vec![tree]));
    }
    Ok(Some(step.action(SkylineHook::CheckConsole)))
}

/// Where the venv's python finds the `skyline_console` package.
pub fn package_dir(config: &Config, runner: &mut dyn Runner) -> Result<PathBuf> {
    let python = config.paths.venv.join("bin/python").display().to_string();
    let out = runner
        .output(&Cmd::new(
            python,
            [
                "-c",
                "import os, skyline_console; print(os.path.dirname(os.path.abspath(skyline_console.__file__)))",
            ],
        ))
        .map_err(|e| {
            let mut out = Error::new(format!("{CONSOLE} was installed, but the venv cannot import skyline_console"))
                .hint("SKYLINE_CONSOLE_REPO must be skyline-console's repository (or `pypi`), SKYLINE_CONSOLE_REF a ref or version of it");
            out.cause = Some(e.to_string());
            out
        })?;
    Ok(PathBuf::from(out.trim()))
}

impl std::fmt::Display for SkylineHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let SkylineHook::CheckConsole = self;
        f.write_str(HOOK_CHECK)
    }
}

/// Runs skyline's hook.
pub fn run(hook: &SkylineHook, ctx: &mut Context) -> Result<()> {
    let SkylineHook::CheckConsole = hook;
    check_static(ctx.config, ctx.runner)
}

/// Says (as a warning in the build log) when the console in the venv has no static files.
pub fn check_static(config: &Config, runner: &mut dyn Runner) -> Result<()> {
    let dir = package_dir(config, runner)?;
    if has_static_files(&dir) {
        crate::say!(
            "{CONSOLE}: static files at {}",
            dir.join("static").display()
        );
    } else {
        crate::say!(
            "warning: {CONSOLE} from SKYLINE_CONSOLE_REPO={} at SKYLINE_CONSOLE_REF={} has no {} in {}: \
             a git checkout holds no built static files (upstream builds them with yarn for its releases); \
             SKYLINE_CONSOLE_REPO=pypi installs the release wheel, which has them",
            config.skyline.console_repo,
            config.skyline.console_ref,
            INDEX_HTML,
            dir.display()
        );
    }
    Ok(())
}

/// Whether the console package at `dir` has its entry page.
pub fn has_static_files(dir: &std::path::Path) -> bool {
    dir.join(INDEX_HTML).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(&env).unwrap()
    }

    #[test]
    fn the_check_reads_the_package_dir_from_the_venv_python() {
        let d = tempfile::tempdir().unwrap();
        let pkg = d.path().join("skyline_console");
        std::fs::create_dir_all(pkg.join("static")).unwrap();
        let c = config(&[("PROJECT", PROJECT)]);
        let mut runner = crate::runner::RecordingRunner {
            answer: format!("{}\n", pkg.display()),
            ..Default::default()
        };
        assert_eq!(package_dir(&c, &mut runner).unwrap(), pkg);
        assert_eq!(runner.commands[0].program, "/var/lib/openstack/bin/python");
        assert!(!has_static_files(&pkg));
        std::fs::write(pkg.join(INDEX_HTML), "<html>").unwrap();
        assert!(has_static_files(&pkg));
        check_static(&c, &mut runner).unwrap();
        // The hook of the plan runs the check: the venv's python is asked again.
        let plan = crate::plan::Plan {
            project: PROJECT.into(),
            stage: crate::plan::Stage::Project,
            distro: crate::distro::Distro::detect(
                &crate::os_release::OsRelease::parse("ID=debian\nVERSION_ID=\"12\"\n"),
                None,
                None,
            )
            .unwrap(),
            steps: Vec::new(),
        };
        let mut ctx = crate::runner::Context {
            plan: &plan,
            config: &c,
            runner: &mut runner,
            timings: &crate::runner::Timings::default(),
            state: &mut crate::runner::State::default(),
        };
        super::super::run(
            &crate::plan::Hook::Skyline(SkylineHook::CheckConsole),
            &mut ctx,
        )
        .unwrap();
        assert_eq!(runner.commands.len(), 3);
    }
}
