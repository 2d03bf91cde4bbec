//! The one table of build arguments (and the other environment variables loci reads): for
//! each its name, older names, default, one line of documentation, the kind of value it takes
//! (which parser reads it), whether /etc/image_info/inputs.env records it, whether it is one
//! of LOCI master's names, and where it comes from (a build argument of the Dockerfile, an
//! argument only the Dockerfile reads, or the environment).
//!
//! [`Config`](super::Config) is read through it (the `Resolver` of `values.rs`: the defaults and parsers
//! of this table), inputs.env is written from it, `loci config` prints it with each value's
//! source, the README's table of build arguments is generated from it ([`markdown`]) and
//! tests hold it to the README and to the Dockerfile's `ARG`s.

pub use super::arg::{Arg, DefaultIs, Inputs, Kind, Place};

use DefaultIs::{Derived, Required, Unset, Value};

pub const FROM: Arg = Arg::new(
    "FROM",
    Kind::Text,
    Unset("`ubuntu:noble` (the Dockerfile's)"),
    "the image to build on: a base from `dockerfiles/`; recorded as given (give it by digest to have the digest recorded)",
)
.loci()
.inputs(Inputs::Always);
pub const WHEELS: Arg = Arg::new(
    "WHEELS",
    Kind::Wheels,
    Unset("empty (the Dockerfile's): no requirements image; PyPI against UPPER_CONSTRAINTS, built in two stages at the default target"),
    "where the wheels and upper-constraints.txt come from: an image (mounted by BuildKit), an http(s) URL of a tarball, a tarball or directory in the data dir (e.g. `/tmp/wheels`), or empty for none (see \"Where the wheels come from\")",
)
.loci()
.inputs(Inputs::Always);
pub const WHEELS_PATH: Arg = Arg::new(
    "WHEELS_PATH",
    Kind::Path,
    Value("/wheels"),
    "where the WHEELS image is mounted (LOCI master's; never under `/tmp`)",
)
.loci();
pub const WHEELS_DEST: Arg = Arg::new(
    "WHEELS_DEST",
    Kind::Path,
    Value("/tmp/wheels"),
    "where wheels that are fetched (a tarball, a URL, an image from a registry) are extracted",
)
.place(Place::Environment);
pub const PROJECT: Arg = Arg::new(
    "PROJECT",
    Kind::Text,
    Required,
    "the service, e.g. `keystone`; `requirements` builds a requirements image, `infra` LOCI's tooling image",
)
.loci()
.inputs(Inputs::Always);
pub const PROJECT_REPO: Arg = Arg::new(
    "PROJECT_REPO",
    Kind::Text,
    Derived("`https://opendev.org/openstack/$PROJECT`"),
    "the git repository (https, http, git://, file)",
)
.loci()
.inputs(Inputs::Always);
pub const PROJECT_REF: Arg = Arg::new(
    "PROJECT_REF",
    Kind::Text,
    Value("master"),
    "branch, tag, commit id or Gerrit ref (`refs/changes/NN/NNNNNN/N`); inputs.env records the commit built",
)
.loci()
.inputs(Inputs::Always);
pub const SOURCES_DIR: Arg = Arg::new(
    "SOURCES_DIR",
    Kind::Dir,
    Value("/tmp"),
    "where the project's source is cloned, or found when it is there already (`SOURCES_DIR/PROJECT`); a requirements build clones openstack/requirements there and takes the source trees there for constraints. `/tmp` is the data dir (emptied at cleanup); a tree elsewhere stays in the image, as in LOCI. `EXTRA_PROJECTS` stay in the data dir, as in LOCI",
)
.loci();
pub const PROJECT_RELEASE: Arg = Arg::new(
    "PROJECT_RELEASE",
    Kind::Text,
    Value("master"),
    "the release name recorded in `/etc/image_info` and the image labels",
)
.loci()
.inputs(Inputs::Always);
pub const PROJECT_PIP_EXTRAS: Arg = Arg::new(
    "PROJECT_PIP_EXTRAS",
    Kind::Text,
    Unset(""),
    "extras of the project to install, e.g. `ldap,oauth1`",
)
.loci()
.inputs(Inputs::Always);
pub const EXTRA_PROJECTS: Arg = Arg::new(
    "EXTRA_PROJECTS",
    Kind::Words,
    Unset(""),
    "source trees in the data dir (`data/NAME`, seen as `/tmp/NAME`) installed with the project",
)
.loci()
.inputs(Inputs::Always);
pub const UPPER_CONSTRAINTS: Arg = Arg::new(
    "UPPER_CONSTRAINTS",
    Kind::UrlOrPath,
    Derived("OpenStack's published file for `PROJECT_RELEASE`"),
    "with an empty WHEELS: the upper-constraints, an http(s) URL or a path in the data dir",
)
.inputs(Inputs::WhenSet);
pub const REGISTRY_PROTOCOL: Arg = Arg::new(
    "REGISTRY_PROTOCOL",
    Kind::Choice(&["http", "https", "detect"]),
    Value("detect"),
    "`http`, `https`, or `detect` (LOCI's: try http, then https; a 401/403 counts as an answer) for `WHEELS` images",
)
.loci();
pub const REGISTRY_INSECURE: Arg = Arg::new(
    "REGISTRY_INSECURE",
    Kind::Bool,
    Value("False"),
    "accept an untrusted TLS certificate from the registry",
)
.loci();
pub const REGISTRY_AUTH_FILE: Arg = Arg::new(
    "REGISTRY_AUTH_FILE",
    Kind::Path,
    Derived("the BuildKit secret, else `$DOCKER_CONFIG/config.json`"),
    "a docker `config.json` with credentials; by default the BuildKit secret `registry-auth` (`--secret id=registry-auth,src=$HOME/.docker/config.json`), else `$DOCKER_CONFIG/config.json` (else `$HOME/.docker/config.json`)",
);
pub const DISTRO: Arg = Arg::new(
    "DISTRO",
    Kind::Text,
    Derived("detected from `/etc/os-release`"),
    "override the distro family detected from `/etc/os-release`",
)
.loci();
pub const PROFILES: Arg = Arg::new(
    "PROFILES",
    Kind::Words,
    Unset(""),
    "extra bindep profiles, e.g. `apache ldap`; an entry no bindep profile can be (LOCI's keystone job passes `stable/2025.1`) is ignored with a line in the build log, as bindep matches nothing with it",
)
.loci()
.inputs(Inputs::Always);
pub const DIST_PACKAGES: Arg = Arg::new(
    "DIST_PACKAGES",
    Kind::Words,
    Unset(""),
    "extra distro packages to install",
)
.loci()
.inputs(Inputs::Always);
pub const APT_MIRROR: Arg = Arg::new(
    "APT_MIRROR",
    Kind::Text,
    Unset(""),
    "accepted and ignored, with a line in the build log: LOCI master's Dockerfile declares it (default `https://archive.ubuntu.com/ubuntu/`) and none of its scripts reads it; a service build uses its base image's apt sources (`Dockerfile.base`'s `APT_MIRROR`)",
)
.loci();
pub const PIP_PACKAGES: Arg = Arg::new(
    "PIP_PACKAGES",
    Kind::Words,
    Unset(""),
    "extra Python packages to install into the venv",
)
.loci()
.inputs(Inputs::Always);
pub const PIP_ARGS: Arg = Arg::new(
    "PIP_ARGS",
    Kind::Words,
    Unset(""),
    "extra arguments of every `pip install`",
)
.loci()
.inputs(Inputs::Always);
pub const PIP_WHEEL_ARGS: Arg = Arg::new(
    "PIP_WHEEL_ARGS",
    Kind::Words,
    Derived("`$PIP_ARGS`"),
    "extra arguments of `pip wheel` (requirements builds)",
)
.loci();
pub const PIP_VERSION_CONSTRAINT: Arg = Arg::new(
    "PIP_VERSION_CONSTRAINT",
    Kind::Text,
    Unset(""),
    "version constraint of pip in the venv, e.g. `<25` (loci's older name `PIP_CONSTRAINT` still works; the new name wins when both are set; neither reaches pip, which reads `PIP_CONSTRAINT` as a file name)",
)
.loci()
.aliases(&["PIP_CONSTRAINT"])
.inputs(Inputs::Always);
pub const SETUPTOOL_CONSTRAINT: Arg = Arg::new(
    "SETUPTOOL_CONSTRAINT",
    Kind::TextOrEmpty,
    Value("<81"),
    "version constraint of setuptools (`SETUPTOOLS_CONSTRAINT` works too): the venv's setuptools, and a cap in the build constraints of everything built from source (setuptools 82 removed `pkg_resources`, which many `setup.py` still import): the requirements build's `pip wheel` (`--build-constraint` with pip >= 25.3, `PIP_CONSTRAINT` in pip's environment before) and its image's `upper-constraints.txt`, and builds without WHEELS. Empty (`--build-arg SETUPTOOL_CONSTRAINT=`): no cap",
)
.loci()
.aliases(&["SETUPTOOLS_CONSTRAINT"])
.inputs(Inputs::Always);
pub const WHEEL_CONSTRAINT: Arg = Arg::new(
    "WHEEL_CONSTRAINT",
    Kind::Text,
    Unset(""),
    "version constraint of wheel (`WHEEL_CONSTRAIN` works too)",
)
.loci()
.aliases(&["WHEEL_CONSTRAIN"])
.inputs(Inputs::Always);
pub const VENV_TOOLS: Arg = Arg::new(
    "VENV_TOOLS",
    Kind::Words,
    Value("bindep pkginfo"),
    "tools installed into the venv and left there for child images; empty for none. LOCI master's `setup_venv` leaves uv too: `bindep pkginfo uv` does the same (40 MB more per image). The build's own uv never lands in the venv",
)
.inputs(Inputs::Always);
pub const PLUGIN: Arg = Arg::new(
    "PLUGIN",
    Kind::Bool,
    Value("no"),
    "build on top of a service image (no base packages, user, venv)",
)
.loci()
.inputs(Inputs::Always);
pub const EXTRA_BINDEP: Arg = Arg::new(
    "EXTRA_BINDEP",
    Kind::Words,
    Unset(""),
    "extra bindep files (names in the build context, `bindep*`)",
)
.loci();
pub const EXTRA_PYDEP: Arg = Arg::new(
    "EXTRA_PYDEP",
    Kind::Words,
    Unset(""),
    "extra pydep files (names in the build context, `pydep*`)",
)
.loci();
pub const KEEP_ALL_WHEELS: Arg = Arg::new(
    "KEEP_ALL_WHEELS",
    Kind::Bool,
    Value("False"),
    "requirements: keep every wheel, not only those compiled (the wheels of a service venv's toolchain, pip, setuptools, wheel, bindep, pkginfo and uv with their dependencies, are kept either way)",
)
.loci()
.inputs(Inputs::Always);
pub const REQUIREMENTS_JOBS: Arg = Arg::new(
    "REQUIREMENTS_JOBS",
    Kind::Count,
    Derived("four per CPU"),
    "requirements: how many `pip wheel` run at once (most only download)",
);
pub const INSTALLER: Arg = Arg::new(
    "INSTALLER",
    Kind::Choice(&["uv", "pip"]),
    Derived("`uv` (`pip` with `SOURCE_DATE_EPOCH`)"),
    "the Python installer: `uv` (`uv pip install` with the same constraints, wheels and flags; 2-3x faster than pip here) or `pip` (LOCI's). uv writes the time it built a local tree into the installed `uv_cache.json` (and RECORD), so a reproducible build uses pip unless `INSTALLER=uv` is given; with the package cache, uv always rebuilds the build's own trees (`--refresh-package`), since its cache knows a tree only by its setup files' times. The build's uv runs from the data dir, out of the uv wheel of the wheels (a requirements image made by loci holds it), else pip-installed into a venv of its own; the service venv is then made without ensurepip and gets its toolchain from the wheels alone when they hold it",
)
.inputs(Inputs::Always);
pub const PACKAGE_CACHE: Arg = Arg::new(
    "PACKAGE_CACHE",
    Kind::Bool,
    Value("True"),
    "keep apt's (dnf's) downloads and package lists, and pip's and uv's caches, in BuildKit cache mounts between builds (one system and one Python cache per `FROM` and `TARGETPLATFORM`, ids `loci-system-...` and `loci-python-...`), never in a layer; `False` runs every tool without a cache, as LOCI (the mounts stay attached, unused). `docker builder prune --filter type=exec.cachemount` empties them",
);
pub const LOCI_CACHE_DIR: Arg = Arg::new(
    "LOCI_CACHE_DIR",
    Kind::Dir,
    Unset("`/mnt/cache` (the Dockerfile's)"),
    "where the Dockerfile mounts the package caches; no cache when it is not a directory",
)
.place(Place::Environment);
pub const REQUIREMENTS_ONLY: Arg = Arg::new(
    "REQUIREMENTS_ONLY",
    Kind::Words,
    Unset(""),
    "requirements: build only these constraints (names)",
);
pub const REQUIREMENTS_PREFETCH: Arg = Arg::new(
    "REQUIREMENTS_PREFETCH",
    Kind::Bool,
    Value("True"),
    "requirements: look every plain pin (`name===version`, no markers or extras) up on pip's index (PEP 691 JSON; `index-url` of `pip config list`, or `--index-url` in `PIP_WHEEL_ARGS`) for the venv's tags (`pip debug --verbose`); a constraint with a binary wheel for the platform is not built (`KEEP_ALL_WHEELS=False`: LOCI drops downloaded wheels anyway) or downloaded directly into the image, sha256 checked (`True`, then the wheels' dependencies are checked offline and fetched with one `pip wheel` if missing); only the rest goes to `pip wheel`. Off by itself (one log line says why) when pip's configuration or `PIP_WHEEL_ARGS` sets extra-index-url, find-links, no-index, only-/no-/prefer-binary, platform, python-version, abi, implementation or pre, or the index has no JSON API. `False`: one `pip wheel` per constraint, as LOCI",
);
pub const REQUIREMENTS_ONLY_FILE: Arg = Arg::new(
    "REQUIREMENTS_ONLY_FILE",
    Kind::Path,
    Unset(""),
    "requirements: build only the constraints listed in this file (one name a line, e.g. `/tmp/closure.txt` from the data dir)",
);
pub const UID: Arg = Arg::new("UID", Kind::Id, Value("42424"), "id of the service user")
    .loci()
    .inputs(Inputs::Always);
pub const GID: Arg = Arg::new("GID", Kind::Id, Value("42424"), "id of the service group")
    .loci()
    .inputs(Inputs::Always);
pub const COPY_DEFAULT_CONFIG_FILES: Arg = Arg::new(
    "COPY_DEFAULT_CONFIG_FILES",
    Kind::Bool,
    Value("no"),
    "copy the project's default config files from the venv to `/etc/$PROJECT`",
)
.loci();
pub const NOVNC_REPO: Arg = Arg::new(
    "NOVNC_REPO",
    Kind::Text,
    Value("https://github.com/novnc/novnc"),
    "nova's noVNC console: the repository",
)
.loci();
pub const NOVNC_REF: Arg = Arg::new(
    "NOVNC_REF",
    Kind::Text,
    Value("v1.0.0"),
    "nova's noVNC console: the ref",
)
.loci();
pub const SPICE_REPO: Arg = Arg::new(
    "SPICE_REPO",
    Kind::Text,
    Value("https://gitlab.freedesktop.org/spice/spice-html5.git"),
    "nova's SPICE console: the repository",
)
.loci();
pub const SPICE_REF: Arg = Arg::new(
    "SPICE_REF",
    Kind::Text,
    Value("spice-html5-0.1.6"),
    "nova's SPICE console: the ref",
)
.loci();
pub const NOVA_TSS_USER: Arg = Arg::new(
    "NOVA_TSS_USER",
    Kind::Text,
    Value("tss"),
    "nova's tss user (vTPM)",
)
.loci();
pub const NOVA_TSS_UID: Arg = Arg::new(
    "NOVA_TSS_UID",
    Kind::Id,
    Value("42434"),
    "id of nova's tss user",
)
.loci();
pub const NOVA_TSS_GID: Arg = Arg::new(
    "NOVA_TSS_GID",
    Kind::Id,
    Value("42434"),
    "id of nova's tss group",
)
.loci();
pub const SKYLINE_CONSOLE_REPO: Arg = Arg::new(
    "SKYLINE_CONSOLE_REPO",
    Kind::Text,
    Value("https://opendev.org/openstack/skyline-console"),
    "skyline-apiserver's console, pip-installed into the venv with the build's constraints and wheels: the repository, cloned at `SKYLINE_CONSOLE_REF` into the data dir (`data/skyline-console` pre-seeded is used as it is); or `pypi` for the release on the index or in the wheels. Only the release wheel holds the built static files (upstream builds them with yarn): a git checkout installs without them, as in LOCI, and the build log says so",
)
.loci();
pub const SKYLINE_CONSOLE_REF: Arg = Arg::new(
    "SKYLINE_CONSOLE_REF",
    Kind::Text,
    Value("master"),
    "the console's ref; with `SKYLINE_CONSOLE_REPO=pypi` a version (`8.0.0`, `==8.*`; `master`: the newest)",
)
.loci();
pub const HORIZON_EXTRA_PANELS: Arg = Arg::new(
    "HORIZON_EXTRA_PANELS",
    Kind::Words,
    Derived("loci's list of dashboard plugins"),
    "horizon plugins whose panels are enabled when installed",
)
.loci();
pub const MOD_OAUTH2_URL: Arg = Arg::new(
    "MOD_OAUTH2_URL",
    Kind::Text,
    Derived("OpenIDC's release .deb"),
    "keystone's mod_oauth2 (`{codename}` and `{arch}`, Debian's name, are substituted); with both defaults, on arm64 the distro's `libapache2-mod-oauth2` instead (OpenIDC publishes amd64 .debs only)",
)
.loci();
pub const LIBOAUTH2_URL: Arg = Arg::new(
    "LIBOAUTH2_URL",
    Kind::Text,
    Derived("OpenIDC's release .deb"),
    "keystone's liboauth2, for mod_oauth2 (`{codename}` and `{arch}` are substituted)",
)
.loci();
pub const SSL_CERT_FILE: Arg = Arg::new(
    "SSL_CERT_FILE",
    Kind::Path,
    Unset("the base image's"),
    "extra trust for loci's HTTPS (registries, wheel URLs, git): a CA bundle",
);
pub const SSL_CERT_DIR: Arg = Arg::new(
    "SSL_CERT_DIR",
    Kind::Path,
    Unset("the base image's"),
    "extra trust for loci's HTTPS (registries, wheel URLs, git): a directory of certificates",
);
pub const LOCI_HTTP_CONNECT_TIMEOUT: Arg = Arg::new(
    "LOCI_HTTP_CONNECT_TIMEOUT",
    Kind::Seconds,
    Value("10"),
    "seconds loci's HTTP client (registries, wheel URLs) waits for a connection; a request is tried at most 5 times within 2 minutes",
);
pub const LOCI_HTTP_READ_TIMEOUT: Arg = Arg::new(
    "LOCI_HTTP_READ_TIMEOUT",
    Kind::Seconds,
    Value("30"),
    "seconds loci's HTTP client waits for the answer, and then for every read of a body",
);
pub const IMAGE_CREATED: Arg = Arg::new(
    "IMAGE_CREATED",
    Kind::Dockerfile,
    Unset(""),
    "the value of the `org.opencontainers.image.created` label",
)
.place(Place::Dockerfile);
pub const IMAGE_REVISION: Arg = Arg::new(
    "IMAGE_REVISION",
    Kind::Dockerfile,
    Derived("`$PROJECT_REF`"),
    "the value of the `org.opencontainers.image.revision` label",
)
.place(Place::Dockerfile);
pub const IMAGE_VERSION: Arg = Arg::new(
    "IMAGE_VERSION",
    Kind::Dockerfile,
    Derived("`$PROJECT_RELEASE`"),
    "the value of the `org.opencontainers.image.version` label",
)
.place(Place::Dockerfile);
pub const IMAGE_LICENSES: Arg = Arg::new(
    "IMAGE_LICENSES",
    Kind::Dockerfile,
    Value("Apache-2.0"),
    "the value of the `org.opencontainers.image.licenses` label (an SPDX expression)",
)
.place(Place::Dockerfile);
pub const IMAGE_DESCRIPTION: Arg = Arg::new(
    "IMAGE_DESCRIPTION",
    Kind::Dockerfile,
    Derived("`OpenStack $PROJECT $PROJECT_RELEASE, built from source by loci`"),
    "the value of the `org.opencontainers.image.description` label",
)
.place(Place::Dockerfile);
pub const IMAGE_VENDOR: Arg = Arg::new(
    "IMAGE_VENDOR",
    Kind::Dockerfile,
    Unset(""),
    "the value of the `org.opencontainers.image.vendor` label",
)
.place(Place::Dockerfile);
pub const IMAGE_AUTHORS: Arg = Arg::new(
    "IMAGE_AUTHORS",
    Kind::Dockerfile,
    Unset(""),
    "the value of the `org.opencontainers.image.authors` label",
)
.place(Place::Dockerfile);
pub const IMAGE_URL: Arg = Arg::new(
    "IMAGE_URL",
    Kind::Dockerfile,
    Unset(""),
    "the value of the `org.opencontainers.image.url` label",
)
.place(Place::Dockerfile);
pub const IMAGE_DOCUMENTATION: Arg = Arg::new(
    "IMAGE_DOCUMENTATION",
    Kind::Dockerfile,
    Unset(""),
    "the value of the `org.opencontainers.image.documentation` label",
)
.place(Place::Dockerfile);
pub const LOCI_REVISION: Arg = Arg::new(
    "LOCI_REVISION",
    Kind::Dockerfile,
    Unset(""),
    "loci's commit: the `org.openstack.loci.revision` label and the loci commit of the provenance `loci sign` attaches (tools/build-keystone.sh passes `git rev-parse HEAD`)",
)
.place(Place::Dockerfile);
pub const SOURCE_DATE_EPOCH: Arg = Arg::new(
    "SOURCE_DATE_EPOCH",
    Kind::Epoch,
    Unset(""),
    "seconds since 1970: the time of every file the build writes and of the SBOM; image_info.json then records no durations (see \"Reproducible images\")",
)
.inputs(Inputs::WhenSet);
pub const LOCI_VERSION: Arg = Arg::new(
    "LOCI_VERSION",
    Kind::Text,
    Derived("this release's"),
    "the `org.openstack.loci.version` label (and, for this release, the old `loci.version`); the build stops if the loci binary (LOCI_IMAGE) is another version",
)
.inputs(Inputs::Always);
pub const LOCI_IMAGE: Arg = Arg::new(
    "LOCI_IMAGE",
    Kind::Dockerfile,
    Value("loci-builder"),
    "image holding the static binary at `/loci` (default: compile it)",
)
.place(Place::Dockerfile);
pub const RUST_IMAGE: Arg = Arg::new(
    "RUST_IMAGE",
    Kind::Dockerfile,
    Value("rust:1-bookworm"),
    "the Rust image of the `loci-compile` stage",
)
.place(Place::Dockerfile);
pub const LOCI_CARGO_PROFILE: Arg = Arg::new(
    "LOCI_CARGO_PROFILE",
    Kind::Dockerfile,
    Value("release"),
    "Cargo.toml's profile of the `loci-compile` stage: `release`, or `quick` (compiled fast, unoptimised: for tests)",
)
.place(Place::Dockerfile);
pub const DOCKER_CONFIG: Arg = Arg::new(
    "DOCKER_CONFIG",
    Kind::Path,
    Unset(""),
    "where docker's `config.json` is, for registry credentials without REGISTRY_AUTH_FILE",
)
.place(Place::Environment);
pub const HOME: Arg = Arg::new(
    "HOME",
    Kind::Path,
    Unset(""),
    "`$HOME/.docker/config.json`: registry credentials without REGISTRY_AUTH_FILE or DOCKER_CONFIG",
)
.place(Place::Environment);

pub const LOCI_ALLOW_HOST: Arg = Arg::new(
    "LOCI_ALLOW_HOST",
    Kind::Bool,
    Value("no"),
    "let `loci build`, `packages`, `pip-install` and `cleanup` change a system they are not the command of a container build on (dangerous: README, Safety); `--allow-host` says the same",
)
.loci()
.place(Place::Environment);

/// The proxy variables: passed on to child processes as found, never written into the image.
pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// Every argument, in the order of the README's table and of inputs.env.
pub const ARGS: &[Arg] = &[
    FROM,
    WHEELS,
    WHEELS_PATH,
    WHEELS_DEST,
    PROJECT,
    PROJECT_REPO,
    PROJECT_REF,
    SOURCES_DIR,
    PROJECT_RELEASE,
    PROJECT_PIP_EXTRAS,
    EXTRA_PROJECTS,
    REGISTRY_PROTOCOL,
    REGISTRY_INSECURE,
    REGISTRY_AUTH_FILE,
    DISTRO,
    PROFILES,
    APT_MIRROR,
    PIP_PACKAGES,
    PIP_ARGS,
    DIST_PACKAGES,
    PIP_WHEEL_ARGS,
    PLUGIN,
    KEEP_ALL_WHEELS,
    INSTALLER,
    UID,
    GID,
    PIP_VERSION_CONSTRAINT,
    SETUPTOOL_CONSTRAINT,
    WHEEL_CONSTRAINT,
    VENV_TOOLS,
    UPPER_CONSTRAINTS,
    EXTRA_BINDEP,
    EXTRA_PYDEP,
    REQUIREMENTS_JOBS,
    PACKAGE_CACHE,
    LOCI_CACHE_DIR,
    REQUIREMENTS_ONLY,
    REQUIREMENTS_PREFETCH,
    REQUIREMENTS_ONLY_FILE,
    COPY_DEFAULT_CONFIG_FILES,
    NOVNC_REPO,
    NOVNC_REF,
    SPICE_REPO,
    SPICE_REF,
    NOVA_TSS_USER,
    NOVA_TSS_UID,
    NOVA_TSS_GID,
    SKYLINE_CONSOLE_REPO,
    SKYLINE_CONSOLE_REF,
    HORIZON_EXTRA_PANELS,
    MOD_OAUTH2_URL,
    LIBOAUTH2_URL,
    SSL_CERT_FILE,
    SSL_CERT_DIR,
    LOCI_HTTP_CONNECT_TIMEOUT,
    LOCI_HTTP_READ_TIMEOUT,
    IMAGE_CREATED,
    IMAGE_REVISION,
    IMAGE_VERSION,
    IMAGE_LICENSES,
    IMAGE_DESCRIPTION,
    IMAGE_VENDOR,
    IMAGE_AUTHORS,
    IMAGE_URL,
    IMAGE_DOCUMENTATION,
    SOURCE_DATE_EPOCH,
    LOCI_VERSION,
    LOCI_REVISION,
    LOCI_IMAGE,
    RUST_IMAGE,
    LOCI_CARGO_PROFILE,
    DOCKER_CONFIG,
    HOME,
    LOCI_ALLOW_HOST,
];

/// The argument named `name` (or with `name` as an older name).
pub fn find(name: &str) -> Option<&'static Arg> {
    ARGS.iter()
        .find(|a| a.name == name || a.aliases.contains(&name))
}

/// The README's table of build arguments: every argument but the environment's, one row each.
pub fn markdown() -> String {
    let mut out = String::from(
        "| argument | default | meaning | LOCI's | in inputs.env |\n|---|---|---|---|---|\n",
    );
    for a in ARGS.iter().filter(|a| a.place != Place::Environment) {
        let default = match a.default {
            Value(v) => format!("`{v}`"),
            Unset("") => "(none)".to_string(),
            Unset(text) | Derived(text) => text.to_string(),
            Required => "(required)".to_string(),
        };
        let mut name = format!("`{}`", a.name);
        for alias in a.aliases {
            name.push_str(&format!(" (`{alias}`)"));
        }
        let place = match a.place {
            Place::Dockerfile => " (read by the Dockerfile only)",
            _ => "",
        };
        out.push_str(&format!(
            "| {name} | {} | {}{place} | {} | {} |\n",
            default.replace('|', "\\|"),
            a.doc.replace('|', "\\|"),
            if a.loci { "yes" } else { "loci's" },
            match a.inputs {
                Inputs::No => "",
                Inputs::Always => "yes",
                Inputs::WhenSet => "when set",
            }
        ));
    }
    out
}
