//! The in-process parts of the project-specific steps, as data: [`Hook`]. What each one shows
//! and does lives in `steps::project_specific` and the project's module there.

use std::path::PathBuf;

use serde::Serialize;

use super::user::User;

/// An in-process part of a project-specific step, with the data it works on: the hooks of
/// each project, one enum each. Which code runs is decided by the variant, in the project's
/// module of `steps::project_specific`; its text (`Display`, there too) is only for the plan
/// and the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Hook {
    Nova(NovaHook),
    Horizon(HorizonHook),
    Keystone(KeystoneHook),
    Skyline(SkylineHook),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "hook")]
pub enum NovaHook {
    /// Drop the consoles' remaining git files and give noVNC >= 1.0 its old entry page.
    #[serde(rename = "nova_consoles")]
    Consoles { novnc: PathBuf, spice: PathBuf },
    /// Create the tss group and user swtpm runs as.
    #[serde(rename = "nova_tss_user")]
    TssUser { user: User },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "hook")]
pub enum HorizonHook {
    /// manage.py, the panels of these plugins and their policies, local_settings.py.
    #[serde(rename = "horizon_configure")]
    Configure { panels: Vec<String> },
    /// Compile the messages when gettext's msgfmt is installed.
    #[serde(rename = "horizon_compile_messages")]
    CompileMessages,
    /// The version-independent link, no secrets or locks, local/ to the user.
    #[serde(rename = "horizon_finish")]
    Finish { uid: u32, gid: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "hook")]
pub enum KeystoneHook {
    /// Download the mod_oauth2 .debs.
    #[serde(rename = "keystone_download")]
    Download { debs: Vec<Deb> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "hook")]
pub enum SkylineHook {
    /// Check that the installed console has its static files.
    #[serde(rename = "skyline_check_console")]
    CheckConsole,
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
            Hook::Nova(_) => "nova",
            Hook::Horizon(_) => "horizon",
            Hook::Keystone(_) => "keystone",
            Hook::Skyline(_) => "skyline-apiserver",
        }
    }
}

macro_rules! from_project_hook {
    ($($ty:ident => $variant:ident),* $(,)?) => {
        $(impl From<$ty> for Hook {
            fn from(h: $ty) -> Self {
                Hook::$variant(h)
            }
        })*
    };
}

from_project_hook!(
    NovaHook => Nova,
    HorizonHook => Horizon,
    KeystoneHook => Keystone,
    SkylineHook => Skyline,
);
