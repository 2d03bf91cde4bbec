//! Safe, streaming extraction of tar archives (placeholder, being written).

use std::path::Path;

use crate::config::TlsConfig;
use crate::error::{Error, Result};

/// Extracts a local .tar / .tar.gz / .tgz into `dest`.
pub fn from_file(path: &Path, dest: &Path) -> Result<()> {
    let _ = dest;
    Err(Error::new(format!("extracting {} is not implemented yet", path.display())))
}

/// Downloads an http(s) tarball and extracts it into `dest` as it streams.
pub fn from_url(url: &str, dest: &Path, tls: &TlsConfig) -> Result<()> {
    let _ = (dest, tls);
    Err(Error::new(format!("downloading {url} is not implemented yet")))
}
