//! OCI distribution client for WHEELS given as an image reference (placeholder, being written).

use std::path::Path;

use crate::config::{RegistryConfig, TlsConfig};
use crate::error::{Error, Result};

/// Pulls the last layer of `reference` and extracts it into `dest`.
pub fn fetch_wheels(reference: &str, dest: &Path, registry: &RegistryConfig, tls: &TlsConfig) -> Result<()> {
    let _ = (dest, registry, tls);
    Err(Error::new(format!("pulling {reference} is not implemented yet")))
}
