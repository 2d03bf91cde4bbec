//! Step `info`: record what the image holds in /etc/image_info.
//!
//! packages.txt (`dpkg -l` / `rpm -qa`), pip.txt (`pip freeze`), project.txt (as LOCI writes it:
//! PROJECT, PROJECT_REPO, PROJECT_REF, PROJECT_RELEASE and `git log -1` of the source), and
//! image_info.json with the same facts plus the duration of every step run so far; and the
//! constraint files the build used, so that child images install against the same pins.
//! Last, sbom.cdx.json: the CycloneDX SBOM of the image root ([`crate::sbom`]), built from the
//! files just written.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::config::args::{self, Inputs};
use crate::config::Config;
use crate::error::{Context, Result};
use crate::plan::{Cmd, InfoAction, PlanInput, Step};
use crate::runner::{self, Runner, Timings};

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    Ok(Some(
        Step::new(
            "info",
            "record packages, pip freeze, the source commit and the SBOM",
        )
        .action(InfoAction::CollectInfo {
            dir: input.config.paths.image_info.clone(),
        }),
    ))
}

impl fmt::Display for InfoAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InfoAction::CollectInfo { dir } => write!(
                f,
                "write packages.txt, pip.txt, project.txt, inputs.env, image_info.json, sbom.cdx.json to {}",
                dir.display()
            ),
            InfoAction::FinishInfo { dir } => write!(
                f,
                "complete {}/image_info.json (step times) and sbom.cdx.json (the image as left)",
                dir.display()
            ),
        }
    }
}

/// Runs one action of this module.
pub fn run(action: &InfoAction, ctx: &mut runner::Context) -> Result<()> {
    match action {
        InfoAction::CollectInfo { dir } => collect(dir, ctx),
        InfoAction::FinishInfo { dir } => {
            let total = ctx.state.started.elapsed();
            finish(dir, ctx.config, ctx.timings, total, ctx.runner)
        }
    }
}

#[derive(Serialize)]
struct Info<'a> {
    loci_version: &'static str,
    project: &'a str,
    project_repo: &'a str,
    project_ref: &'a str,
    project_release: &'a str,
    project_commit: Option<String>,
    distro: String,
    /// The image's CPU architecture, as OCI platforms name it (`amd64`, `arm64`).
    architecture: &'a str,
    profiles: &'a [String],
    pip_packages: &'a [String],
    dist_packages: &'a [String],
    /// Where the wheels came from (the runtime stage of a two-stage build: the builder's).
    wheels: serde_json::Value,
    python_packages: Vec<String>,
    /// Every step's duration: none with SOURCE_DATE_EPOCH (a reproducible image records no
    /// durations; the build log has them).
    #[serde(skip_serializing_if = "Option::is_none")]
    step_seconds: Option<Vec<(String, f64)>>,
    /// Two-stage builds: the builder stage's steps and total, from its image_info.json.
    #[serde(skip_serializing_if = "Option::is_none")]
    builder_step_seconds: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    builder_total_seconds: Option<serde_json::Value>,
}

pub fn collect(dir: &Path, ctx: &mut runner::Context) -> Result<()> {
    let (plan, config, timings) = (ctx.plan, ctx.config, ctx.timings);
    let runner = &mut *ctx.runner;
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    let packages = runner.output(&plan.distro.list_packages_cmd())?;
    write(&dir.join("packages.txt"), &packages)?;
    let pip = config.paths.venv.join("bin/pip").display().to_string();
    let freeze = runner.output(&Cmd::new(pip, ["freeze", "--all"]))?;
    write(&dir.join("pip.txt"), &freeze)?;
    let src = config.paths.sources_dir.join(&config.project);
    // In the runtime stage of a two-stage build the source is gone: the builder's project.txt
    // (copied with /etc/image_info) still names the commit.
    let head = crate::steps::source::describe_head(&src).or_else(|| previous_head(dir));
    let mut project = format!(
        "PROJECT={}\nPROJECT_REPO={}\nPROJECT_REF={}\nPROJECT_RELEASE={}\n",
        config.project, config.project_repo, config.project_ref, config.project_release
    );
    if let Some(h) = &head {
        project.push_str(h);
        project.push('\n');
    }
    write(&dir.join("project.txt"), &project)?;
    // The constraints the image was built with, for `loci pip-install` in child images.
    for f in ["upper-constraints.txt", "global-requirements.txt"] {
        let from = config.paths.data_dir.join(f);
        if from.exists() {
            std::fs::copy(&from, dir.join(f))
                .context(|| format!("cannot copy {} into {}", from.display(), dir.display()))?;
        }
    }
    // The runtime stage finds the builder's image_info.json: its timings are kept beside ours.
    let previous: Option<serde_json::Value> = std::fs::read_to_string(dir.join("image_info.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let host = crate::host::Host::detect();
    write(
        &dir.join(INPUTS_FILE),
        &inputs(config, head.as_deref(), host.oci_arch()),
    )?;
    let timed = config.source_date_epoch.is_none();
    let info = Info {
        loci_version: env!("CARGO_PKG_VERSION"),
        project: &config.project,
        project_repo: &config.project_repo,
        project_ref: &config.project_ref,
        project_release: &config.project_release,
        project_commit: head
            .as_ref()
            .and_then(|h| h.lines().next())
            .map(|l| l.trim_start_matches("commit ").to_string()),
        distro: plan.distro.label(),
        architecture: host.oci_arch(),
        profiles: &config.profiles,
        pip_packages: &config.pip_packages,
        dist_packages: &config.dist_packages,
        wheels: match (&previous, plan.stage) {
            (Some(p), crate::plan::Stage::Runtime) => p["wheels"].clone(),
            _ => serde_json::to_value(&config.wheels).expect("serializable"),
        },
        python_packages: freeze.lines().map(String::from).collect(),
        step_seconds: timed.then(|| timings.steps.clone()),
        builder_step_seconds: previous
            .as_ref()
            .map(|p| p["step_seconds"].clone())
            .filter(|v| !v.is_null()),
        builder_total_seconds: previous
            .as_ref()
            .map(|p| p["total_seconds"].clone())
            .filter(|v| !v.is_null()),
    };
    let json = serde_json::to_string_pretty(&info).expect("serializable");
    write(&dir.join("image_info.json"), &json)?;
    write_sbom(dir, config, runner)
}

/// Writes `dir/sbom.cdx.json` for the image root as it is now. Run by the info step, while the
/// wheels are still there to hash, and again when the build has finished ([`finish`]): the
/// cleanup after the info step purges packages (git, perl) and uninstalls uv, and the final
/// document lists what the image holds. Hashes found by the earlier run (or by the builder
/// stage of a two-stage build) are kept for wheels that are gone by then.
pub fn write_sbom(dir: &Path, config: &Config, runner: &mut dyn Runner) -> Result<()> {
    let path = dir.join(crate::sbom::FILE_NAME);
    let mut facts = crate::sbom::Facts::read(dir)?;
    facts.wheels_dir = sbom_wheels_dir(config);
    facts.source_date_epoch = config.source_date_epoch;
    if let Some(doc) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    {
        facts.known_hashes = crate::sbom::hashes_of(&doc);
    }
    let sbom = crate::sbom::render(&config.paths.root, &facts, runner)?;
    write(&path, &sbom)
}

/// Completes /etc/image_info once the whole build has run: every step's time in
/// image_info.json, and the SBOM of the image as it is left.
pub fn finish(
    dir: &Path,
    config: &Config,
    timings: &Timings,
    total: std::time::Duration,
    runner: &mut dyn Runner,
) -> Result<()> {
    if config.source_date_epoch.is_none() {
        record_timings(dir, timings, total)?;
    }
    write_sbom(dir, config, runner)
}

/// The file of /etc/image_info that lists the build's inputs as build arguments.
pub const INPUTS_FILE: &str = "inputs.env";

/// The build arguments that decide what the image holds, one `NAME=value` a line, as they
/// were resolved: PROJECT_REF is the commit that was built (when the source is a git
/// checkout), FROM and WHEELS as given (pinned when given by digest). Passing them back as
/// `--build-arg`s asks a second build for the same inputs; the platform (`arch`, as OCI names
/// it) is a comment: `--platform`, not a build argument.
pub fn inputs(config: &Config, head: Option<&str>, arch: &str) -> String {
    let commit = head
        .and_then(|h| h.lines().next())
        .and_then(|l| l.strip_prefix("commit "))
        .map(str::trim)
        .filter(|c| c.len() >= 40 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    let mut text = format!(
        "# The build arguments of this image as resolved (PROJECT_REF: the commit built).\n\
         # Ask for the same inputs again: mapfile -t a < <(grep -v '^#' inputs.env | sed 's/^/--build-arg=/')\n\
         # The platform: linux/{arch} (docker build --platform linux/{arch})\n",
    );
    for arg in args::ARGS.iter().filter(|a| a.inputs != Inputs::No) {
        let value = match (arg.name, commit) {
            ("PROJECT_REF", Some(c)) => Some(c.to_string()),
            _ => config
                .resolution
                .get(arg.name)
                .and_then(|r| r.value.clone()),
        };
        if arg.inputs == Inputs::WhenSet && value.is_none() {
            continue;
        }
        // One argument a line: a value cannot hold a line break (Config refuses those).
        text.push_str(&format!(
            "{}={}\n",
            arg.name,
            value.unwrap_or_default().replace('\n', " ")
        ));
    }
    text
}

/// The wheels the venv was installed from, for the SBOM's hashes: WHEELS itself when it is a
/// directory or a BuildKit mount, else the wheels dir it was extracted into (when still there);
/// none for builds from the index.
fn sbom_wheels_dir(config: &Config) -> Option<std::path::PathBuf> {
    use crate::config::WheelsSource;
    match &config.wheels {
        Some(WheelsSource::Directory(d)) => Some(d.clone()),
        Some(WheelsSource::Mounted { path, .. }) => Some(path.clone()),
        Some(WheelsSource::Index { .. }) => None,
        _ => Some(config.paths.wheels_dir.clone()).filter(|d| d.is_dir()),
    }
}

/// Rewrites the step durations in image_info.json once the whole build has finished.
/// The source lines of an earlier project.txt in `dir` (those after the PROJECT_* lines).
fn previous_head(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("project.txt")).ok()?;
    let head: Vec<&str> = text.lines().filter(|l| !l.starts_with("PROJECT")).collect();
    (!head.is_empty()).then(|| head.join("\n"))
}

pub fn record_timings(dir: &Path, timings: &Timings, total: std::time::Duration) -> Result<()> {
    let path = dir.join("image_info.json");
    let text =
        std::fs::read_to_string(&path).context(|| format!("cannot read {}", path.display()))?;
    let mut json: serde_json::Value =
        serde_json::from_str(&text).context(|| format!("{} is not valid JSON", path.display()))?;
    json["step_seconds"] = serde_json::to_value(&timings.steps).expect("serializable");
    json["total_seconds"] = serde_json::json!(total.as_secs_f64());
    write(
        &path,
        &serde_json::to_string_pretty(&json).expect("serializable"),
    )
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_name_the_commit_built_and_the_images_as_given() {
        let from = format!("127.0.0.1:5000/base@sha256:{}", "a".repeat(64));
        let wheels = format!("127.0.0.1:5000/requirements@sha256:{}", "b".repeat(64));
        let env: crate::config::Env = [
            ("PROJECT", "keystone"),
            ("PROJECT_REF", "29.1.0"),
            ("FROM", from.as_str()),
            ("WHEELS", wheels.as_str()),
            ("PROFILES", "fluent ldap"),
            ("SOURCE_DATE_EPOCH", "1700000000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::from_env(&env).unwrap();
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let text = inputs(
            &config,
            Some(&format!("commit {commit}\nAuthor: x\n")),
            "arm64",
        );
        // The platform, which is not a build argument: a comment.
        assert!(
            text.contains("\n# The platform: linux/arm64 (docker build --platform linux/arm64)\n"),
            "{text}"
        );
        let args: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(args.contains(&format!("FROM={from}").as_str()), "{text}");
        assert!(
            args.contains(&format!("WHEELS={wheels}").as_str()),
            "{text}"
        );
        assert!(
            args.contains(&format!("PROJECT_REF={commit}").as_str()),
            "{text}"
        );
        assert!(args.contains(&"PROFILES=fluent ldap"), "{text}");
        assert!(args.contains(&"SOURCE_DATE_EPOCH=1700000000"), "{text}");
        assert!(
            args.contains(&format!("LOCI_VERSION={}", env!("CARGO_PKG_VERSION")).as_str()),
            "{text}"
        );
        // Every line is one build argument.
        assert!(args.iter().all(|l| l.split_once('=').is_some_and(
            |(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        )));
        // Not a git checkout: the ref as given.
        assert!(inputs(&config, None, "amd64").contains("\nPROJECT_REF=29.1.0\n"));
    }

    #[test]
    fn the_sbom_is_written_beside_image_info_json() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let sp = root.join("var/lib/openstack/lib/python3.12/site-packages");
        std::fs::create_dir_all(sp.join("keystone-27.0.0.dist-info")).unwrap();
        std::fs::write(
            sp.join("keystone-27.0.0.dist-info/METADATA"),
            "Name: keystone\nVersion: 27.0.0\n",
        )
        .unwrap();
        std::fs::create_dir_all(sp.join("six-1.16.0.dist-info")).unwrap();
        std::fs::write(
            sp.join("six-1.16.0.dist-info/METADATA"),
            "Name: six\nVersion: 1.16.0\n",
        )
        .unwrap();
        let wheels = d.path().join("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        std::fs::write(wheels.join("six-1.16.0-py2.py3-none-any.whl"), "six").unwrap();
        let env: crate::config::Env = [
            ("PROJECT", "keystone"),
            ("WHEELS", wheels.to_str().unwrap()),
            ("SOURCE_DATE_EPOCH", "86400"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut config = Config::from_env(&env).unwrap();
        config.paths.root = root.clone();
        config.paths.sources_dir = d.path().join("data");
        config.paths.data_dir = d.path().join("data");
        let dir = root.join("etc/image_info");
        let os = crate::os_release::OsRelease::parse("ID=debian\nVERSION_ID=12\n");
        let plan = crate::plan::Plan {
            project: "keystone".into(),
            stage: crate::plan::Stage::Project,
            distro: crate::distro::Distro::detect(&os, None, None).unwrap(),
            steps: Vec::new(),
        };
        let mut runner = crate::runner::RecordingRunner::default();
        collect(
            &dir,
            &mut runner::Context {
                plan: &plan,
                config: &config,
                runner: &mut runner,
                timings: &Timings::default(),
                state: &mut crate::runner::State::default(),
            },
        )
        .unwrap();
        let sbom: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("sbom.cdx.json")).unwrap())
                .unwrap();
        assert_eq!(sbom["metadata"]["component"]["name"], "keystone");
        assert_eq!(sbom["metadata"]["component"]["version"], "27.0.0");
        assert_eq!(sbom["metadata"]["timestamp"], "1970-01-02T00:00:00Z");
        // SOURCE_DATE_EPOCH: no durations in image_info.json.
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("image_info.json")).unwrap())
                .unwrap();
        assert!(info.get("step_seconds").is_none(), "{info}");
        assert!(dir.join(INPUTS_FILE).exists());
        let six = &sbom["components"][0];
        assert_eq!(six["purl"], "pkg:pypi/six@1.16.0");
        assert_eq!(six["hashes"][0]["alg"], "SHA-256");

        // After the cleanup: the wheels are gone and a package left the venv; the final SBOM
        // lists what is there and keeps the hash found before.
        std::fs::remove_dir_all(&wheels).unwrap();
        std::fs::create_dir_all(sp.join("uv-0.9.0.dist-info")).unwrap();
        std::fs::write(
            sp.join("uv-0.9.0.dist-info/METADATA"),
            "Name: uv\nVersion: 0.9.0\n",
        )
        .unwrap();
        let mut runner = crate::runner::RecordingRunner::default();
        write_sbom(&dir, &config, &mut runner).unwrap();
        std::fs::remove_dir_all(sp.join("uv-0.9.0.dist-info")).unwrap();
        finish(
            &dir,
            &config,
            &Timings::default(),
            std::time::Duration::from_secs(1),
            &mut runner,
        )
        .unwrap();
        let after: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("sbom.cdx.json")).unwrap())
                .unwrap();
        let purls: Vec<&str> = after["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["purl"].as_str())
            .collect();
        assert_eq!(purls, ["pkg:pypi/six@1.16.0"]);
        assert_eq!(after["components"][0]["hashes"], six["hashes"]);
    }

    #[test]
    fn timings_are_completed_after_the_build() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("image_info.json"),
            r#"{"project":"keystone","step_seconds":[["base",1.0]]}"#,
        )
        .unwrap();
        let timings = Timings {
            steps: vec![
                ("base".into(), 1.0),
                ("info".into(), 0.5),
                ("cleanup".into(), 2.0),
            ],
        };
        record_timings(d.path(), &timings, std::time::Duration::from_secs(4)).unwrap();
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.path().join("image_info.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v["project"], "keystone");
        assert_eq!(v["step_seconds"][2], serde_json::json!(["cleanup", 2.0]));
        assert_eq!(v["total_seconds"], 4.0);
    }
}
