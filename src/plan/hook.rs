//! The in-process parts of the project-specific steps, as data: [`Hook`]. What each one shows
//! and does lives in `steps::project_specific` and the project's module there.

use std::path::PathBuf;

use serde::Serialize;

use super::user::User;

/// An in-process part of a project-specific step, with the data it works on. Which code runs
/// is decided by the variant; the text (`Display`, in `steps::project_specific`) is only for
/// the plan and the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "hook", rename_all = "snake_case")]
pub enum Hook {
    /// nova: drop the consoles' remaining git files and give noVNC >= 1.0 its old entry page.
    NovaConsoles { novnc: PathBuf, spice: PathBuf },
    /// nova: create the tss group and user swtpm runs as.
    NovaTssUser { user: User },
    /// horizon: manage.py, the panels of these plugins and their policies, local_settings.py.
    HorizonConfigure { panels: Vec<String> },
    /// horizon: compile the messages when gettext's msgfmt is installed.
    HorizonCompileMessages,
    /// horizon: the version-independent link, no secrets or locks, local/ to the user.
    HorizonFinish { uid: u32, gid: u32 },
    /// keystone: download the mod_oauth2 .debs.
    KeystoneDownload { debs: Vec<Deb> },
    /// skyline-apiserver: check that the installed console has its static files.
    SkylineCheckConsole,
}

/// One .deb keystone's hook fetches: the variable that configures it, its URL, and where it
/// is saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deb {
    pub var: &'static str,
    pub url: String,
    pub path: PathBuf,
}

impl Hook {
    /// The project the hook belongs to.
    pub fn project(&self) -> &'static str {
        match self {
            Hook::NovaConsoles { .. } | Hook::NovaTssUser { .. } => "nova",
            Hook::HorizonConfigure { .. }
            | Hook::HorizonCompileMessages
            | Hook::HorizonFinish { .. } => "horizon",
            Hook::KeystoneDownload { .. } => "keystone",
            Hook::SkylineCheckConsole => "skyline-apiserver",
        }
    }
}
