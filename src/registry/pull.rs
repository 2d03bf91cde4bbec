//! WHEELS as an image reference: its last layer, pulled and extracted. The entry point of the
//! registry client, above the [`Session`] (its own module's) and [`super::blob`], so that the
//! session's module does not import the blob's, which imports it.

use std::path::Path;

use super::{auth, blob, Reference, RegistryConfig, Session};
use crate::error::Result;
use crate::http::TlsConfig;

/// Pulls the last layer of `reference` and extracts it into `dest`.
pub fn fetch_wheels(
    reference: &str,
    dest: &Path,
    registry: &RegistryConfig,
    tls: &TlsConfig,
) -> Result<()> {
    let reference = Reference::parse(reference)?;
    let creds = match &registry.auth_file {
        Some(file) => auth::load(file, &reference.registry)?,
        None => None,
    };
    let mut session = Session::connect(reference, registry, tls, creds)?;
    let layer = session.wheels_layer()?;
    blob::fetch(&mut session, &layer, dest)
}
