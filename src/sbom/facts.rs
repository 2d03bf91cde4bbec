//! What the build recorded about the image (`/etc/image_info`), as the SBOM reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Context, Error, Result};

/// What the build recorded about the image, from `/etc/image_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub project: String,
    pub project_repo: String,
    pub project_ref: String,
    pub project_release: String,
    /// The commit of the project's source (the `commit <sha>` line of project.txt).
    pub project_commit: Option<String>,
    /// The distro label of image_info.json (`debian-bookworm`).
    pub distro: Option<String>,
    /// The image's CPU architecture, as OCI names it (image_info.json's `architecture`).
    pub architecture: Option<String>,
    /// Where the wheels came from: image_info.json's `wheels` (`{"kind": .., "location": ..}`).
    pub wheels: Option<Value>,
    /// The base image, if image_info.json ever names it (`base`; it does not today).
    pub base: Option<String>,
    /// A directory holding the wheels the venv was installed from, for their hashes.
    pub wheels_dir: Option<PathBuf>,
    /// SOURCE_DATE_EPOCH: the document's timestamp (none without it, for reproducible images).
    pub source_date_epoch: Option<u64>,
    /// Wheel hashes known from an earlier SBOM of the same image, by purl: the one written
    /// before cleanup (which removes an extracted wheels dir) or by the builder stage of a
    /// two-stage build. Used for components whose wheel `wheels_dir` does not hold.
    pub known_hashes: BTreeMap<String, Value>,
}

impl Facts {
    /// Reads project.txt and image_info.json from an image info dir (`/etc/image_info`).
    /// Either may be missing, not both.
    pub fn read(dir: &Path) -> Result<Facts> {
        let mut facts = Facts::default();
        let project_txt = dir.join("project.txt");
        let info_json = dir.join("image_info.json");
        let text = read_optional(&project_txt)?;
        let info = read_optional(&info_json)?;
        if text.is_none() && info.is_none() {
            return Err(Error::new(format!(
                "{} holds neither project.txt nor image_info.json",
                dir.display()
            ))
            .hint("point --root at the root of an image built by loci (its /etc/image_info is written by the `info` step)"));
        }
        if let Some(info) = info {
            let v: Value = serde_json::from_str(&info)
                .context(|| format!("{} is not valid JSON", info_json.display()))
                .map_err(|e| e.hint("the file is written by loci's `info` step: rebuild the image, or remove the file to use project.txt alone"))?;
            facts.apply_image_info(&v);
        }
        if let Some(text) = text {
            facts.apply_project_txt(&text);
        }
        Ok(facts)
    }

    /// The PROJECT_* lines and the `commit <sha>` line of project.txt (as LOCI writes it).
    pub fn apply_project_txt(&mut self, text: &str) {
        for line in text.lines() {
            let field = |key: &str| line.strip_prefix(key).map(|v| v.trim().to_string());
            if let Some(v) = field("PROJECT=") {
                self.project = v;
            } else if let Some(v) = field("PROJECT_REPO=") {
                self.project_repo = v;
            } else if let Some(v) = field("PROJECT_REF=") {
                self.project_ref = v;
            } else if let Some(v) = field("PROJECT_RELEASE=") {
                self.project_release = v;
            } else if let Some(v) = field("commit ") {
                if self.project_commit.is_none() && !v.is_empty() {
                    self.project_commit = Some(v);
                }
            }
        }
    }

    /// The facts of image_info.json (project.txt, read after, wins where both have a value).
    pub fn apply_image_info(&mut self, v: &Value) {
        let text = |key: &str| v[key].as_str().map(str::to_string);
        self.project = text("project").unwrap_or_default();
        self.project_repo = text("project_repo").unwrap_or_default();
        self.project_ref = text("project_ref").unwrap_or_default();
        self.project_release = text("project_release").unwrap_or_default();
        self.project_commit = text("project_commit").filter(|c| !c.is_empty());
        self.distro = text("distro").filter(|d| !d.is_empty());
        self.architecture = text("architecture").filter(|a| !a.is_empty());
        self.wheels = Some(v["wheels"].clone()).filter(|w| !w.is_null());
        self.base = text("base").filter(|b| !b.is_empty());
    }
}

pub(super) fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(format!("cannot read {}", path.display())).caused_by(e)),
    }
}
