//! Native bindep: parser and evaluator for bindep.txt / pydep.txt (placeholder, being written).

pub mod cli;

use crate::error::{Error, Result};
use crate::os_release::OsRelease;

/// The platform a bindep file is evaluated for.
#[derive(Debug, Clone)]
pub struct Platform {
    pub os: OsRelease,
}

impl Platform {
    pub fn from_os_release(os: &OsRelease) -> Self {
        Platform { os: os.clone() }
    }
}

/// A parsed bindep file.
#[derive(Debug, Clone)]
pub struct BindepFile {
    pub name: String,
}

impl BindepFile {
    pub fn parse(name: &str, _text: &str) -> Result<Self> {
        Err(Error::new(format!("{name}: bindep parser not implemented yet")))
    }

    pub fn packages(&self, _platform: &Platform, _profiles: &[String]) -> Vec<String> {
        Vec::new()
    }
}
