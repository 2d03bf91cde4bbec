//! Safe, streaming extraction of tar archives (plain, gzip or zstd, told apart by their magic
//! bytes, never by the file name).
//!
//! Everything is extracted into a staging directory next to the destination ([`Staging`]) and
//! moved into place only when the whole archive was read without error, so a failed or refused
//! archive leaves nothing behind. Members are refused when they would land outside the
//! destination (absolute paths, `..`, links pointing out) or are devices/fifos; dot-files (any
//! path component starting with `.`) are skipped, as LOCI does.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::http::TlsConfig;

/// Compression of an archive stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The file every wheels archive holds at its root.
pub const CONSTRAINTS: &str = "upper-constraints.txt";

const HINT_FORMAT: &str =
    "WHEELS archives must be tar files, optionally gzip- or zstd-compressed (e.g. `tar -C wheels -czf wheels.tar.gz .`)";

/// How many bytes may follow the end of a tar archive (its end-of-archive blocks and the
/// padding to the record size are a few KiB; compressors add nothing the tar reader sees).
pub const TRAILING_MAX: u64 = 10 * 1024 * 1024;
/// How many of those may be something else than zeros.
pub const TRAILING_NONZERO_MAX: u64 = 1024 * 1024;
/// How many leading bytes of a file that is no archive are shown.
const PREVIEW_CHARS: usize = 60;

/// Recognises the compression from the first bytes of a stream (up to 512).
pub fn sniff(head: &[u8]) -> std::result::Result<Compression, String> {
    match head {
        [0x1f, 0x8b, ..] => Ok(Compression::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Ok(Compression::Zstd),
        [b'B', b'Z', b'h', ..] => Err("bzip2-compressed data is not supported".into()),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => {
            Err("xz-compressed data is not supported".into())
        }
        [b'P', b'K', 0x03, 0x04, ..] => Err("this is a zip file, not a tar archive".into()),
        _ => tar_head(head)
            .map(|()| Compression::None)
            .map_err(|why| format!("it is not a gzip, zstd or tar archive: {why}")),
    }
}

/// Whether `block` (512 bytes) is a tar header: its checksum field matches its bytes.
fn is_tar_header(block: &[u8]) -> bool {
    let field = &block[148..156];
    let digits: String = field
        .iter()
        .map(|b| *b as char)
        .take_while(|c| *c != '\0')
        .collect();
    let Ok(want) = u32::from_str_radix(digits.trim(), 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    sum == want
}

/// The first bytes of `head` as text, for a message: control characters shown as `\n` etc.,
/// cut to [`PREVIEW_CHARS`] characters (an HTML error page saved as .tar.gz shows as such).
pub fn preview(head: &[u8]) -> String {
    let text = String::from_utf8_lossy(&head[..head.len().min(4 * PREVIEW_CHARS)]);
    let shown: String = text.chars().flat_map(char::escape_debug).collect();
    format!("\"{}\"", crate::error::cut(&shown, PREVIEW_CHARS))
}

/// Wraps `reader` in the decoder for `compression`.
pub fn decoder<'a, R: BufRead + 'a>(
    compression: Compression,
    reader: R,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    })
}

/// Extracts a possibly compressed tar stream into the existing directory `dest`; `what` names
/// the archive in errors. The stream is read to its end (so checksums are verified).
pub fn unpack<R: Read>(mut reader: R, dest: &Path, what: &str) -> Result<()> {
    let mut head = Vec::with_capacity(512);
    (&mut reader)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| Error::new(format!("{what}: cannot read")).caused_by(e))?;
    let compression = sniff(&head).map_err(|e| {
        Error::new(format!("{what}: not a wheels archive"))
            .cause(e)
            .hint(format!("{HINT_FORMAT}; an HTML page here is the error page of a server or a wrong URL saved in place of the archive"))
    })?;
    let stream = BufReader::with_capacity(BUFFER, io::Cursor::new(head).chain(reader));
    unpack_compressed(stream, compression, dest, what)
}

const BUFFER: usize = 256 * 1024;

/// Extracts a tar stream compressed with `compression` into the existing directory `dest`.
pub fn unpack_compressed<R: BufRead>(
    reader: R,
    compression: Compression,
    dest: &Path,
    what: &str,
) -> Result<()> {
    let mut decoded = decoder(compression, reader)
        .map_err(|e| Error::new(format!("{what}: cannot start decompressing")).caused_by(e))?;
    if compression == Compression::None {
        return unpack_tar(decoded, dest, what);
    }
    // What was compressed must be a tar archive too (not a gzipped HTML page or zip file).
    let mut head = Vec::with_capacity(512);
    (&mut decoded)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| {
            Error::new(format!("{what}: cannot decompress"))
                .caused_by(e)
                .hint("the archive is truncated or corrupt; fetch or build it again")
        })?;
    let name = match compression {
        Compression::Gzip => "gzip",
        _ => "zstd",
    };
    if let Err(why) = tar_head(&head) {
        return Err(Error::new(format!("{what}: not a wheels archive"))
            .cause(format!(
                "the {name}-compressed data is not a tar archive: {why}"
            ))
            .hint(HINT_FORMAT));
    }
    unpack_tar(io::Cursor::new(head).chain(decoded), dest, what)
}

/// Whether `head` (the first 512 bytes of a stream, or all of a shorter one) can start a tar
/// archive: a header with the `ustar` magic, an old v7 header (no magic, but a valid
/// checksum), an all-zero block (the end of an empty archive) or nothing at all. Else why not.
fn tar_head(head: &[u8]) -> std::result::Result<(), String> {
    if head.is_empty()
        || (head.len() >= 262 && &head[257..262] == b"ustar")
        || (head.len() >= 512
            && (is_tar_header(&head[..512]) || head[..512].iter().all(|b| *b == 0)))
    {
        return Ok(());
    }
    if head.len() < 512 {
        return Err(format!(
            "too short to be one ({} bytes), it starts with {}",
            head.len(),
            preview(head)
        ));
    }
    Err(format!("it starts with {}", preview(head)))
}

/// Why a member is refused.
fn refusal(path: &Path, kind: tar::EntryType, link: Option<&Path>) -> Option<String> {
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
    {
        return Some("it has an absolute path".into());
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Some("its path contains `..`".into());
    }
    if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
        return Some("device files and fifos are not extracted".into());
    }
    if let Some(target) = link {
        if kind.is_symlink() {
            if target.is_absolute() {
                return Some(format!(
                    "it is a symlink to the absolute path {}",
                    target.display()
                ));
            }
            // Resolve lexically from the link's own directory.
            let mut depth: i64 = path
                .components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .count() as i64
                - 1;
            for c in target.components() {
                match c {
                    Component::ParentDir => depth -= 1,
                    Component::Normal(_) => depth += 1,
                    _ => {}
                }
                if depth < 0 {
                    return Some(format!(
                        "it is a symlink pointing outside the destination ({})",
                        target.display()
                    ));
                }
            }
        } else if kind.is_hard_link()
            && (target.is_absolute() || target.components().any(|c| c == Component::ParentDir))
        {
            return Some(format!(
                "it is a hard link to {} outside the destination",
                target.display()
            ));
        }
    }
    None
}

/// Whether any path component is a dot-file (LOCI excludes them).
fn is_hidden(path: &Path) -> bool {
    path.components()
        .any(|c| matches!(c, Component::Normal(n) if n.to_string_lossy().starts_with('.')))
}

/// Extracts an uncompressed tar stream into the existing directory `dest`, then reads the
/// stream to its end.
pub fn unpack_tar<R: Read>(reader: R, dest: &Path, what: &str) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    archive.set_preserve_ownerships(false);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    let entries = archive.entries().map_err(|e| {
        Error::new(format!("{what}: cannot read the archive"))
            .caused_by(e)
            .hint(HINT_FORMAT)
    })?;
    let mut last = String::from("(the first member)");
    let mut extracted = 0usize;
    for entry in entries {
        crate::interrupt::check()?;
        let mut entry = entry.map_err(|e| {
            Error::new(format!("{what}: cannot read the member after {last}"))
                .caused_by(e)
                .hint("the archive is truncated or corrupt; fetch or build it again")
        })?;
        let path = entry
            .path()
            .map_err(|e| {
                Error::new(format!(
                    "{what}: a member after {last} has an unreadable name"
                ))
                .caused_by(e)
            })?
            .into_owned();
        last = crate::error::cut(&path.display().to_string(), crate::error::QUOTE_MAX);
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        let link = entry
            .link_name()
            .map_err(|e| {
                Error::new(format!(
                    "{what}: member {last} has an unreadable link target"
                ))
                .caused_by(e)
            })?
            .map(|l| l.into_owned());
        if let Some(why) = refusal(&path, kind, link.as_deref()) {
            return Err(Error::new(format!("{what}: member {last} is refused: {why}"))
                .hint("the archive must only hold files and directories below its root; rebuild it with `tar -C DIR -czf wheels.tar.gz .`"));
        }
        if is_hidden(&path) || (kind.is_hard_link() && link.as_deref().is_some_and(is_hidden)) {
            continue;
        }
        let size = entry.header().size().ok();
        let unpacked = entry.unpack_in(dest).map_err(|e| {
            if crate::disk::is_full(&e) {
                // `dest` is a staging directory beside (or in) the destination: name that.
                let target = dest.parent().unwrap_or(dest);
                return Error::new(format!("{what}: cannot extract member {last}: the disk is full"))
                    .cause(crate::disk::full_cause(target, size))
                    .hint("free space on that filesystem (docker builder prune, docker system prune) or give the build more room, and run it again: nothing of this archive was kept");
            }
            Error::new(format!("{what}: cannot extract member {last}"))
                .cause(crate::http::chain(&e))
                .hint("the archive is truncated or corrupt, or the disk is full")
        })?;
        if !unpacked {
            return Err(Error::new(format!(
                "{what}: member {last} is refused: it would land outside the destination"
            )));
        }
        extracted += 1;
    }
    let rest = archive.into_inner();
    trailing(rest, what)?;
    if extracted == 0 {
        return Err(Error::new(format!(
            "{what}: the archive is empty: it holds no wheels and no upper-constraints.txt"
        ))
        .hint("WHEELS must hold the wheels and upper-constraints.txt built by loci with PROJECT=requirements (or LOCI's requirements image); check that the archive was made from the right directory"));
    }
    check_links(dest, what)
}

/// Reads what follows the end of the archive (so that a compressed stream's checksum is
/// verified), but no more than [`TRAILING_MAX`] bytes, of which at most
/// [`TRAILING_NONZERO_MAX`] may be non-zero: `WHEELS=/dev/zero` or an archive followed by
/// something else fails fast instead of being read for ever.
fn trailing<R: Read>(rest: R, what: &str) -> Result<()> {
    let mut limited = rest.take(TRAILING_MAX + 1);
    let mut buf = vec![0u8; 64 * 1024];
    let (mut total, mut nonzero) = (0u64, 0u64);
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::new(format!(
                    "{what}: the data after the last member is corrupt"
                ))
                .caused_by(e)
                .hint("the archive is truncated or corrupt; fetch or build it again"))
            }
        };
        total += n as u64;
        nonzero += buf[..n].iter().filter(|b| **b != 0).count() as u64;
        if total > TRAILING_MAX || nonzero > TRAILING_NONZERO_MAX {
            let why = if nonzero > TRAILING_NONZERO_MAX {
                format!(
                    "more than {} MiB of data follow the end of the tar archive",
                    TRAILING_NONZERO_MAX >> 20
                )
            } else {
                format!(
                    "more than {} MiB follow the end of the tar archive",
                    TRAILING_MAX >> 20
                )
            };
            return Err(Error::new(format!("{what}: {why}")).hint(format!(
                "this is not a wheels archive, or one with something appended to it; {HINT_FORMAT}"
            )));
        }
    }
    Ok(())
}

/// Symlink chains can still lead out (`a -> b/..` with `b -> ..`): resolve every symlink and
/// refuse those that end outside `dest`.
fn check_links(dest: &Path, what: &str) -> Result<()> {
    let root = dest
        .canonicalize()
        .map_err(|e| Error::new(format!("cannot resolve {}", dest.display())).caused_by(e))?;
    for entry in walkdir::WalkDir::new(dest).follow_links(false) {
        let entry = entry.map_err(|e| {
            Error::new(format!("{what}: cannot check {}", dest.display())).caused_by(e)
        })?;
        if entry.path_is_symlink() {
            if let Ok(target) = entry.path().canonicalize() {
                if !target.starts_with(&root) {
                    let member = entry.path().strip_prefix(dest).unwrap_or(entry.path());
                    return Err(Error::new(format!(
                        "{what}: member {} is refused: it is a symlink resolving outside the destination ({})",
                        member.display(),
                        target.display()
                    ))
                    .hint("the archive must only hold files and directories below its root"));
                }
            }
        }
    }
    Ok(())
}

/// A staging directory next to the destination: extraction goes there, and [`Staging::commit`]
/// moves the result into place. Dropped without a commit, it is removed with its content.
pub struct Staging {
    /// Taken by [`Staging::commit`].
    dir: Option<tempfile::TempDir>,
    /// Held while the staging directory lives: another run sweeping stale staging directories
    /// ([`sweep`]) leaves a locked one alone.
    _lock: Option<nix::fcntl::Flock<std::fs::File>>,
    /// Removed by [`crate::interrupt`] if loci must exit without unwinding.
    _staged: crate::interrupt::Staged,
    dest: PathBuf,
    /// The topmost directory created for the staging directory (the destination's parent did
    /// not exist), removed again when nothing is committed.
    created: Option<PathBuf>,
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Removes the staging directory first, then the parents created for it (a committed
        // Staging has neither).
        drop(self.dir.take());
        if let Some(top) = self.created.take() {
            let _ = std::fs::remove_dir_all(top);
        }
    }
}

impl Staging {
    /// Creates the staging directory: inside `dest` when it exists (it may be a mount point;
    /// the staging dir is a dot-dir there), else beside it. Either way on the same filesystem,
    /// so the final move is a rename.
    pub fn new(dest: &Path) -> Result<Staging> {
        let dest = if dest.is_absolute() {
            dest.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| Error::new("cannot get the current directory").caused_by(e))?
                .join(dest)
        };
        if dest.exists() && !dest.is_dir() {
            return Err(
                Error::new(format!("{} exists and is not a directory", dest.display()))
                    .hint("point WHEELS_DEST at a directory (or a path that does not exist yet)"),
            );
        }
        let mut created = None;
        let (parent, prefix) = if dest.is_dir() {
            (dest.clone(), ".loci-partial-".to_string())
        } else {
            let parent = dest
                .parent()
                .ok_or_else(|| Error::new(format!("{} has no parent directory", dest.display())))?
                .to_path_buf();
            created = parent
                .ancestors()
                .take_while(|a| !a.exists())
                .last()
                .map(Path::to_path_buf);
            std::fs::create_dir_all(&parent).map_err(|e| {
                Error::new(format!("cannot create {}", parent.display())).caused_by(e)
            })?;
            let name = dest
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (parent, format!(".{name}.loci-partial-"))
        };
        sweep(&parent, &prefix);
        let dir = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir_in(&parent)
            .map_err(|e| {
                Error::new(format!(
                    "cannot create a staging directory in {}",
                    parent.display()
                ))
                .caused_by(e)
                .hint("the wheels are extracted next to (or inside) the destination first: it must be writable")
            })?;
        let lock = lock(dir.path(), false);
        let staged = crate::interrupt::Staged::new(dir.path());
        Ok(Staging {
            dir: Some(dir),
            _lock: lock,
            _staged: staged,
            dest,
            created,
        })
    }

    /// Where to extract.
    pub fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("the staging directory lives until the commit")
            .path()
    }

    /// Refuses extracted wheels without upper-constraints.txt at their root (before
    /// [`Staging::commit`] moves anything into place); `what` names the archive.
    pub fn check_wheels(&self, what: &str) -> Result<()> {
        if self.path().join(CONSTRAINTS).is_file() {
            return Ok(());
        }
        Err(Error::new(format!("{what}: the archive holds no {CONSTRAINTS} at its root"))
            .hint("WHEELS must hold the wheels and upper-constraints.txt built by loci with PROJECT=requirements (or LOCI's requirements image), at the root of the archive (`tar -C wheels -czf wheels.tar.gz .`)"))
    }

    /// Moves the extracted content to the destination: a rename when the destination does not
    /// exist, else a merge into it (files of the same name are replaced).
    ///
    /// A merge first checks that nothing in the way (a directory where the archive has a file,
    /// or the reverse), so that a refused merge leaves the destination exactly as it was.
    pub fn commit(mut self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = self
            .dir
            .take()
            .expect("the staging directory lives until the commit");
        let staged = dir.path().to_path_buf();
        let dest = self.dest.clone();
        let fail = |e: io::Error| {
            Error::new(format!(
                "cannot move the extracted files into {}",
                dest.display()
            ))
            .caused_by(e)
        };
        if staged.parent() == Some(dest.as_path()) {
            if let Some(conflict) = conflict(&staged, &dest, &staged).map_err(fail)? {
                return Err(Error::new(format!(
                    "cannot merge the extracted files into {}: {conflict}",
                    dest.display()
                ))
                .hint("nothing was changed; empty WHEELS_DEST (or point it at a new directory) and fetch again"));
            }
            // The merge runs to its end even when an interrupt comes meanwhile: the
            // destination holds either nothing of the archive or all of it.
            return crate::interrupt::critical(|| merge(&staged, &dest)).map_err(fail);
            // dir is dropped here and removes the (now empty) staging directory.
        }
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).map_err(fail)?;
        std::fs::rename(&staged, &dest).map_err(fail)?;
        // Committed: the staging directory is the destination now, its parents stay.
        let _ = dir.keep();
        self.created = None;
        Ok(())
    }
}

/// An exclusive lock on the directory `dir` (flock), waiting for it or not.
fn lock(dir: &Path, nonblocking: bool) -> Option<nix::fcntl::Flock<std::fs::File>> {
    let file = std::fs::File::open(dir).ok()?;
    let how = if nonblocking {
        nix::fcntl::FlockArg::LockExclusiveNonblock
    } else {
        nix::fcntl::FlockArg::LockExclusive
    };
    nix::fcntl::Flock::lock(file, how).ok()
}

/// Removes the staging directories (`prefix*`) in `parent` that an earlier run left behind
/// (killed without a chance to clean up): those whose lock nobody holds. A live run's
/// staging directory is locked, and left alone.
fn sweep(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(prefix)
            || !entry.file_type().is_ok_and(|t| t.is_dir())
        {
            continue;
        }
        if let Some(_held) = lock(&entry.path(), true) {
            crate::say!(
                "removing {}, left by an earlier run that was stopped",
                entry.path().display()
            );
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The first entry of `from` that cannot be merged into `to` (a file where `to` has a directory,
/// a directory where `to` has something else), described relative to `root`.
fn conflict(from: &Path, to: &Path, root: &Path) -> io::Result<Option<String>> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let source_is_dir = entry.file_type()?.is_dir();
        let member = entry.path();
        let member = member.strip_prefix(root).unwrap_or(&member).display();
        match std::fs::symlink_metadata(&target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
            Ok(m) if m.is_dir() && source_is_dir => {
                if let Some(c) = conflict(&entry.path(), &target, root)? {
                    return Ok(Some(c));
                }
            }
            Ok(m) if m.is_dir() => {
                return Ok(Some(format!(
                    "{} is a directory, the archive has a file there ({member})",
                    target.display()
                )))
            }
            Ok(_) if source_is_dir => {
                return Ok(Some(format!(
                    "{} is not a directory, the archive has a directory there ({member})",
                    target.display()
                )))
            }
            Ok(_) => {}
        }
    }
    Ok(None)
}

fn merge(from: &Path, to: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let source_is_dir = entry.file_type()?.is_dir();
        match std::fs::symlink_metadata(&target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::rename(entry.path(), &target)?
            }
            Err(e) => return Err(e),
            Ok(m) if m.is_dir() && source_is_dir => merge(&entry.path(), &target)?,
            Ok(m) if m.is_dir() => {
                return Err(io::Error::other(format!(
                    "{} is a directory, the archive has a file there",
                    target.display()
                )))
            }
            Ok(_) => std::fs::rename(entry.path(), &target)?,
        }
    }
    Ok(())
}

/// Extracts a local .tar / .tar.gz / .tgz / .tar.zst into `dest`.
pub fn from_file(path: &Path, dest: &Path) -> Result<()> {
    let what = format!("WHEELS={}", path.display());
    let file = std::fs::File::open(path).map_err(|e| {
        Error::new(format!("{what}: cannot open the archive"))
            .caused_by(e)
            .hint("WHEELS must name an existing tarball or directory inside the build (COPY or bind-mount it first)")
    })?;
    let staging = Staging::new(dest)?;
    unpack(file, staging.path(), &what)?;
    staging.check_wheels(&what)?;
    staging.commit()
}

/// Downloads an http(s) tarball and extracts it into `dest` as it streams (a broken connection
/// is resumed with a Range request when the server allows it).
pub fn from_url(url: &str, dest: &Path, tls: &TlsConfig) -> Result<()> {
    let what = format!("WHEELS={url}");
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        Error::new(format!("{what}: not a valid URL"))
            .caused_by(e)
            .hint("use http(s)://host/path/wheels.tar.gz")
    })?;
    let client = crate::http::client(
        tls,
        crate::http::Options {
            manual_redirects: true,
            ..Default::default()
        },
    )?;
    let download = crate::http::Download::open(&client, parsed, what.clone(), None, None, None)?;
    let staging = Staging::new(dest)?;
    let mut download = download;
    let result = unpack(&mut download, staging.path(), &what);
    if let Some(e) = download.failure.take() {
        return Err(e);
    }
    result?;
    staging.check_wheels(&what)?;
    staging.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            // Bypass the builder's own path checks: write raw names.
            let name = h.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(l) = link {
                h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut e, data).unwrap();
        e.finish().unwrap()
    }

    const F: tar::EntryType = tar::EntryType::Regular;

    #[test]
    fn sniffs_by_magic() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Ok(Compression::Gzip));
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Ok(Compression::Zstd));
        assert!(sniff(b"BZh91AY").unwrap_err().contains("bzip2"));
        assert!(sniff(b"PK\x03\x04").unwrap_err().contains("zip"));
        assert!(sniff(b"hello").unwrap_err().contains("too short"));
        let t = tarball(&[("a.whl", F, b"x", None)]);
        assert_eq!(sniff(&t[..512]), Ok(Compression::None));
    }

    #[test]
    fn extracts_plain_gzip_and_zstd_skipping_dot_files() {
        let t = tarball(&[
            ("./a.whl", F, b"wheel", None),
            ("sub/b.whl", F, b"b", None),
            (".hidden", F, b"secret", None),
            ("sub/.git/config", F, b"c", None),
            ("upper-constraints.txt", F, b"pbr===6.0.0\n", None),
        ]);
        for data in [t.clone(), gz(&t), zstd::encode_all(&t[..], 3).unwrap()] {
            let root = tempfile::tempdir().unwrap();
            let dest = root.path().join("wheels");
            let file = root.path().join("w.bin");
            std::fs::write(&file, &data).unwrap();
            from_file(&file, &dest).unwrap();
            assert_eq!(std::fs::read(dest.join("a.whl")).unwrap(), b"wheel");
            assert_eq!(std::fs::read(dest.join("sub/b.whl")).unwrap(), b"b");
            assert!(!dest.join(".hidden").exists());
            assert!(!dest.join("sub/.git").exists());
            // No staging directory is left next to dest.
            let names: Vec<_> = std::fs::read_dir(root.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names.len(), 2, "{names:?}");
        }
    }

    fn refused(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)], want: &str) {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("wheels");
        let file = root.path().join("bad.tar.gz");
        std::fs::write(&file, gz(&tarball(entries))).unwrap();
        let e = from_file(&file, &dest).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
        assert!(e.contains("bad.tar.gz"), "{e}");
        assert!(!dest.exists(), "dest must not be left behind");
        assert_eq!(
            std::fs::read_dir(root.path()).unwrap().count(),
            1,
            "only the archive remains"
        );
    }

    #[test]
    fn refuses_escapes_and_devices_and_leaves_nothing() {
        let ok: (&str, tar::EntryType, &[u8], Option<&str>) = ("first.whl", F, b"x", None);
        refused(
            &[ok, ("../evil", F, b"x", None)],
            "member ../evil is refused: its path contains `..`",
        );
        refused(
            &[ok, ("/etc/evil", F, b"x", None)],
            "member /etc/evil is refused: it has an absolute path",
        );
        refused(
            &[ok, ("l", tar::EntryType::Symlink, b"", Some("/etc/passwd"))],
            "symlink to the absolute path",
        );
        refused(
            &[ok, ("d/l", tar::EntryType::Symlink, b"", Some("../../x"))],
            "symlink pointing outside",
        );
        refused(
            &[ok, ("h", tar::EntryType::Link, b"", Some("../x"))],
            "hard link",
        );
        refused(
            &[ok, ("fifo", tar::EntryType::Fifo, b"", None)],
            "device files and fifos",
        );
        refused(
            &[ok, ("dev", tar::EntryType::Char, b"", None)],
            "device files and fifos",
        );
        // A chain of individually harmless links that resolves outside.
        refused(
            &[
                ok,
                ("d/a", tar::EntryType::Symlink, b"", Some("b/..")),
                ("d/b", tar::EntryType::Symlink, b"", Some("..")),
            ],
            "symlink resolving outside",
        );
    }

    #[test]
    fn links_inside_are_kept() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("w");
        let file = root.path().join("ok.tar");
        std::fs::write(
            &file,
            tarball(&[
                ("d/a.whl", F, b"a", None),
                ("d/l", tar::EntryType::Symlink, b"", Some("a.whl")),
                ("top", tar::EntryType::Symlink, b"", Some("d/../d/a.whl")),
                ("h", tar::EntryType::Link, b"", Some("d/a.whl")),
                (CONSTRAINTS, F, b"", None),
            ]),
        )
        .unwrap();
        from_file(&file, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("d/l")).unwrap(), b"a");
        assert_eq!(std::fs::read(dest.join("top")).unwrap(), b"a");
        assert_eq!(std::fs::read(dest.join("h")).unwrap(), b"a");
    }

    #[test]
    fn truncated_and_corrupt_archives_fail_cleanly() {
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let data = gz(&tarball(&[
            ("a.whl", F, &big, None),
            ("b.whl", F, b"b", None),
        ]));
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("w");
        let file = root.path().join("cut.tgz");
        std::fs::write(&file, &data[..data.len() / 2]).unwrap();
        let e = from_file(&file, &dest).unwrap_err().to_string();
        assert!(e.contains("cut.tgz") && e.contains("a.whl"), "{e}");
        assert!(!dest.exists());
        // A flipped byte in the gzip trailer (CRC) is caught even though tar saw every member.
        let mut bad = data.clone();
        let n = bad.len();
        bad[n - 6] ^= 0xff;
        std::fs::write(&file, &bad).unwrap();
        assert!(from_file(&file, &dest).is_err());
        assert!(!dest.exists());
        let e = from_file(&root.path().join("missing.tgz"), &dest)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.tgz: cannot open"), "{e}");
    }

    /// Extracts `data` (written to a file named `name`) into a fresh dest; the error text.
    fn refused_file(name: &str, data: &[u8]) -> String {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("wheels");
        let file = root.path().join(name);
        std::fs::write(&file, data).unwrap();
        let e = from_file(&file, &dest).unwrap_err().to_string();
        assert!(e.contains(&format!("WHEELS={}", file.display())), "{e}");
        assert!(!dest.exists(), "dest must not be left behind");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
        e
    }

    #[test]
    fn dev_zero_fails_fast() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("wheels");
        let started = std::time::Instant::now();
        let e = from_file(Path::new("/dev/zero"), &dest)
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        assert!(e.contains("WHEELS=/dev/zero"), "{e}");
        assert!(
            e.contains("more than 10 MiB follow the end of the tar archive"),
            "{e}"
        );
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn trailing_data_is_bounded() {
        let mut t = tarball(&[(CONSTRAINTS, F, b"pbr===6\n", None)]);
        let good = t.len();
        // Zeros (padding) after the end are fine.
        t.extend(vec![0u8; 5 << 20]);
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("padded.tar");
        std::fs::write(&file, &t).unwrap();
        from_file(&file, &root.path().join("w")).unwrap();
        // Something else appended is not.
        t.truncate(good);
        t.extend((0..(2u32 << 20)).map(|i| (i % 251 + 1) as u8));
        let e = refused_file("appended.tar", &t);
        assert!(e.contains("more than 1 MiB of data follow the end"), "{e}");
    }

    #[test]
    fn empty_archives_and_files_are_refused() {
        let empty_tar = tar::Builder::new(Vec::new()).into_inner().unwrap();
        for (name, data) in [
            ("empty.tar", empty_tar.clone()),
            ("empty.tar.gz", gz(&empty_tar)),
            ("zero-bytes.tar.gz", Vec::new()),
            ("hidden-only.tar", tarball(&[(".hidden", F, b"x", None)])),
        ] {
            let e = refused_file(name, &data);
            assert!(
                e.contains("the archive is empty: it holds no wheels and no upper-constraints.txt"),
                "{name}: {e}"
            );
            assert!(e.contains("hint: WHEELS must hold"), "{name}: {e}");
        }
        let e = refused_file("no-uc.tgz", &gz(&tarball(&[("a.whl", F, b"x", None)])));
        assert!(
            e.contains("holds no upper-constraints.txt at its root"),
            "{e}"
        );
    }

    #[test]
    fn an_html_page_is_named_as_not_an_archive() {
        let page = format!(
            "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>{}</body></html>\n",
            "x".repeat(2000)
        );
        let e = refused_file("wheels.tar.gz", page.as_bytes());
        assert!(e.contains("it is not a gzip, zstd or tar archive"), "{e}");
        assert!(
            e.contains(
                "it starts with \"<!DOCTYPE html>\\n<html><head><title>404 Not Found</title></h…\""
            ),
            "{e}"
        );
        assert!(!e.contains("xxxxxxxxxx"), "{e}");
        let e = refused_file("short.tar.gz", b"Forbidden\r\n");
        assert!(e.contains("too short to be one (11 bytes)"), "{e}");
        assert!(e.contains("\"Forbidden\\r\\n\""), "{e}");
        // Binary junk is shown escaped, never raw.
        let e = refused_file("junk.tgz", &[0x01u8; 600]);
        assert!(e.contains("\\u{1}"), "{e}");
    }

    #[test]
    fn compressed_data_that_is_no_tar_is_named() {
        let page = b"<html><body>Access denied</body></html>\n".repeat(30);
        for (name, data) in [
            ("page.tar.gz", gz(&page)),
            ("page.tar.zst", zstd::encode_all(&page[..], 3).unwrap()),
        ] {
            let e = refused_file(name, &data);
            assert!(e.contains("not a wheels archive"), "{e}");
            assert!(e.contains("-compressed data is not a tar archive: it starts with \"<html><body>Access denied"), "{e}");
        }
        let e = refused_file("short.tgz", &gz(b"oops"));
        assert!(e.contains("too short to be one (4 bytes)"), "{e}");
    }

    #[test]
    fn an_old_tar_without_magic_is_still_read() {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [(CONSTRAINTS, &b"pbr===6\n"[..]), ("a.whl", b"a")] {
            let mut h = tar::Header::new_old();
            h.set_path(name).unwrap();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        let t = b.into_inner().unwrap();
        assert_ne!(&t[257..262], b"ustar");
        assert_eq!(sniff(&t[..512]), Ok(Compression::None));
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("v7.tar");
        std::fs::write(&file, &t).unwrap();
        from_file(&file, &root.path().join("w")).unwrap();
        assert!(root.path().join("w/a.whl").is_file());
    }

    /// Every path below `dir` with its content (directories as "/"), sorted.
    fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
            .into_iter()
            .map(|e| e.unwrap())
            .map(|e| {
                let name = e.path().strip_prefix(dir).unwrap().display().to_string();
                let data = if e.file_type().is_file() {
                    std::fs::read(e.path()).unwrap()
                } else {
                    b"/".to_vec()
                };
                (name, data)
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_refused_merge_leaves_the_destination_exactly_as_it_was() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("wheels");
        std::fs::create_dir_all(dest.join("sub/x.whl")).unwrap();
        std::fs::write(dest.join("sub/x.whl/inside"), "i").unwrap();
        std::fs::write(dest.join("keep.whl"), "old").unwrap();
        std::fs::write(dest.join("plain"), "p").unwrap();
        let before = snapshot(&dest);
        for (name, entries) in [
            (
                "file-on-dir.tar",
                vec![
                    ("a.whl", F, &b"a"[..], None),
                    ("keep.whl", F, b"new", None),
                    (CONSTRAINTS, F, b"", None),
                    ("sub/x.whl", F, b"file", None),
                    ("z.whl", F, b"z", None),
                ],
            ),
            (
                "dir-on-file.tar",
                vec![
                    ("a.whl", F, &b"a"[..], None),
                    (CONSTRAINTS, F, b"", None),
                    ("plain/y.whl", F, b"y", None),
                ],
            ),
        ] {
            let file = root.path().join(name);
            std::fs::write(&file, tarball(&entries)).unwrap();
            let e = from_file(&file, &dest).unwrap_err().to_string();
            assert!(e.contains("cannot merge the extracted files into"), "{e}");
            assert!(e.contains("nothing was changed"), "{e}");
            assert_eq!(snapshot(&dest), before, "{name}");
            std::fs::remove_file(&file).unwrap();
        }
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_fetch_removes_the_parents_it_created() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("a/b/wheels");
        let file = root.path().join("bad.tar");
        std::fs::write(&file, tarball(&[("x.whl", F, b"x", None)])).unwrap();
        assert!(from_file(&file, &dest).is_err());
        let names: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["bad.tar"]);
        // A good one keeps them.
        std::fs::write(
            &file,
            tarball(&[("x.whl", F, b"x", None), (CONSTRAINTS, F, b"", None)]),
        )
        .unwrap();
        from_file(&file, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("x.whl")).unwrap(), b"x");
        assert_eq!(
            std::fs::read_dir(root.path().join("a/b")).unwrap().count(),
            1
        );
    }

    #[test]
    fn merges_into_a_non_empty_destination_and_replaces_an_empty_one() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("w");
        std::fs::create_dir_all(dest.join("sub")).unwrap();
        std::fs::write(dest.join("keep.whl"), "k").unwrap();
        std::fs::write(dest.join("sub/old"), "o").unwrap();
        let file = root.path().join("x.tar");
        std::fs::write(
            &file,
            tarball(&[
                ("sub/new.whl", F, b"n", None),
                ("keep.whl", F, b"new", None),
                (CONSTRAINTS, F, b"", None),
            ]),
        )
        .unwrap();
        from_file(&file, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("keep.whl")).unwrap(), b"new");
        assert_eq!(std::fs::read(dest.join("sub/old")).unwrap(), b"o");
        assert_eq!(std::fs::read(dest.join("sub/new.whl")).unwrap(), b"n");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 2);
        let empty = root.path().join("e");
        std::fs::create_dir(&empty).unwrap();
        from_file(&file, &empty).unwrap();
        assert!(empty.join("sub/new.whl").exists());
    }
}
