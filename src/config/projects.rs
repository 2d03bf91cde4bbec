//! The settings of the projects with work of their own: nova's consoles and tss user,
//! horizon's panels, keystone's mod_oauth2, skyline's console.

use serde::Serialize;

use super::args;
use super::values::{shown, Resolver};
use crate::error::{Error, Result};

/// nova's web consoles and tss user (LOCI's NOVNC_*, SPICE_*, NOVA_TSS_*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NovaConfig {
    pub novnc_repo: String,
    pub novnc_ref: String,
    pub spice_repo: String,
    pub spice_ref: String,
    pub tss_user: String,
    pub tss_uid: u32,
    pub tss_gid: u32,
}

/// horizon's panels (HORIZON_EXTRA_PANELS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HorizonConfig {
    pub extra_panels: Vec<String>,
}

/// keystone's mod_oauth2 profile (MOD_OAUTH2_URL, LIBOAUTH2_URL; `{codename}` and `{arch}` are
/// substituted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeystoneConfig {
    pub mod_oauth2_url: String,
    pub liboauth2_url: String,
}

/// skyline-apiserver's web console (LOCI's SKYLINE_CONSOLE_REPO and SKYLINE_CONSOLE_REF).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkylineConfig {
    pub console_repo: String,
    pub console_ref: String,
    /// Where the console comes from, decided from the two.
    pub console: ConsoleSource,
}

/// Where skyline-console comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConsoleSource {
    /// A git repository at a branch, tag or commit (LOCI's way): cloned into the data dir
    /// (a tree already there is used as it is) and pip-installed from there.
    Git { repo: String, reference: String },
    /// SKYLINE_CONSOLE_REPO=pypi: the release on the index (or in the wheels), whose wheel
    /// carries the built static files. `requirement` is `skyline-console` with the version of
    /// SKYLINE_CONSOLE_REF (none for `master`).
    Index { requirement: String },
}

/// The value of SKYLINE_CONSOLE_REPO that takes the console from the package index.
pub const CONSOLE_FROM_INDEX: &str = "pypi";

/// LOCI's default list of horizon plugins whose panels get enabled (their Python package names,
/// as in LOCI's `project_specific/horizon/01_configure_horizon.sh`); plugins not installed are
/// skipped.
pub const DEFAULT_HORIZON_PANELS: &[&str] = &[
    "heat_dashboard",
    "octavia_dashboard",
    "designatedashboard",
    "tf_dashboard",
    "bgpvpn_dashboard",
    "masakaridashboard",
    "manila_ui",
    "neutron_vpnaas_dashboard",
    "watcher_dashboard",
];

/// keystone's default MOD_OAUTH2_URL and LIBOAUTH2_URL: OpenIDC's release .debs (amd64 only:
/// another architecture takes the distro's package with these defaults).
pub const DEFAULT_MOD_OAUTH2_URL: &str = "https://github.com/OpenIDC/mod_oauth2/releases/download/v3.4.0/libapache2-mod-oauth2_3.4.0-1.{codename}_amd64.deb";
pub const DEFAULT_LIBOAUTH2_URL: &str =
    "https://github.com/OpenIDC/liboauth2/releases/download/v1.6.3/liboauth2_1.6.3-1.{codename}_amd64.deb";

/// NOVNC_*, SPICE_*, NOVA_TSS_*.
pub(crate) fn nova(r: &mut Resolver) -> Result<NovaConfig> {
    Ok(NovaConfig {
        novnc_repo: r.text(&args::NOVNC_REPO).unwrap_or_default(),
        novnc_ref: r.text(&args::NOVNC_REF).unwrap_or_default(),
        spice_repo: r.text(&args::SPICE_REPO).unwrap_or_default(),
        spice_ref: r.text(&args::SPICE_REF).unwrap_or_default(),
        tss_user: r.text(&args::NOVA_TSS_USER).unwrap_or_default(),
        tss_uid: r.id(&args::NOVA_TSS_UID)?,
        tss_gid: r.id(&args::NOVA_TSS_GID)?,
    })
}

/// HORIZON_EXTRA_PANELS (set but empty: none).
pub(crate) fn horizon(r: &mut Resolver) -> HorizonConfig {
    HorizonConfig {
        extra_panels: r.words_or(&args::HORIZON_EXTRA_PANELS, || {
            DEFAULT_HORIZON_PANELS
                .iter()
                .map(|s| s.to_string())
                .collect()
        }),
    }
}

/// MOD_OAUTH2_URL, LIBOAUTH2_URL.
pub(crate) fn keystone(r: &mut Resolver) -> KeystoneConfig {
    KeystoneConfig {
        mod_oauth2_url: r.text_or(&args::MOD_OAUTH2_URL, || DEFAULT_MOD_OAUTH2_URL.into()),
        liboauth2_url: r.text_or(&args::LIBOAUTH2_URL, || DEFAULT_LIBOAUTH2_URL.into()),
    }
}

/// SKYLINE_CONSOLE_REPO and SKYLINE_CONSOLE_REF, and where the console comes from: a git
/// repository, or with SKYLINE_CONSOLE_REPO=pypi the index, SKYLINE_CONSOLE_REF then naming
/// a version (`8.0.0`, `==8.*`, `>=8,<9`; `master` for the newest the constraints allow).
pub(crate) fn skyline(r: &mut Resolver) -> Result<SkylineConfig> {
    let console_repo = r.text(&args::SKYLINE_CONSOLE_REPO).unwrap_or_default();
    let console_ref = r.text(&args::SKYLINE_CONSOLE_REF).unwrap_or_default();
    let console = if console_repo.eq_ignore_ascii_case(CONSOLE_FROM_INDEX) {
        ConsoleSource::Index {
            requirement: console_requirement(&console_ref)?,
        }
    } else {
        ConsoleSource::Git {
            repo: console_repo.clone(),
            reference: console_ref.clone(),
        }
    };
    Ok(SkylineConfig {
        console_repo,
        console_ref,
        console,
    })
}

/// The pip requirement of skyline-console for SKYLINE_CONSOLE_REF with SKYLINE_CONSOLE_REPO=pypi.
pub(crate) fn console_requirement(reference: &str) -> Result<String> {
    const NAME: &str = "skyline-console";
    if reference == "master" {
        return Ok(NAME.into());
    }
    let spec_chars = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".*+!,<>=~ ".contains(c))
    };
    if reference.starts_with(|c: char| c.is_ascii_digit()) && spec_chars(reference) {
        return Ok(format!("{NAME}=={reference}"));
    }
    if reference.starts_with(['=', '<', '>', '~', '!']) && spec_chars(reference) {
        return Ok(format!("{NAME}{}", reference.replace(' ', "")));
    }
    Err(Error::new(format!(
        "SKYLINE_CONSOLE_REF={} is not a version of skyline-console",
        shown(reference)
    ))
    .hint("with SKYLINE_CONSOLE_REPO=pypi, SKYLINE_CONSOLE_REF names a release on the index: a version (8.0.0), a specifier (==8.*, >=8,<9) or master for the newest one; branches and commits need SKYLINE_CONSOLE_REPO set to a git repository"))
}
