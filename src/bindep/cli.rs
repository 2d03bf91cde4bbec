//! `loci bindep`: a drop-in for the bindep command-line flags LOCI uses (placeholder).

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Flags of `loci bindep`, as bindep spells them.
#[derive(Debug, Clone, clap::Args)]
pub struct BindepArgs {
    /// Package list file (default: bindep.txt or other-requirements.txt); may repeat.
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// List only missing packages, one per line.
    #[arg(short = 'b', long = "brief")]
    pub brief: bool,
    /// List all dependencies for the platform, in the given format.
    #[arg(short = 'l', long = "list_all", value_parser = ["newline", "csv"])]
    pub list_all: Option<String>,
    /// List the platform and configuration profiles.
    #[arg(long = "profiles")]
    pub profiles: bool,
    /// Evaluate for the distro in this os-release file instead of /etc/os-release.
    #[arg(long = "os-release", value_name = "FILE")]
    pub os_release: Option<PathBuf>,
    /// Profiles to evaluate (default: `default`).
    pub profile: Vec<String>,
}

/// Runs `loci bindep`; returns the process exit code.
pub fn run(_args: &BindepArgs) -> Result<i32> {
    Err(Error::new("loci bindep is not implemented yet"))
}
