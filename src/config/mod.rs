//! The one place where the environment becomes a typed, validated [`Config`].
//!
//! loci reads the same build arguments LOCI's scripts read (they arrive as environment variables
//! inside `docker build`). Nothing outside this module looks at the environment: `main` collects
//! it into an [`Env`] map once, and everything else receives the resulting `Config`.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};

mod arg;
pub mod args;
mod checks;
mod ignored;
mod paths;
mod projects;
mod values;
mod wheels;

use checks::{absolute_dir, check_argument, check_entry, check_loci_version, check_name, Becomes};
pub use ignored::Ignored;
pub use paths::Paths;
pub use projects::{
    ConsoleSource, HorizonConfig, KeystoneConfig, NovaConfig, SkylineConfig, CONSOLE_FROM_INDEX,
    DEFAULT_HORIZON_PANELS, DEFAULT_LIBOAUTH2_URL, DEFAULT_MOD_OAUTH2_URL,
};
pub use values::{parse_bool, parse_source_date_epoch, Env, Resolution, Resolved, Source};
use values::{shown, yes_no, Resolver};
use wheels::resolve_wheels;
pub use wheels::{
    classify_wheels, parse_wheels, published_constraints, WheelsSource, WHEELS_FORMS,
};

pub use args::PROXY_VARS;

/// The tool that installs Python packages into the venv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Installer {
    /// pip, as LOCI uses it (the default).
    Pip,
    /// uv (`uv pip install`): the same inputs, resolved and installed many times faster. uv is
    /// in every service venv anyway (LOCI master's setup_venv installs it, with bindep and
    /// pkginfo, and leaves it there).
    Uv,
}

impl Installer {
    /// The INSTALLER value that selects it.
    pub fn name(self) -> &'static str {
        match self {
            Installer::Pip => "pip",
            Installer::Uv => "uv",
        }
    }
}

// The settings of the low-level modules are defined there (they import nothing of config);
// Config holds them.
pub use crate::http::{TlsConfig, CONNECT_TIMEOUT, READ_TIMEOUT};

pub use crate::registry::{RegistryConfig, RegistryProtocol};

/// What a build makes, resolved once from PROJECT. (PLUGIN is orthogonal: a plugin builds on
/// top of a service image, whatever its kind; see [`Config::plugin`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildKind {
    /// A service image (PROJECT=keystone, nova, ...): the default.
    Service,
    /// PROJECT=requirements: the wheels of a requirements image, not a service (no wheels to
    /// read, no service venv to keep).
    Requirements,
    /// PROJECT=infra: LOCI's tooling image (the venv, bindep packages and PIP_PACKAGES only).
    Infra,
}

impl BuildKind {
    pub fn of(project: &str) -> Self {
        match project {
            "requirements" => BuildKind::Requirements,
            "infra" => BuildKind::Infra,
            _ => BuildKind::Service,
        }
    }
}

/// The projects that get work of their own ([`crate::steps::project_specific`]), resolved once
/// from PROJECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpecificProject {
    Nova,
    Horizon,
    Keystone,
    SkylineApiserver,
}

impl SpecificProject {
    pub fn of(project: &str) -> Option<Self> {
        match project {
            "nova" => Some(SpecificProject::Nova),
            "horizon" => Some(SpecificProject::Horizon),
            "keystone" => Some(SpecificProject::Keystone),
            "skyline-apiserver" => Some(SpecificProject::SkylineApiserver),
            _ => None,
        }
    }
}

/// Every build input, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    pub project: String,
    /// What PROJECT builds.
    #[serde(skip)]
    pub kind: BuildKind,
    /// Whether PROJECT has project-specific work.
    #[serde(skip)]
    pub specific: Option<SpecificProject>,
    pub project_repo: String,
    pub project_ref: String,
    pub project_release: String,
    pub project_pip_extras: Option<String>,
    pub extra_projects: Vec<String>,
    pub distro: Option<String>,
    pub profiles: Vec<String>,
    pub pip_packages: Vec<String>,
    pub pip_args: Vec<String>,
    pub pip_wheel_args: Vec<String>,
    pub dist_packages: Vec<String>,
    pub plugin: bool,
    /// LOCI_ALLOW_HOST: the commands that change the system may run where loci is not the
    /// command of a container build ([`crate::host::guard`]).
    pub allow_host: bool,
    pub extra_bindep: Vec<String>,
    pub extra_pydep: Vec<String>,
    pub keep_all_wheels: bool,
    /// PROJECT=requirements: build only these constraints (REQUIREMENTS_ONLY, names).
    pub requirements_only: Vec<String>,
    /// PROJECT=requirements: build only the constraints named in this file
    /// (REQUIREMENTS_ONLY_FILE, one name a line), e.g. a service's dependency closure.
    pub requirements_only_file: Option<PathBuf>,
    /// PROJECT=requirements: how many `pip wheel` run at once (REQUIREMENTS_JOBS; default:
    /// four per CPU, as most of them wait on downloads, not on the CPU).
    pub requirements_jobs: Option<usize>,
    /// PROJECT=requirements: look the pinned constraints up on pip's index first and leave to
    /// `pip wheel` only those without a binary wheel for the target (REQUIREMENTS_PREFETCH,
    /// default true; false runs one `pip wheel` per constraint, as LOCI does).
    pub requirements_prefetch: bool,
    pub uid: u32,
    pub gid: u32,
    pub wheels: Option<WheelsSource>,
    /// The version constraint of pip in the venv (PIP_VERSION_CONSTRAINT, LOCI master's name;
    /// loci's old PIP_CONSTRAINT still works, the new name wins when both are set).
    pub pip_constraint: String,
    /// SETUPTOOL_CONSTRAINT (default LOCI master's `<81`: setuptools 82 removed
    /// pkg_resources): the venv's setuptools, and the cap on setuptools in the build
    /// constraints of every build from source. Empty: no cap.
    pub setuptools_constraint: String,
    pub wheel_constraint: String,
    pub copy_default_config_files: bool,
    /// INSTALLER: uv (default: the faster on loci's benchmark) or pip (LOCI's; the default
    /// with SOURCE_DATE_EPOCH, since uv records build times in what it installs).
    pub installer: Installer,
    /// The package caches (PACKAGE_CACHE, on by default): the directory BuildKit's cache
    /// mounts are at (LOCI_CACHE_DIR, set by the Dockerfile), when it is on and there. apt's
    /// archives and lists, dnf's cache, and pip's and uv's caches are kept there, never in a
    /// layer. `None`: every tool runs without a cache, as LOCI's scripts do.
    pub cache_dir: Option<PathBuf>,
    /// Proxy variables as found, passed to child processes.
    #[serde(skip)]
    pub proxy_env: Vec<(String, String)>,
    pub registry: RegistryConfig,
    pub tls: TlsConfig,
    pub nova: NovaConfig,
    pub horizon: HorizonConfig,
    pub keystone: KeystoneConfig,
    pub skyline: SkylineConfig,
    pub paths: Paths,
    /// SOURCE_DATE_EPOCH: the timestamp of the image's SBOM (none without it, so that the
    /// same inputs give the same file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_date_epoch: Option<u64>,
    /// FROM: the image the build starts from, as given (recorded in /etc/image_info/inputs.env).
    pub from: Option<String>,
    /// VENV_TOOLS: the tools installed into a service's venv and left there for child images
    /// (default: bindep and pkginfo; LOCI master's set adds uv; empty for none).
    pub venv_tools: Vec<String>,
    /// What LOCI accepts and loci ignores (a PROFILES entry no bindep profile can be,
    /// APT_MIRROR): the build log names each.
    pub ignored: Vec<Ignored>,
    /// Every argument of the table as resolved, and where its value came from (`loci
    /// config`, inputs.env).
    #[serde(skip)]
    pub resolution: Resolution,
}

impl Config {
    /// PROJECT=requirements: the build makes the wheels of a requirements image, not a
    /// service (no wheels to read, no service venv to keep).
    pub fn builds_requirements(&self) -> bool {
        self.kind == BuildKind::Requirements
    }

    /// The configuration of a child image's `loci cleanup`: a plugin, which has no build-only
    /// packages of its own to purge. Part of resolving the configuration, before any use.
    pub fn for_child_image(mut self) -> Self {
        self.plugin = true;
        self.resolution
            .set(&args::PLUGIN, Some(yes_no(true).into()), Source::Command);
        self
    }

    /// The configuration of `loci packages PACKAGE...`: DIST_PACKAGES and the packages given.
    /// Part of resolving the configuration, before any use.
    pub fn with_dist_packages(mut self, packages: impl IntoIterator<Item = String>) -> Self {
        let before = self.dist_packages.len();
        self.dist_packages.extend(packages);
        if self.dist_packages.len() > before {
            self.resolution.set(
                &args::DIST_PACKAGES,
                Some(self.dist_packages.join(" ")),
                Source::Command,
            );
        }
        self
    }

    /// Builds the configuration for a project build (`loci build`, `loci plan`): PROJECT is required.
    pub fn from_env(env: &Env) -> Result<Self> {
        let project = given_project(env).ok_or_else(|| {
            Error::new("PROJECT is not set").hint(
                "pass the service to build, e.g. `docker build --build-arg PROJECT=keystone .` or `PROJECT=keystone loci plan`",
            )
        })?;
        Self::from_env_for(env, Some(project))
    }

    /// Builds the configuration for commands that do not need a project (`fetch-wheels`,
    /// `cleanup`, `config`, ...): PROJECT defaults to an empty name.
    pub fn from_env_lenient(env: &Env) -> Result<Self> {
        Self::from_env_for(env, given_project(env))
    }

    fn from_env_for(env: &Env, project: Option<String>) -> Result<Self> {
        let mut r = Resolver::new(env);
        let project = match project {
            Some(p) => {
                r.set(&args::PROJECT, Some(p.clone()), Source::Given("PROJECT"));
                p
            }
            None => {
                r.set(&args::PROJECT, None, Source::Unset);
                String::new()
            }
        };
        let plugin = r.boolean(&args::PLUGIN)?;
        let allow_host = r.boolean(&args::LOCI_ALLOW_HOST)?;
        if !project.is_empty() {
            // PROJECT names the source tree (/tmp/PROJECT) and, unless PLUGIN, the service's
            // user and group.
            let becomes = if plugin {
                Becomes::FileName
            } else {
                Becomes::UserName
            };
            check_name("PROJECT", &project, becomes).map_err(|e| {
                e.hint("use the repository's short name, e.g. keystone, nova, neutron (letters, digits, '-', '_', '.')")
            })?;
        }
        let project_repo = r.text_or(&args::PROJECT_REPO, || {
            format!("https://opendev.org/openstack/{project}")
        });
        let project_ref = r.text(&args::PROJECT_REF).unwrap_or_default();
        let pip_args = r.words(&args::PIP_ARGS);
        let pip_wheel_args = r.words_or(&args::PIP_WHEEL_ARGS, || pip_args.clone());
        let extra_projects = r.words(&args::EXTRA_PROJECTS);
        for p in &extra_projects {
            check_entry("EXTRA_PROJECTS", p, Becomes::FileName).map_err(|e| {
                e.hint(
                    "EXTRA_PROJECTS names source trees in the data dir (/tmp), separated by spaces",
                )
            })?;
        }
        let uid = r.id(&args::UID)?;
        let gid = r.id(&args::GID)?;
        let paths = Paths {
            sources_dir: match r.text(&args::SOURCES_DIR) {
                Some(d) => absolute_dir("SOURCES_DIR", &d)?,
                None => Paths::default().sources_dir,
            },
            wheels_dir: r.text(&args::WHEELS_DEST).unwrap_or_default().into(),
            wheels_mount: r.text(&args::WHEELS_PATH).unwrap_or_default().into(),
            ..Paths::default()
        };
        let project_release = r.text(&args::PROJECT_RELEASE).unwrap_or_default();
        let wheels = resolve_wheels(&mut r, &project_release, &paths)?;
        let registry = registry(&mut r)?;
        let nova = projects::nova(&mut r)?;
        let horizon = projects::horizon(&mut r);
        let keystone = projects::keystone(&mut r);
        let skyline = projects::skyline(&mut r)?;
        let proxy_env = args::PROXY_VARS
            .iter()
            .filter_map(|k| env.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        let project_pip_extras = r.text(&args::PROJECT_PIP_EXTRAS);
        let distro = r.text(&args::DISTRO);
        let (profiles, mut ignored) = ignored::profiles(r.words(&args::PROFILES))?;
        ignored.extend(ignored::apt_mirror(r.text(&args::APT_MIRROR)));
        let pip_packages = r.words(&args::PIP_PACKAGES);
        let dist_packages = r.words(&args::DIST_PACKAGES);
        let extra_bindep = r.words(&args::EXTRA_BINDEP);
        let extra_pydep = r.words(&args::EXTRA_PYDEP);
        let keep_all_wheels = r.boolean(&args::KEEP_ALL_WHEELS)?;
        let requirements_only = r.words(&args::REQUIREMENTS_ONLY);
        let requirements_only_file = r.text(&args::REQUIREMENTS_ONLY_FILE).map(PathBuf::from);
        let requirements_jobs = match r.text(&args::REQUIREMENTS_JOBS) {
            None => None,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(Error::new(format!(
                        "REQUIREMENTS_JOBS={} is not a positive number",
                        shown(&v)
                    ))
                    .hint("give how many wheels to build at once, e.g. 8"))
                }
            },
        };
        let requirements_prefetch = r.boolean(&args::REQUIREMENTS_PREFETCH)?;
        let pip_constraint = r.text(&args::PIP_VERSION_CONSTRAINT).unwrap_or_default();
        // Set but empty means no cap.
        let setuptools_constraint = r.text(&args::SETUPTOOL_CONSTRAINT).unwrap_or_default();
        let wheel_constraint = r.text(&args::WHEEL_CONSTRAINT).unwrap_or_default();
        let copy_default_config_files = r.boolean(&args::COPY_DEFAULT_CONFIG_FILES)?;
        let installer = installer(&mut r)?;
        let tls = TlsConfig {
            ssl_cert_file: r.text(&args::SSL_CERT_FILE).map(PathBuf::from),
            ssl_cert_dir: r.text(&args::SSL_CERT_DIR).map(PathBuf::from),
            connect_timeout: r.seconds(&args::LOCI_HTTP_CONNECT_TIMEOUT)?,
            read_timeout: r.seconds(&args::LOCI_HTTP_READ_TIMEOUT)?,
        };
        let source_date_epoch = r.epoch(&args::SOURCE_DATE_EPOCH)?;
        let from = r.text(&args::FROM);
        let cache_dir = cache_dir(&mut r)?;
        let venv_tools = r.words(&args::VENV_TOOLS);
        let version = r.text(&args::LOCI_VERSION);
        check_loci_version(version.as_deref())?;
        r.set(
            &args::LOCI_VERSION,
            Some(env!("CARGO_PKG_VERSION").into()),
            r.source(&args::LOCI_VERSION),
        );
        let config = Config {
            kind: BuildKind::of(&project),
            specific: SpecificProject::of(&project),
            project_repo,
            project_ref,
            project_release,
            project_pip_extras,
            extra_projects,
            distro,
            profiles,
            pip_packages,
            pip_args,
            pip_wheel_args,
            dist_packages,
            plugin,
            allow_host,
            extra_bindep,
            extra_pydep,
            keep_all_wheels,
            requirements_only,
            requirements_only_file,
            requirements_jobs,
            requirements_prefetch,
            uid,
            gid,
            wheels,
            pip_constraint,
            setuptools_constraint,
            wheel_constraint,
            copy_default_config_files,
            installer,
            proxy_env,
            registry,
            tls,
            nova,
            horizon,
            keystone,
            skyline,
            paths,
            project,
            source_date_epoch,
            from,
            cache_dir,
            venv_tools,
            ignored,
            resolution: r.finish(),
        };
        config.check_values()?;
        Ok(config)
    }

    /// Checks the values that become file names, user names or command arguments for what
    /// they may become (PROJECT and EXTRA_PROJECTS are checked as they are read).
    fn check_values(&self) -> Result<()> {
        check_name("NOVA_TSS_USER", &self.nova.tss_user, Becomes::UserName).map_err(|e| {
            e.hint("NOVA_TSS_USER names the user swtpm runs as (default tss): letters, digits, '-', '_', '.', at most 32 characters")
        })?;
        for (key, list) in [
            ("DIST_PACKAGES", &self.dist_packages),
            ("PIP_PACKAGES", &self.pip_packages),
            ("VENV_TOOLS", &self.venv_tools),
            ("REQUIREMENTS_ONLY", &self.requirements_only),
        ] {
            for value in list {
                check_argument(key, value)?;
            }
        }
        // (PROFILES is checked as it is read: config/ignored.rs.)
        // (EXTRA_BINDEP and EXTRA_PYDEP are paths in the build context, for the Dockerfile's
        // COPY; loci reads the files by their prefix in the loci dir.)
        for panel in &self.horizon.extra_panels {
            check_entry("HORIZON_EXTRA_PANELS", panel, Becomes::FileName).map_err(|e| {
                e.hint("HORIZON_EXTRA_PANELS lists the Python package names of horizon plugins separated by spaces, e.g. `heat_dashboard manila_ui`")
            })?;
        }
        Ok(())
    }

    /// The project name as pip normalises it (PEP 503).
    pub fn project_normalized(&self) -> String {
        crate::constraints::normalize(&self.project)
    }
}

/// PROJECT as given (trimmed, not empty).
fn given_project(env: &Env) -> Option<String> {
    env.get(args::PROJECT.name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// REGISTRY_PROTOCOL, REGISTRY_INSECURE and REGISTRY_AUTH_FILE (else the BuildKit secret
/// `registry-auth`, else `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`,
/// when there).
fn registry(r: &mut Resolver) -> Result<RegistryConfig> {
    let protocol = match r
        .text(&args::REGISTRY_PROTOCOL)
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("detect") => RegistryProtocol::Detect,
        Some("http") => RegistryProtocol::Http,
        Some("https") => RegistryProtocol::Https,
        Some(other) => {
            return Err(Error::new(format!(
                "REGISTRY_PROTOCOL={} is not understood",
                shown(other)
            ))
            .hint("use http, https or detect"))
        }
    };
    let insecure = r.boolean(&args::REGISTRY_INSECURE)?;
    let docker_config = r.text(&args::DOCKER_CONFIG);
    let home = r.text(&args::HOME);
    let auth_file = match r.text(&args::REGISTRY_AUTH_FILE) {
        Some(f) => Some(PathBuf::from(f)),
        None => {
            let secret = PathBuf::from("/run/secrets/registry-auth");
            let found = if secret.exists() {
                Some(secret)
            } else {
                docker_config
                    .map(|d| PathBuf::from(d).join("config.json"))
                    .or_else(|| home.map(|h| PathBuf::from(h).join(".docker/config.json")))
                    .filter(|p| p.exists())
            };
            let shown = found.as_ref().map(|p| p.display().to_string());
            let source = if shown.is_some() {
                Source::Derived
            } else {
                Source::Unset
            };
            r.set(&args::REGISTRY_AUTH_FILE, shown, source);
            found
        }
    };
    Ok(RegistryConfig {
        protocol,
        insecure,
        auth_file,
    })
}

/// INSTALLER: uv, or pip (LOCI's); unset, uv but with SOURCE_DATE_EPOCH: uv records when it
/// built a local tree (uv_cache.json, in RECORD too), so a reproducible build installs with
/// pip unless told.
fn installer(r: &mut Resolver) -> Result<Installer> {
    let source = r.source(&args::INSTALLER);
    let installer = match r
        .text(&args::INSTALLER)
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        Some("pip") => Installer::Pip,
        Some("uv") => Installer::Uv,
        None if r.source(&args::SOURCE_DATE_EPOCH) != Source::Unset => Installer::Pip,
        None => Installer::Uv,
        Some(other) => {
            return Err(
                Error::new(format!("INSTALLER={} is not understood", shown(other)))
                    .hint("use uv (the default) or pip (LOCI's)"),
            )
        }
    };
    r.set(&args::INSTALLER, Some(installer.name().into()), source);
    Ok(installer)
}

/// PACKAGE_CACHE (default on) and LOCI_CACHE_DIR, the Dockerfile's cache mounts: the cache
/// dir when both say so. A LOCI_CACHE_DIR that is not a directory is no cache (loci never
/// creates it: that would leave it in the image).
fn cache_dir(r: &mut Resolver) -> Result<Option<PathBuf>> {
    let on = r.boolean(&args::PACKAGE_CACHE)?;
    let dir = r.text(&args::LOCI_CACHE_DIR);
    if !on {
        return Ok(None);
    }
    Ok(dir
        .map(PathBuf::from)
        .filter(|d| d.is_absolute() && d.is_dir()))
}

#[cfg(test)]
mod tests {
    use super::checks::*;
    use super::wheels::*;

    #[test]
    fn the_dockerfile_labels_images_with_this_loci_version() {
        let dockerfile = include_str!("../../Dockerfile");
        let arg = dockerfile
            .lines()
            .find_map(|l| l.strip_prefix("ARG LOCI_VERSION="))
            .expect("the Dockerfile declares ARG LOCI_VERSION=<version>");
        assert_eq!(arg, env!("CARGO_PKG_VERSION"));
        assert!(check_loci_version(Some(arg)).is_ok());
        assert!(check_loci_version(None).is_ok());
        let e = check_loci_version(Some("0.0.9")).unwrap_err().to_string();
        assert!(e.contains("LOCI_VERSION=0.0.9") && e.contains(arg), "{e}");
    }

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_loci() {
        let c = Config::from_env(&env(&[
            ("PROJECT", "keystone"),
            ("WHEELS_DEST", "/nonexistent/loci-wheels"),
        ]))
        .unwrap();
        assert_eq!(c.project_repo, "https://opendev.org/openstack/keystone");
        assert_eq!(c.project_ref, "master");
        assert_eq!(c.project_release, "master");
        assert_eq!((c.uid, c.gid), (42424, 42424));
        assert!(!c.plugin);
        assert!(!c.keep_all_wheels);
        assert_eq!(c.registry.protocol, RegistryProtocol::Detect);
        assert_eq!(c.nova.tss_uid, 42434);
        // No WHEELS and nothing pre-seeded: the index, against the published constraints.
        assert_eq!(
            c.wheels,
            Some(WheelsSource::Index {
                constraints: "https://releases.openstack.org/constraints/upper/master".into()
            })
        );
    }

    #[test]
    fn loci_master_names_and_defaults_of_the_new_arguments() {
        let c = Config::from_env(&env(&[("PROJECT", "skyline-apiserver")])).unwrap();
        assert_eq!(c.setuptools_constraint, "<81", "LOCI master's default");
        assert_eq!(c.pip_constraint, "");
        assert_eq!(c.paths.sources_dir, PathBuf::from("/tmp"));
        assert_eq!(c.paths.data_dir, PathBuf::from("/tmp"));
        assert_eq!(
            c.skyline.console,
            ConsoleSource::Git {
                repo: "https://opendev.org/openstack/skyline-console".into(),
                reference: "master".into()
            }
        );
        // PIP_VERSION_CONSTRAINT is LOCI master's name; loci's PIP_CONSTRAINT still works,
        // and the new name wins when both are set.
        for (pairs, want) in [
            (vec![("PIP_CONSTRAINT", "<25")], "<25"),
            (vec![("PIP_VERSION_CONSTRAINT", "<26")], "<26"),
            (
                vec![("PIP_CONSTRAINT", "<25"), ("PIP_VERSION_CONSTRAINT", "<26")],
                "<26",
            ),
            (
                vec![("PIP_CONSTRAINT", "<25"), ("PIP_VERSION_CONSTRAINT", "")],
                "<25",
            ),
        ] {
            let mut all = vec![("PROJECT", "nova")];
            all.extend(pairs.iter().copied());
            assert_eq!(
                Config::from_env(&env(&all)).unwrap().pip_constraint,
                want,
                "{pairs:?}"
            );
        }
        // An empty SETUPTOOL_CONSTRAINT lifts the cap; the old spelling still works.
        for (pairs, want) in [
            (vec![("SETUPTOOL_CONSTRAINT", "")], ""),
            (vec![("SETUPTOOL_CONSTRAINT", "<80")], "<80"),
            (vec![("SETUPTOOLS_CONSTRAINT", "<79")], "<79"),
            (
                vec![
                    ("SETUPTOOL_CONSTRAINT", " "),
                    ("SETUPTOOLS_CONSTRAINT", "<79"),
                ],
                "",
            ),
        ] {
            let mut all = vec![("PROJECT", "nova")];
            all.extend(pairs.iter().copied());
            assert_eq!(
                Config::from_env(&env(&all)).unwrap().setuptools_constraint,
                want,
                "{pairs:?}"
            );
        }
        let c = Config::from_env(&env(&[("PROJECT", "nova"), ("SOURCES_DIR", "/src")])).unwrap();
        assert_eq!(c.paths.sources_dir, PathBuf::from("/src"));
        assert_eq!(
            c.paths.data_dir,
            PathBuf::from("/tmp"),
            "the data dir stays"
        );
        for bad in ["src", "/tmp/../etc", "./x"] {
            let e =
                Config::from_env(&env(&[("PROJECT", "nova"), ("SOURCES_DIR", bad)])).unwrap_err();
            assert!(
                e.to_string()
                    .contains(&format!("SOURCES_DIR={bad} is not an absolute path")),
                "{e}"
            );
            assert!(e.hint.unwrap().contains("/tmp"));
        }
    }

    #[test]
    fn the_skyline_console_comes_from_git_or_the_index() {
        let console = |pairs: &[(&str, &str)]| {
            let mut all = vec![("PROJECT", "skyline-apiserver")];
            all.extend(pairs.iter().copied());
            Config::from_env(&env(&all)).map(|c| c.skyline.console)
        };
        assert_eq!(
            console(&[
                ("SKYLINE_CONSOLE_REPO", "git://127.0.0.1/skyline-console"),
                ("SKYLINE_CONSOLE_REF", "stable/2026.1")
            ])
            .unwrap(),
            ConsoleSource::Git {
                repo: "git://127.0.0.1/skyline-console".into(),
                reference: "stable/2026.1".into()
            }
        );
        for (reference, want) in [
            ("master", "skyline-console"),
            ("8.0.0", "skyline-console==8.0.0"),
            ("8.*", "skyline-console==8.*"),
            ("==8.*", "skyline-console==8.*"),
            (">=8, <9", "skyline-console>=8,<9"),
        ] {
            assert_eq!(
                console(&[
                    ("SKYLINE_CONSOLE_REPO", "pypi"),
                    ("SKYLINE_CONSOLE_REF", reference)
                ])
                .unwrap(),
                ConsoleSource::Index {
                    requirement: want.into()
                },
                "{reference}"
            );
        }
        assert_eq!(
            console(&[("SKYLINE_CONSOLE_REPO", "PyPI")]).unwrap(),
            ConsoleSource::Index {
                requirement: "skyline-console".into()
            }
        );
        for bad in ["stable/2026.1", "0123abc; rm", "--pre"] {
            let e = console(&[
                ("SKYLINE_CONSOLE_REPO", "pypi"),
                ("SKYLINE_CONSOLE_REF", bad),
            ])
            .unwrap_err();
            assert!(
                e.to_string()
                    .contains("is not a version of skyline-console"),
                "{bad}: {e}"
            );
            assert!(e.hint.unwrap().contains("SKYLINE_CONSOLE_REPO=pypi"));
        }
    }

    #[test]
    fn source_date_epoch_is_a_number_of_seconds() {
        let c = Config::from_env(&env(&[("PROJECT", "keystone")])).unwrap();
        assert_eq!(c.source_date_epoch, None);
        let c = Config::from_env(&env(&[
            ("PROJECT", "keystone"),
            ("SOURCE_DATE_EPOCH", "1700000000"),
        ]))
        .unwrap();
        assert_eq!(c.source_date_epoch, Some(1_700_000_000));
        let e = Config::from_env(&env(&[
            ("PROJECT", "keystone"),
            ("SOURCE_DATE_EPOCH", "now"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("SOURCE_DATE_EPOCH=now"), "{e}");
        assert!(e.hint.unwrap().contains("seconds"));
        assert!(parse_source_date_epoch("yesterday").is_err());
        assert_eq!(parse_source_date_epoch(" 42 ").unwrap(), 42);
    }

    #[test]
    fn project_is_required() {
        let e = Config::from_env(&env(&[])).unwrap_err();
        assert!(e.to_string().contains("PROJECT is not set"));
        assert!(e.hint.unwrap().contains("--build-arg PROJECT="));
    }

    #[test]
    fn booleans_accept_loci_forms() {
        for (v, want) in [
            ("True", true),
            ("yes", true),
            ("1", true),
            ("FALSE", false),
            ("No", false),
            ("0", false),
        ] {
            let c = Config::from_env(&env(&[("PROJECT", "nova"), ("PLUGIN", v)])).unwrap();
            assert_eq!(c.plugin, want, "{v}");
        }
        let e = Config::from_env(&env(&[("PROJECT", "nova"), ("KEEP_ALL_WHEELS", "maybe")]))
            .unwrap_err();
        assert!(e
            .to_string()
            .contains("KEEP_ALL_WHEELS=maybe is not a boolean"));
    }

    #[test]
    fn requirements_prefetch_is_on_unless_turned_off() {
        let c = |pairs: &[(&str, &str)]| Config::from_env(&env(pairs));
        assert!(
            c(&[("PROJECT", "requirements")])
                .unwrap()
                .requirements_prefetch
        );
        for off in ["False", "no", "0"] {
            let cfg = c(&[("PROJECT", "requirements"), ("REQUIREMENTS_PREFETCH", off)]).unwrap();
            assert!(!cfg.requirements_prefetch, "{off}");
        }
        let e = c(&[
            ("PROJECT", "requirements"),
            ("REQUIREMENTS_PREFETCH", "sometimes"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("REQUIREMENTS_PREFETCH=sometimes is not a boolean"),
            "{e}"
        );
        assert!(e.contains("the default is True"), "{e}");
    }

    #[test]
    fn non_numeric_uid_is_an_error() {
        let e = Config::from_env(&env(&[("PROJECT", "nova"), ("UID", "abc")])).unwrap_err();
        assert!(
            e.to_string().contains("UID=abc is not a valid numeric id"),
            "{e}"
        );
        let e = Config::from_env(&env(&[("PROJECT", "nova"), ("GID", "-5")])).unwrap_err();
        assert!(e.to_string().contains("GID=-5"), "{e}");
    }

    #[test]
    fn pip_wheel_args_default_to_pip_args_and_old_spelling_is_accepted() {
        let c = Config::from_env(&env(&[
            ("PROJECT", "nova"),
            ("PIP_ARGS", "--pre  -v"),
            ("WHEEL_CONSTRAIN", "<0.46"),
        ]))
        .unwrap();
        assert_eq!(c.pip_wheel_args, vec!["--pre", "-v"]);
        assert_eq!(c.wheel_constraint, "<0.46");
        let c = Config::from_env(&env(&[
            ("PROJECT", "nova"),
            ("PIP_ARGS", "--pre"),
            ("PIP_WHEEL_ARGS", ""),
        ]))
        .unwrap();
        assert!(c.pip_wheel_args.is_empty());
    }

    #[test]
    fn wheels_are_classified() {
        assert_eq!(
            classify_wheels("https://x/y.tar.gz"),
            WheelsSource::Url("https://x/y.tar.gz".into())
        );
        assert_eq!(
            classify_wheels("loci/requirements:master-ubuntu"),
            WheelsSource::Image("loci/requirements:master-ubuntu".into())
        );
        assert_eq!(
            classify_wheels("/nonexistent/w.tgz"),
            WheelsSource::Tarball("/nonexistent/w.tgz".into())
        );
        assert_eq!(classify_wheels("/"), WheelsSource::Directory("/".into()));
    }

    #[test]
    fn unusable_wheels_are_refused_at_config_time() {
        for (value, want, hint) in [
            (
                "ftp://mirror/wheels.tar.gz",
                "ftp:// URLs are not supported",
                "an http(s) URL",
            ),
            (
                "file:///srv/wheels.tar.gz",
                "file:// URLs are not supported",
                "WHEELS=/srv/wheels.tar.gz",
            ),
            (
                "loci/requirements@sha256:xyz",
                "not a valid image reference",
                "an image reference",
            ),
            (
                "loci/requirements@md5:00",
                "not a valid image reference",
                "absolute path",
            ),
            (
                "Loci Requirements",
                "not a valid image reference",
                "http(s) URL",
            ),
            ("http://", "not a valid URL", "http(s)://host"),
        ] {
            for f in [Config::from_env, Config::from_env_lenient] {
                let e = f(&env(&[("PROJECT", "nova"), ("WHEELS", value)])).unwrap_err();
                let s = e.to_string();
                assert!(s.contains(&format!("WHEELS={value}")), "{value}: {s}");
                assert!(s.contains(want), "{value}: {s}");
                assert!(
                    e.hint.as_deref().unwrap_or_default().contains(hint),
                    "{value}: {s}"
                );
            }
        }
        let digest = format!("loci/requirements@sha256:{}", "a".repeat(64));
        let c = Config::from_env(&env(&[("PROJECT", "nova"), ("WHEELS", &digest)])).unwrap();
        assert_eq!(c.wheels, Some(WheelsSource::Image(digest)));
    }

    #[test]
    fn a_mounted_image_is_used_in_place_and_empty_wheels_mean_the_index() {
        let mount = tempfile::tempdir().unwrap();
        let m = mount.path().display().to_string();
        let c = Config::from_env(&env(&[
            ("PROJECT", "keystone"),
            ("WHEELS", "loci/requirements:2026.1"),
            ("WHEELS_PATH", &m),
        ]))
        .unwrap();
        assert_eq!(
            c.wheels,
            Some(WheelsSource::Mounted {
                image: "loci/requirements:2026.1".into(),
                path: mount.path().into()
            })
        );
        // Not mounted (a plain `docker run`): the registry client.
        let c = Config::from_env(&env(&[
            ("PROJECT", "keystone"),
            ("WHEELS", "loci/requirements:2026.1"),
            ("WHEELS_PATH", "/nonexistent/loci-mount"),
        ]))
        .unwrap();
        assert_eq!(
            c.wheels,
            Some(WheelsSource::Image("loci/requirements:2026.1".into()))
        );
        // URLs are never mounted, even when the (empty) mount exists.
        let c = Config::from_env(&env(&[
            ("PROJECT", "keystone"),
            ("WHEELS", "https://x/w.tar.gz"),
            ("WHEELS_PATH", &m),
        ]))
        .unwrap();
        assert_eq!(
            c.wheels,
            Some(WheelsSource::Url("https://x/w.tar.gz".into()))
        );
        let c = Config::from_env(&env(&[
            ("PROJECT", "keystone"),
            ("WHEELS", ""),
            ("UPPER_CONSTRAINTS", "/tmp/upper-constraints.txt"),
            ("PROJECT_RELEASE", "2026.1"),
        ]))
        .unwrap();
        assert_eq!(
            c.wheels,
            Some(WheelsSource::Index {
                constraints: "/tmp/upper-constraints.txt".into()
            })
        );
        let c = Config::from_env(&env(&[
            ("PROJECT", "keystone"),
            ("PROJECT_RELEASE", "2026.1"),
            ("WHEELS_DEST", "/nonexistent/loci-wheels"),
        ]))
        .unwrap();
        assert_eq!(
            c.wheels,
            Some(WheelsSource::Index {
                constraints: "https://releases.openstack.org/constraints/upper/2026.1".into()
            })
        );
        let e = Config::from_env(&env(&[
            ("PROJECT", "keystone"),
            ("UPPER_CONSTRAINTS", "upper.txt"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("UPPER_CONSTRAINTS=upper.txt"), "{e}");
    }

    #[test]
    fn proxies_are_collected_but_not_serialized() {
        let c = Config::from_env(&env(&[
            ("PROJECT", "nova"),
            ("https_proxy", "http://127.0.0.1:3128"),
        ]))
        .unwrap();
        assert_eq!(
            c.proxy_env,
            vec![(
                "https_proxy".to_string(),
                "http://127.0.0.1:3128".to_string()
            )]
        );
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("3128"));
    }

    #[test]
    fn bad_project_names_are_refused() {
        let e = Config::from_env(&env(&[("PROJECT", "../etc")])).unwrap_err();
        assert!(
            e.to_string().contains("PROJECT=\"../etc\" is refused"),
            "{e}"
        );
        assert!(e.to_string().contains("holds '/'"), "{e}");
        assert!(e.hint.unwrap().contains("keystone"));
    }

    #[test]
    fn a_project_like_an_option_is_refused_with_a_hint() {
        for bad in ["--help", "-rf", "-"] {
            let e = Config::from_env(&env(&[("PROJECT", bad)])).unwrap_err();
            let s = e.to_string();
            assert!(s.contains(&format!("PROJECT={bad:?}")), "{s}");
            assert!(s.contains("starts with '-'"), "{s}");
            assert!(s.contains("hint: use the repository's short name"), "{s}");
        }
        // The lenient commands refuse it too.
        assert!(Config::from_env_lenient(&env(&[("PROJECT", "--help")])).is_err());
    }

    #[test]
    fn names_are_held_to_their_length_limits() {
        // A user name: 32 characters at most.
        let ok = "a".repeat(32);
        assert!(Config::from_env(&env(&[("PROJECT", &ok)])).is_ok());
        let long = "a".repeat(33);
        let e = Config::from_env(&env(&[("PROJECT", &long)])).unwrap_err();
        assert!(
            e.to_string()
                .contains("33 characters long, more than the 32"),
            "{e}"
        );
        // A plugin's PROJECT is no user name: only the file name limit applies.
        assert!(Config::from_env(&env(&[("PROJECT", &long), ("PLUGIN", "true")])).is_ok());
        let huge = "a".repeat(256);
        let e = Config::from_env(&env(&[("PROJECT", &huge), ("PLUGIN", "true")])).unwrap_err();
        assert!(e.to_string().contains("more than the 255"), "{e}");
        let e =
            Config::from_env(&env(&[("PROJECT", "nova"), ("NOVA_TSS_USER", &long)])).unwrap_err();
        assert!(e.to_string().contains("NOVA_TSS_USER="), "{e}");
        assert!(e.hint.unwrap().contains("swtpm"));
        // A 10 MB value is not echoed in full.
        let e = Config::from_env(&env(&[("PROJECT", &"a".repeat(10 << 20))])).unwrap_err();
        assert!(e.to_string().len() < 1000, "{}", e.to_string().len());
        assert!(e.to_string().contains('…'));
    }

    #[test]
    fn list_entries_that_become_names_or_arguments_are_checked() {
        for (key, value, want) in [
            (
                "EXTRA_PROJECTS",
                "ok --force",
                "EXTRA_PROJECTS entry \"--force\" is refused",
            ),
            ("EXTRA_PROJECTS", "a/b", "holds '/'"),
            ("NOVA_TSS_USER", "-o", "NOVA_TSS_USER=\"-o\" is refused"),
            ("NOVA_TSS_USER", "tss/x", "holds '/'"),
            (
                "DIST_PACKAGES",
                "curl --allow-unauthenticated",
                "DIST_PACKAGES entry \"--allow-unauthenticated\"",
            ),
            ("PIP_PACKAGES", "-e", "PIP_PACKAGES entry \"-e\""),
            ("REQUIREMENTS_ONLY", "-r", "REQUIREMENTS_ONLY entry"),
            (
                "PROFILES",
                "fluent --x",
                "PROFILES entry \"--x\" is refused",
            ),
            ("PROFILES", "../x", "PROFILES entry \"../x\" is refused"),
            (
                "HORIZON_EXTRA_PANELS",
                "a/../../b",
                "HORIZON_EXTRA_PANELS entry ",
            ),
        ] {
            let e = Config::from_env(&env(&[("PROJECT", "nova"), (key, value)])).unwrap_err();
            let s = e.to_string();
            assert!(s.contains(want), "{key}={value}: {s}");
            assert!(e.hint.is_some(), "{key}={value}: no hint");
        }
        // What LOCI's users pass is still accepted.
        let c = Config::from_env(&env(&[
            ("PROJECT", "nova"),
            ("EXTRA_PROJECTS", "os-brick python-novaclient"),
            ("DIST_PACKAGES", "curl libpq5"),
            ("PIP_PACKAGES", "pymysql python-memcached>=1.5 ./local/pkg"),
            ("PROFILES", "fluent ldap apache"),
            ("NOVA_TSS_USER", "tss"),
            ("EXTRA_BINDEP", "extra/bindep-site.txt"),
        ]))
        .unwrap();
        assert_eq!(c.profiles, vec!["fluent", "ldap", "apache"]);
    }
}
