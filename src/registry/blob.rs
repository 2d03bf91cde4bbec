//! One pass per blob: download -> sha256 -> decompress -> extract, in bounded memory.
//!
//! The digest is only known at the end of the stream, so the layer is extracted into a staging
//! directory next to the destination and moved into place only after the digest and size
//! matched. A broken connection is re-opened with a Range request underneath the hasher and
//! decompressor ([`crate::http::Download`]), so neither notices.

use std::io::{self, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::manifest::{layer_compression, Descriptor};
use super::Session;
use crate::error::{Error, Result};
use crate::extract::{self, Staging};
use crate::http::{Download, Reauthorize};

const BUFFER: usize = 256 * 1024;

/// Hashes and counts everything read through it.
pub struct Verified<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Verified<R> {
    pub fn new(inner: R) -> Self {
        Verified {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `sha256:<hex>` of what was read.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.clone().finalize()))
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

fn check_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Starts the download of the blob `digest` of the session's repository (re-authenticating
/// when a token expires); `size` is enforced when given.
fn open<'a>(
    session: &'a mut Session,
    client: &'a reqwest::blocking::Client,
    digest: &str,
    size: Option<u64>,
    what: &str,
) -> Result<Download<'a>> {
    let url = session.url(&format!(
        "v2/{}/blobs/{digest}",
        session.reference.repository
    ))?;
    let authorization = session.authorization();
    let reauthorize: Reauthorize = Box::new(move || session.reauthenticate());
    Download::open(client, url, what, authorization, Some(reauthorize), size)
}

/// Downloads `layer` and extracts it into `dest`, verified.
pub fn fetch(session: &mut Session, layer: &Descriptor, dest: &Path) -> Result<()> {
    let what = format!("WHEELS={}: layer {}", session.reference, layer.digest);
    if !check_digest(&layer.digest) {
        return Err(Error::new(format!("{what}: unsupported digest"))
            .hint("loci verifies sha256 digests only; push the wheels image with a current docker or buildah"));
    }
    let staging = Staging::new(dest)?;
    let client = session.blob_client();
    let download = open(session, &client, &layer.digest, layer.size, &what)?;
    let mut verified = Verified::new(download);

    let extracted = {
        let stream = BufReader::with_capacity(BUFFER, &mut verified);
        match layer_compression(&layer.media_type) {
            Some(c) => extract::unpack_compressed(stream, c, staging.path(), &what),
            None => extract::unpack(stream, staging.path(), &what),
        }
    };
    // A transfer that failed for good explains any extraction error.
    if let Some(e) = verified.inner.failure.take() {
        return Err(e);
    }
    // Read what the extractor left (all of it when extraction stopped early): the digest
    // covers the whole blob, and a corrupt blob is reported as such rather than as a broken
    // archive.
    let drained = io::copy(&mut verified, &mut io::sink());
    if let Some(e) = verified.inner.failure.take() {
        return Err(e);
    }
    drained.map_err(|e| {
        Error::new(format!("{what}: cannot read the rest of the blob")).caused_by(e)
    })?;
    let got = verified.digest();
    if got != layer.digest {
        return Err(Error::new(format!("{what}: the downloaded blob does not match its digest"))
            .cause(format!("expected {}, got {got} ({} bytes)", layer.digest, verified.count()))
            .hint("the registry's storage is corrupt or something between alters the data; nothing was extracted. Push the wheels image again"));
    }
    if let Some(size) = layer.size {
        if verified.count() != size {
            return Err(Error::new(format!(
                "{what}: got {} bytes, the manifest says {size}",
                verified.count()
            ))
            .hint("the registry served a blob of another size; push the wheels image again"));
        }
    }
    extracted?;
    staging.check_wheels(&what)?;
    staging.commit()
}

/// A small blob (an image config, an attestation) of the session's repository, read whole and
/// verified against `digest`; at most `max` bytes.
pub fn bytes(session: &mut Session, digest: &str, max: u64) -> Result<Vec<u8>> {
    let what = format!("{}: blob {digest}", session.label());
    if !check_digest(digest) {
        return Err(Error::new(format!("{what}: unsupported digest"))
            .hint("loci verifies sha256 digests only"));
    }
    let client = session.blob_client();
    let download = open(session, &client, digest, None, &what)?;
    let mut verified = Verified::new(download.take(max + 1));
    let mut body = Vec::new();
    verified
        .read_to_end(&mut body)
        .map_err(|e| Error::new(format!("{what}: cannot read the blob")).caused_by(e))?;
    if body.len() as u64 > max {
        return Err(Error::new(format!(
            "{what}: the blob is larger than {max} bytes"
        )));
    }
    let got = verified.digest();
    if got != digest {
        return Err(
            Error::new(format!("{what}: the blob does not match its digest"))
                .cause(format!("got {got}"))
                .hint("the registry's storage is corrupt or something between alters the data"),
        );
    }
    Ok(body)
}

/// What one layer holds of some files: their contents, and those it deletes (a whiteout, or an
/// opaque directory above them) so that lower layers must not be asked.
#[derive(Debug, Default)]
pub struct LayerFiles {
    pub found: std::collections::BTreeMap<String, Vec<u8>>,
    pub deleted: Vec<String>,
}

/// Reads `layer` whole (its digest and size verified) and keeps the regular files of `wanted`
/// (paths relative to the image root, e.g. `etc/image_info/sbom.cdx.json`), at most `max`
/// bytes each.
pub fn read_files(
    session: &mut Session,
    layer: &Descriptor,
    wanted: &[&str],
    max: u64,
) -> Result<LayerFiles> {
    let what = format!("{}: layer {}", session.label(), layer.digest);
    if !check_digest(&layer.digest) {
        return Err(Error::new(format!("{what}: unsupported digest"))
            .hint("loci verifies sha256 digests only"));
    }
    let compression = layer_compression(&layer.media_type).ok_or_else(|| {
        Error::new(format!("{what}: unknown layer type {:?}", layer.media_type))
            .hint("loci reads tar layers, plain, gzip or zstd")
    })?;
    let client = session.blob_client();
    let download = open(session, &client, &layer.digest, layer.size, &what)?;
    let mut verified = Verified::new(download);
    let mut files = LayerFiles::default();
    let read = (|| -> Result<()> {
        let stream = BufReader::with_capacity(BUFFER, &mut verified);
        let decoded = extract::decoder(compression, stream)
            .map_err(|e| Error::new(format!("{what}: cannot decompress")).caused_by(e))?;
        let mut archive = tar::Archive::new(decoded);
        let entries = archive
            .entries()
            .map_err(|e| Error::new(format!("{what}: not a tar archive")).caused_by(e))?;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| Error::new(format!("{what}: broken tar entry")).caused_by(e))?;
            let path = entry
                .path()
                .map_err(|e| Error::new(format!("{what}: bad path in the layer")).caused_by(e))?
                .to_string_lossy()
                .trim_start_matches("./")
                .trim_start_matches('/')
                .to_string();
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            if name == ".wh..wh..opq" {
                // An opaque directory: nothing below it in lower layers is visible.
                let prefix = format!("{dir}/");
                files.deleted.extend(
                    wanted
                        .iter()
                        .filter(|w| w.starts_with(&prefix))
                        .map(|w| w.to_string()),
                );
            } else if let Some(gone) = name.strip_prefix(".wh.") {
                let gone = if dir.is_empty() {
                    gone.to_string()
                } else {
                    format!("{dir}/{gone}")
                };
                let prefix = format!("{gone}/");
                files.deleted.extend(
                    wanted
                        .iter()
                        .filter(|w| **w == gone || w.starts_with(&prefix))
                        .map(|w| w.to_string()),
                );
            } else if wanted.contains(&path.as_str()) && entry.header().entry_type().is_file() {
                let mut data = Vec::new();
                (&mut entry)
                    .take(max + 1)
                    .read_to_end(&mut data)
                    .map_err(|e| Error::new(format!("{what}: cannot read {path}")).caused_by(e))?;
                if data.len() as u64 > max {
                    return Err(Error::new(format!(
                        "{what}: {path} is larger than {max} bytes"
                    )));
                }
                files.found.insert(path, data);
            }
        }
        Ok(())
    })();
    if let Some(e) = verified.inner.failure.take() {
        return Err(e);
    }
    read?;
    io::copy(&mut verified, &mut io::sink()).map_err(|e| {
        Error::new(format!("{what}: cannot read the rest of the blob")).caused_by(e)
    })?;
    if let Some(e) = verified.inner.failure.take() {
        return Err(e);
    }
    let got = verified.digest();
    if got != layer.digest || layer.size.is_some_and(|s| s != verified.count()) {
        return Err(Error::new(format!(
            "{what}: the downloaded blob does not match its digest"
        ))
        .cause(format!("got {got} ({} bytes)", verified.count()))
        .hint("the registry's storage is corrupt or something between alters the data"));
    }
    Ok(files)
}
