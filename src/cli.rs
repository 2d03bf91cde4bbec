//! The command line: a table of subcommands, each a thin wrapper over the library.
//!
//! | command          | what it does                                                        |
//! |------------------|---------------------------------------------------------------------|
//! | `build`          | every step of an image build, from the environment (LOCI's args)    |
//! | `plan`           | prints the plan of `build` without changing anything                |
//! | `config`         | prints every build argument as resolved, and where each came from   |
//! | `bindep`         | a drop-in for the `bindep` flags LOCI uses                          |
//! | `fetch-wheels`   | the wheels step alone (WHEELS, WHEELS_DEST, REGISTRY_*)             |
//! | `packages`       | installs the bindep packages for PROJECT/PROFILES and DIST_PACKAGES |
//! | `pip-install`    | pip install against the image's constraints                         |
//! | `cleanup`        | the cleanup step alone, for child images                            |
//! | `sbom`           | prints the CycloneDX 1.6 SBOM of an image root (`--root`, default /) |
//! | `sign`, `verify` | signs pushed images and attaches their SBOM and provenance; checks them |

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::{Config, Env, WheelsSource};
use crate::distro::Distro;
use crate::error::{Error, Result};
use crate::exec;
use crate::host::Host;
use crate::os_release::OsRelease;
use crate::plan::{self, Plan, PlanInput, Step};
use crate::report::{human, write_stdout};
use crate::runner::{Runner, SystemRunner};
use crate::steps;

/// Dependency files as (name, text).
type NamedFiles = Vec<(String, String)>;

/// The repository's own dependency lists, used when the image has none in /opt/loci.
const EMBEDDED_BINDEP: &str = include_str!("../bindep.txt");
const EMBEDDED_PYDEP: &str = include_str!("../pydep.txt");

/// `loci --version`: the release and the target the binary was compiled for.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("LOCI_TARGET"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "loci",
    version = VERSION,
    about = "Build lightweight OCI images of OpenStack services from source",
    long_about = "loci runs inside `docker build` and performs every step of an OpenStack service image build \
                  (packages, wheels, user, virtualenv, bindep, pip install, cleanup) from LOCI's build arguments, \
                  read from the environment."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every step of the build described by the environment (PROJECT, WHEELS, ...).
    Build {
        #[command(flatten)]
        args: PlanArgs,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Print the build plan (steps, packages, exact commands) without changing anything.
    Plan {
        #[command(flatten)]
        args: PlanArgs,
        /// Plan for this CPU architecture instead of this machine's (x86_64 or aarch64; Docker's
        /// amd64 and arm64 too): what an image for that platform would be built with.
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print every build argument as resolved from the environment, and where each value came
    /// from (given, default, derived, unset).
    Config {
        /// Print it as JSON: the resolved values, then the table of arguments.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate bindep files (a drop-in for the bindep flags LOCI uses).
    Bindep(crate::bindep::cli::BindepArgs),
    /// Fetch the wheels only: WHEELS into WHEELS_DEST (default /tmp/wheels).
    FetchWheels,
    /// Install the system packages bindep asks for PROJECT/PROFILES, plus DIST_PACKAGES and
    /// the packages given here (for child images).
    Packages {
        #[command(flatten)]
        args: PlanArgs,
        /// Extra packages to install.
        packages: Vec<String>,
        #[command(flatten)]
        host: HostArgs,
    },
    /// pip install into /var/lib/openstack against the constraints the image was built with.
    PipInstall {
        /// Requirements to install (names, paths, specifiers).
        #[arg(required = true)]
        requirements: Vec<String>,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Remove build-only packages, caches and leftovers (for child images).
    Cleanup {
        #[command(flatten)]
        args: PlanArgs,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Print the CycloneDX 1.6 SBOM (JSON) of an image root: its venv, distro packages and
    /// project, read from ROOT/etc/image_info (e.g. for a child image that added packages).
    Sbom {
        /// The root directory of the image.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// A directory holding the wheels the venv was installed from, for their SHA-256.
        #[arg(long, value_name = "DIR")]
        wheels: Option<PathBuf>,
    },
    /// Sign pushed images with cosign and attach their CycloneDX SBOM (read out of the image)
    /// and SLSA v1 provenance as signed attestations (on the host, after a push).
    Sign(crate::signing::SignArgs),
    /// Verify pushed images: the signature, both attestations, the SBOM attestation against the
    /// SBOM inside the image and the provenance against the image's labels.
    Verify(crate::signing::VerifyArgs),
}

/// The option of the commands that change the system they run on.
#[derive(Debug, Clone, clap::Args)]
pub struct HostArgs {
    /// Run even where loci is not the command of a container build: change this machine or
    /// container (packages, users, and a cleanup that deletes /etc/machine-id, empties /tmp
    /// and purges git). Dangerous; LOCI_ALLOW_HOST=1 says the same.
    #[arg(long)]
    pub allow_host: bool,
}

impl HostArgs {
    /// Refuses `command` unless it may change this system ([`crate::host::guard`]).
    fn guard(&self, command: &str, config: &Config) -> Result<()> {
        crate::host::guard(command, self.allow_host || config.allow_host)
    }
}

/// Options shared by the commands that plan.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Plan for the distro described by this os-release file instead of this machine's.
    #[arg(long, value_name = "FILE")]
    pub os_release: Option<PathBuf>,
    /// Directory holding bindep*/pydep* files (default /opt/loci, else the lists built into loci).
    #[arg(long, value_name = "DIR")]
    pub loci_dir: Option<PathBuf>,
    /// The part of the build: the Dockerfile's target (`project`: the whole image in one
    /// stage; `requirements`; `builder` and `runtime`: the two stages of a runtime image).
    #[arg(long, value_enum, default_value_t = StageArg(plan::Stage::Project))]
    pub stage: StageArg,
}

/// `--stage`: the command line's view of [`plan::Stage`] (clap's mapping lives here, not in
/// the plan). The help text of each value is the stage's own documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageArg(pub plan::Stage);

impl clap::ValueEnum for StageArg {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [StageArg; 4] = [
            StageArg(plan::Stage::ALL[0]),
            StageArg(plan::Stage::ALL[1]),
            StageArg(plan::Stage::ALL[2]),
            StageArg(plan::Stage::ALL[3]),
        ];
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self.0 {
            plan::Stage::Project => "The whole image in one stage (target `project`, LOCI's); PROJECT=requirements builds the requirements image",
            plan::Stage::Requirements => "The requirements image (target `requirements`): PROJECT must be `requirements`",
            plan::Stage::Builder => "Two-stage build, first stage (target `builder`): the venv in /var/lib/openstack, built with whatever it needs (compilers and -dev packages when there are no wheels), and the build facts in /etc/image_info. Only those two directories are kept",
            plan::Stage::Runtime => "Two-stage build, final stage (target `runtime`): over the builder's venv and facts, the run-time packages (bindep's and those providing the venv's shared libraries), the user, the project-specific files, /etc/image_info and the cleanup",
        };
        Some(clap::builder::PossibleValue::new(self.0.name()).help(help))
    }
}

impl std::fmt::Display for StageArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

/// Parses the command line. The error of a bad one (or the text of `--help`, `--version`) is
/// for the caller to print, with its exit code ([`clap::Error::exit_code`]).
pub fn parse<I, T>(args: I) -> std::result::Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args)
}

/// Runs the command with the environment `env`, returning the exit code of a command that
/// answers with one (`bindep`: 1 when packages are missing); an error is for the caller to
/// report (exit code 1).
pub fn run(cli: Cli, env: Env) -> Result<i32> {
    match cli.command {
        Command::Build { args, host } => {
            let config = Config::from_env(&env)?;
            let plan = make_plan(&config, &args, true)?;
            preflight(&config)?;
            // Every input checked: now, before the first change, whether this system may be
            // changed at all.
            host.guard("build", &config)?;
            let mut runner = SystemRunner::new(&config);
            exec::execute(&plan, &config, &mut runner)?;
            Ok(0)
        }
        Command::Plan { args, arch, json } => {
            let config = Config::from_env(&env)?;
            let mut host = plan_host(&args);
            if let Some(arch) = &arch {
                host = host.with_arch(arch)?;
            }
            let plan = make_plan_for(&config, &args, false, host)?;
            let text = if json {
                let mut text = serde_json::to_string_pretty(&plan)
                    .map_err(|e| Error::new("cannot render the plan as JSON").caused_by(e))?;
                text.push('\n');
                text
            } else {
                // What LOCI accepts and loci ignores, as the build log says it.
                let mut text: String = config
                    .ignored
                    .iter()
                    .map(|i| format!("{}\n", i.line()))
                    .collect();
                text.push_str(&plan.to_string());
                text
            };
            write_stdout(&text).map(|_| 0)
        }
        Command::Config { json } => {
            let config = Config::from_env_lenient(&env)?;
            let text = if json {
                config_json(&config)?
            } else {
                config_text(&config)
            };
            write_stdout(&text).map(|_| 0)
        }
        Command::Bindep(args) => crate::bindep::cli::run(&args),
        Command::FetchWheels => {
            let config = Config::from_env_lenient(&env)?;
            // Without WHEELS (or with WHEELS empty) there is nothing to fetch: saying the
            // wheels are ready would be a lie.
            let source = match config.wheels.clone() {
                Some(WheelsSource::Index { .. }) | None => {
                    return Err(Error::new("loci fetch-wheels: WHEELS is not set, so there are no wheels to fetch")
                        .hint("set WHEELS to a requirements image reference, a tarball path or an http(s) URL of a tarball (and WHEELS_DEST to where they go, default /tmp/wheels)"))
                }
                Some(source) => source,
            };
            let dest = config.paths.wheels_dir.clone();
            let started = std::time::Instant::now();
            steps::wheels::fetch(&source, &dest, &config.registry, &config.tls)
                .map_err(|e| e.in_step("wheels"))?;
            let shown = match &source {
                WheelsSource::Directory(d) => d.clone(),
                WheelsSource::Mounted { path, .. } => path.clone(),
                _ => dest,
            };
            write_stdout(&format!(
                "wheels ready in {} ({})\n",
                shown.display(),
                human(started.elapsed())
            ))
            .map(|_| 0)
        }
        Command::Packages {
            args,
            packages,
            host,
        } => {
            let config = Config::from_env_lenient(&env)?.with_dist_packages(packages);
            let distro = detect(&config, &args, true)?;
            let files = load_files(&config, &args)?;
            let input = input(&config, &distro, files, &args, plan_host(&args));
            let mut steps_: Vec<Step> = steps::packages::plan(&input)?.into_iter().collect();
            steps::preflight::insert(&input, &mut steps_)?;
            host.guard("packages", &config)?;
            run_steps(&config, distro, steps_).map(|_| 0)
        }
        Command::PipInstall { requirements, host } => {
            let config = Config::from_env_lenient(&env)?;
            host.guard("pip-install", &config)?;
            let cmd = steps::python::pip_install_in_image(&config).args(requirements);
            let mut runner = SystemRunner::new(&config);
            runner
                .run(&cmd)
                .map(|_| 0)
                .map_err(|e| e.in_step("pip-install"))
        }
        Command::Cleanup { args, host } => {
            // A child image has no build-only packages of its own to purge.
            let config = Config::from_env_lenient(&env)?.for_child_image();
            let distro = detect(&config, &args, true)?;
            let files = load_files(&config, &args)?;
            let input = input(&config, &distro, files, &args, plan_host(&args));
            let steps_: Vec<Step> = steps::cleanup::plan(&input)?.into_iter().collect();
            host.guard("cleanup", &config)?;
            run_steps(&config, distro, steps_).map(|_| 0)
        }
        Command::Sbom { root, wheels } => {
            let mut facts = crate::sbom::Facts::read(&root.join("etc/image_info"))?;
            facts.wheels_dir = wheels;
            facts.source_date_epoch = env
                .get("SOURCE_DATE_EPOCH")
                .filter(|v| !v.trim().is_empty())
                .map(|v| crate::config::parse_source_date_epoch(v))
                .transpose()?;
            let mut runner = SystemRunner::default();
            write_stdout(&crate::sbom::render(&root, &facts, &mut runner)?).map(|_| 0)
        }
        Command::Sign(args) => {
            let config = Config::from_env_lenient(&env)?;
            crate::signing::sign(&args, &config.registry, &config.tls).map(|_| 0)
        }
        Command::Verify(args) => {
            let config = Config::from_env_lenient(&env)?;
            crate::signing::verify(&args, &config.registry, &config.tls).map(|_| 0)
        }
    }
}

/// `loci config`: one `NAME=value` line an argument, as resolved, with its source after `#`.
fn config_text(config: &Config) -> String {
    let mut out = String::from(
        "# loci's build arguments as resolved from this environment; after #: where each value came from\n",
    );
    for r in &config.resolution.args {
        let line = format!("{}={}", r.name, r.value.as_deref().unwrap_or(""));
        let mut source = r.source.label();
        if let (crate::config::Source::Derived, Some(arg)) =
            (&r.source, crate::config::args::find(r.name))
        {
            if let crate::config::args::DefaultIs::Derived(how) = arg.default {
                source.push_str(&format!(": {}", how.replace('`', "")));
            }
        }
        out.push_str(&format!("{line:<48} # {source}\n"));
    }
    out
}

/// `loci config --json`: `{"resolved": [{name, value, source, ...}], "arguments": [the table]}`.
fn config_json(config: &Config) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        resolved: &'a [crate::config::Resolved],
        arguments: &'a [crate::config::args::Arg],
    }
    let doc = Doc {
        resolved: &config.resolution.args,
        arguments: crate::config::args::ARGS,
    };
    let mut text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::new("cannot render the configuration as JSON").caused_by(e))?;
    text.push('\n');
    Ok(text)
}

/// The checks of a build on this machine that need no change to it, run before the first step
/// (the base packages are installed before the wheels are fetched): a local WHEELS must be there.
fn preflight(config: &Config) -> Result<()> {
    match &config.wheels {
        Some(WheelsSource::Tarball(p)) => std::fs::File::open(p).map(drop).map_err(|e| {
            Error::new(format!("WHEELS={}: cannot open the archive", p.display()))
                .caused_by(e)
                .hint("WHEELS must name an existing tarball or directory inside the build (COPY or bind-mount it first)")
                .in_step("wheels")
        }),
        Some(source @ WheelsSource::Directory(_)) => steps::wheels::fetch(
            source,
            &config.paths.wheels_dir,
            &config.registry,
            &config.tls,
        )
        .map_err(|e| e.in_step("wheels")),
        _ => Ok(()),
    }
}

fn run_steps(config: &Config, distro: Distro, steps_: Vec<Step>) -> Result<()> {
    let plan = Plan {
        project: if config.project.is_empty() {
            "image".into()
        } else {
            config.project.clone()
        },
        stage: plan::Stage::Project,
        distro,
        steps: steps_,
    };
    let mut runner = SystemRunner::new(config);
    exec::execute(&plan, config, &mut runner).map(|_| ())
}

/// The machine a plan is for: this one unless `--os-release` describes another.
fn plan_host(args: &PlanArgs) -> Host {
    match args.os_release {
        Some(_) => Host::nominal(),
        None => Host::detect(),
    }
}

/// The inputs of planning.
fn input<'a>(
    config: &'a Config,
    distro: &'a Distro,
    files: (NamedFiles, NamedFiles),
    args: &PlanArgs,
    host: Host,
) -> PlanInput<'a> {
    PlanInput {
        bindep_files: files.0,
        pydep_files: files.1,
        ..PlanInput::new(config, distro)
            .stage(args.stage.0)
            .host(host)
    }
}

/// Detects the distro from `--os-release` or this machine's os-release.
fn detect(config: &Config, args: &PlanArgs, on_this_machine: bool) -> Result<Distro> {
    let os = match &args.os_release {
        Some(path) => OsRelease::from_file(path)?,
        None => {
            let etc = Path::new("/etc/os-release");
            OsRelease::from_file(if etc.exists() {
                etc
            } else {
                Path::new("/usr/lib/os-release")
            })?
        }
    };
    let has_dnf =
        (on_this_machine && args.os_release.is_none()).then(|| which::which("dnf").is_ok());
    Ok(Distro::detect(&os, config.distro.as_deref(), has_dnf)
        .map_err(|e| e.in_step("distro"))?
        .with_package_cache(config.cache_dir.as_deref()))
}

/// Reads `DIR/bindep*` and `DIR/pydep*` (LOCI's /opt/loci convention: bindep.txt, pydep.txt and
/// the EXTRA_BINDEP/EXTRA_PYDEP files). Without any, the lists built into loci are used.
///
/// `--loci-dir` must exist; the default /opt/loci may be missing. A file that cannot be read
/// or is not UTF-8 text is an error naming it, never silently skipped.
fn load_files(config: &Config, args: &PlanArgs) -> Result<(NamedFiles, NamedFiles)> {
    let (dir, given) = match &args.loci_dir {
        Some(d) => (d.clone(), true),
        None => (config.paths.loci_dir.clone(), false),
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|e| {
                    Error::new(format!("cannot list the loci dir {}", dir.display())).caused_by(e)
                })?;
                paths.push(entry.path());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !given => {}
        Err(e) => {
            let what = if given {
                format!("--loci-dir {}: cannot list the directory", dir.display())
            } else {
                format!("cannot list the loci dir {}", dir.display())
            };
            return Err(Error::new(what).caused_by(e).hint(
                "--loci-dir must name an existing directory holding bindep*.txt and pydep*.txt files",
            ));
        }
    }
    paths.sort();
    check_extra_files(config, &dir, &paths)?;
    let read = |prefix: &str| -> Result<NamedFiles> {
        let mut files: NamedFiles = Vec::new();
        for p in paths.iter().filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        }) {
            let bytes = std::fs::read(p)
                .map_err(|e| Error::new(format!("cannot read {}", p.display())).caused_by(e))?;
            let text = String::from_utf8(bytes).map_err(|e| {
                let at = e.utf8_error().valid_up_to();
                let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
                Error::new(format!("{} is not UTF-8 text", p.display()))
                    .cause(format!("invalid byte at offset {at} (line {line})"))
                    .hint(format!(
                        "{prefix} files list packages one a line in plain text; remove the file or save it as UTF-8"
                    ))
            })?;
            files.push((p.display().to_string(), text));
        }
        Ok(files)
    };
    let mut bindep = read("bindep")?;
    let mut pydep = read("pydep")?;
    if bindep.is_empty() {
        bindep.push((
            "bindep.txt (built into loci)".into(),
            EMBEDDED_BINDEP.into(),
        ));
    }
    if pydep.is_empty() {
        pydep.push(("pydep.txt (built into loci)".into(), EMBEDDED_PYDEP.into()));
    }
    Ok((bindep, pydep))
}

/// EXTRA_BINDEP and EXTRA_PYDEP name files of the build context that the Dockerfile copies
/// into the loci dir, where loci reads every `bindep*` and `pydep*` file: each one named must
/// be there, under a name loci reads, or its packages would be silently missing.
fn check_extra_files(config: &Config, dir: &Path, paths: &[PathBuf]) -> Result<()> {
    for (arg, prefix, names) in [
        ("EXTRA_BINDEP", "bindep", &config.extra_bindep),
        ("EXTRA_PYDEP", "pydep", &config.extra_pydep),
    ] {
        for name in names {
            let base = Path::new(name)
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !base.starts_with(prefix) {
                return Err(Error::new(format!(
                    "{arg}={name}: loci reads only {prefix}* files, so this one would be ignored"
                ))
                .hint(format!(
                    "rename the file to {prefix}-{base} (any name starting with `{prefix}`)"
                )));
            }
            let there = paths
                .iter()
                .any(|p| p.is_file() && p.file_name().is_some_and(|f| f.to_string_lossy() == base));
            if !there {
                return Err(Error::new(format!(
                    "{arg}={name}: there is no {base} in the loci dir {}",
                    dir.display()
                ))
                .hint(format!(
                    "the Dockerfile copies {arg} from the build context into the loci dir; with loci outside it, put the file into the directory --loci-dir names, or leave {arg} unset"
                )));
            }
        }
    }
    Ok(())
}

/// The plan of a build; `on_this_machine` probes the machine (dnf or yum).
pub fn make_plan(config: &Config, args: &PlanArgs, on_this_machine: bool) -> Result<Plan> {
    make_plan_for(config, args, on_this_machine, plan_host(args))
}

/// [`make_plan`] for the machine `host`.
fn make_plan_for(
    config: &Config,
    args: &PlanArgs,
    on_this_machine: bool,
    host: Host,
) -> Result<Plan> {
    let distro = detect(config, args, on_this_machine)?;
    let files = load_files(config, args)?;
    let input = input(config, &distro, files, args, host);
    steps::build_plan(&input)
}
