//! The install step for real, with both installer backends (pip and uv): a local source tree
//! with a dependency, installed into a fresh venv from a find-links dir against constraints,
//! binary wheels only. Needs python3 with venv and PyPI (the dependency's wheel and uv): marked
//! ignored, so a plain `cargo test` lists them and `tests/run.sh` (`--include-ignored`) runs them.

#[path = "support/cmd.rs"]
mod cmd;

use std::path::Path;
use std::process::Command;

use loci::config::{Config, Env, Installer};
use loci::distro::Distro;
use loci::os_release::OsRelease;
use loci::plan::PlanInput;
use loci::runner::{Runner, SystemRunner};

fn run(command: &mut Command) -> String {
    String::from_utf8_lossy(&cmd::ok(command).stdout).into_owned()
}

/// A setuptools project `loci-demo` that depends on `six`, as a source tree.
fn make_project(dir: &Path) {
    std::fs::create_dir_all(dir.join("loci_demo")).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"loci-demo\"\nversion = \"1.0\"\ndependencies = [\"six\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("loci_demo/__init__.py"),
        "import six\nVALUE = 42\n",
    )
    .unwrap();
}

fn install_with(installer: Installer) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("wheels")).unwrap();
    let wheels = root.join("wheels").display().to_string();
    let env: Env = [
        ("PROJECT", "loci-demo"),
        // The wheels as a directory used in place (without WHEELS: the index).
        ("WHEELS", wheels.as_str()),
        (
            "INSTALLER",
            if installer == Installer::Uv {
                "uv"
            } else {
                "pip"
            },
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut config = Config::from_env(&env).unwrap();
    config.paths.sources_dir = root.join("src");
    config.paths.data_dir = root.join("src");
    config.paths.wheels_dir = root.join("wheels");
    config.paths.venv = root.join("venv");
    make_project(&config.paths.sources_dir.join("loci-demo"));
    std::fs::create_dir_all(&config.paths.wheels_dir).unwrap();
    // The constraint must win over the newest six on PyPI.
    std::fs::write(
        config.paths.wheels_dir.join("upper-constraints.txt"),
        "six===1.16.0\nloci-demo===0.1\n",
    )
    .unwrap();
    loci::steps::wheels::prepare_constraints(
        &config.paths.wheels_dir,
        &config.paths.sources_dir,
        "loci-demo",
    )
    .unwrap();

    let os = OsRelease::parse("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n");
    let distro = Distro::detect(&os, None, None).unwrap();
    let input = PlanInput::new(&config, &distro);
    let mut runner = SystemRunner::new(&config);
    // The venv step as a build runs it: with uv, the build's uv (no uv wheel in these wheels:
    // pip-installed into a venv of its own) and the toolchain, which the wheels lack, so from
    // the index after the offline attempt fails.
    let venv = loci::steps::venv::plan(&input).unwrap().unwrap();
    let plan = loci::plan::Plan {
        project: "loci-demo".into(),
        stage: loci::plan::Stage::Project,
        distro: distro.clone(),
        steps: vec![venv],
    };
    loci::exec::execute(&plan, &config, &mut runner).unwrap_or_else(|e| panic!("{e}"));
    let step = loci::steps::install::plan(&input).unwrap().unwrap();
    let loci::plan::Action::Run { cmd } = &step.actions[0] else {
        panic!("install is a command")
    };
    if installer == Installer::Uv {
        assert_eq!(
            cmd.program,
            root.join("src/loci-uv/bin/uv").display().to_string(),
            "{cmd}"
        );
        assert!(
            !config.paths.venv.join("bin/uv").exists(),
            "uv is not a tool of this venv"
        );
        assert!(cmd.to_string().contains("--no-binary loci-demo"), "{cmd}");
    }
    runner.run(cmd).unwrap();
    let python = config.paths.venv.join("bin/python");
    let out = run(Command::new(&python).args([
        "-c",
        "import loci_demo, six; print(loci_demo.VALUE, six.__version__)",
    ]));
    assert_eq!(out.trim(), "42 1.16.0");
    // No bytecode was written during the install.
    let pyc = walk_count(&config.paths.venv.join("lib"), ".pyc");
    assert_eq!(pyc, 0, "bytecode found in the venv");
}

fn walk_count(dir: &Path, suffix: &str) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            n += walk_count(&p, suffix);
        } else if p.to_string_lossy().ends_with(suffix) {
            n += 1;
        }
    }
    n
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn pip_installs_a_local_tree_against_constraints() {
    install_with(Installer::Pip);
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn uv_installs_a_local_tree_against_constraints() {
    install_with(Installer::Uv);
}

/// The build's uv from a uv wheel among the wheels (as a requirements image made by loci holds
/// it): taken out of the wheel, executable, and the one that runs.
#[test]
#[ignore = "needs PyPI (the uv wheel): run tests/run.sh (cargo test -- --include-ignored)"]
fn the_builds_uv_comes_out_of_the_uv_wheel() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    run(Command::new("python3")
        .args(["-m", "venv"])
        .arg(tmp.path().join("dl")));
    run(Command::new(tmp.path().join("dl/bin/pip"))
        .args(["download", "--no-deps", "--only-binary", ":all:", "--dest"])
        .arg(&wheels)
        .arg("uv"));
    let dir = tmp.path().join("loci-uv");
    let mut runner = SystemRunner::default();
    // No fallback: it must not be needed.
    loci::steps::venv::provide_uv(Some(&wheels), &dir, &[], &mut runner)
        .unwrap_or_else(|e| panic!("{e}"));
    let out = run(Command::new(dir.join("bin/uv")).arg("--version"));
    assert!(out.starts_with("uv "), "{out}");
    assert!(!dir.join("wheel").exists(), "the unpacked wheel is removed");
}
