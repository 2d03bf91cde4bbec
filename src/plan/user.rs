//! A user account a step creates (the service's, nova's tss user).

use std::path::PathBuf;

use serde::Serialize;

/// A user account to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: String,
    pub comment: String,
    /// Directories created and owned by the user.
    pub dirs: Vec<PathBuf>,
}
