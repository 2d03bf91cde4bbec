//! The software bill of materials of an image: a CycloneDX 1.6 JSON document.
//!
//! Every build writes `/etc/image_info/sbom.cdx.json` (and `loci sbom --root DIR` prints the
//! same document for an existing image root, e.g. a child image that added packages). It is
//! read from the image itself, not from the plan, so it lists what is there:
//!
//! - `metadata.component`: the image's project (PROJECT, its repository, ref and commit from
//!   `/etc/image_info/project.txt`; its version from its installed dist-info, else
//!   PROJECT_RELEASE);
//! - every Python distribution of the venv (`/var/lib/openstack`), with its licence and, when
//!   the wheels it was installed from are at hand, the SHA-256 of its wheel;
//! - every installed distro package (dpkg's status file; on RPM distros `rpm -qa` when `rpm` is
//!   on PATH) and the operating system itself;
//! - where the wheels came from (`image_info.json`'s `wheels`) as properties;
//! - dependencies: the project depends on every Python distribution of the venv, and each
//!   distribution on the installed distributions its `Requires-Dist` names.
//!
//! The document is deterministic: components are sorted by purl, the serial number is derived
//! from the content, and there is no timestamp unless SOURCE_DATE_EPOCH gives one. The base
//! image is not recorded: image_info.json does not name it (LOCI_BASE_IMAGE is not passed to
//! the build); a `base` key there would become a `loci:base` property.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::constraints::normalize;
use crate::error::{Context, Error, Result};
use crate::os_release::OsRelease;

/// The file name of the SBOM in the image info dir.
pub const FILE_NAME: &str = "sbom.cdx.json";

/// The venv, relative to the image root.
const VENV: &str = "var/lib/openstack";

/// The longest licence name kept from a `License:` header (some hold the whole licence text).
const LICENSE_NAME_MAX: usize = 100;

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

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(format!("cannot read {}", path.display())).caused_by(e)),
    }
}

/// The CycloneDX 1.6 document of the image at `root`.
pub fn sbom(root: &Path, facts: &Facts) -> Result<Value> {
    let os = read_os_release(root)?;
    let dists = python_dists(root)?;
    let wheels = match &facts.wheels_dir {
        Some(d) => wheel_files(d)?,
        None => BTreeMap::new(),
    };
    let packages = distro_packages(root, os.as_ref())?;

    // The project's own distribution becomes the main component, not a library.
    let project_key = normalize(&facts.project);
    let (mains, libs): (Vec<&Dist>, Vec<&Dist>) = dists
        .iter()
        .partition(|d| !project_key.is_empty() && normalize(&d.name) == project_key);
    let main_dist = mains.first().copied();

    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    let mut components: BTreeMap<String, Value> = BTreeMap::new();
    for d in &libs {
        let purl = d.purl();
        by_name.insert(normalize(&d.name), purl.clone());
        let mut c = json!({
            "type": "library",
            "bom-ref": purl,
            "name": d.name,
            "version": d.version,
            "purl": purl,
        });
        if let Some(l) = d.licenses.to_json() {
            c["licenses"] = l;
        }
        if let Some(path) = wheels.get(&(normalize(&d.name), wheel_version(&d.version))) {
            c["hashes"] = json!([{ "alg": "SHA-256", "content": sha256_file(path)? }]);
            if let Some(f) = path.file_name() {
                c["properties"] = json!([{ "name": "loci:wheel", "value": f.to_string_lossy() }]);
            }
        } else if let Some(known) = facts.known_hashes.get(&purl) {
            for key in ["hashes", "properties"] {
                if !known[key].is_null() {
                    c[key] = known[key].clone();
                }
            }
        }
        components.insert(purl, c);
    }
    let python_refs: Vec<String> = components.keys().cloned().collect();
    for p in &packages {
        let purl = p.purl(os.as_ref());
        let c = json!({
            "type": "library",
            "bom-ref": purl,
            "name": p.name,
            "version": p.version,
            "purl": purl,
        });
        components.insert(purl, c);
    }
    let mut components: Vec<Value> = components.into_values().collect();
    if let Some(os) = &os {
        let mut c = json!({
            "type": "operating-system",
            "bom-ref": format!("os:{}", os_label(os)),
            "name": os.id,
        });
        if !os.version_id.is_empty() {
            c["version"] = json!(os.version_id);
        }
        if !os.pretty_name.is_empty() {
            c["description"] = json!(os.pretty_name);
        }
        components.push(c);
    }

    let main = main_component(facts, main_dist);
    let main_ref = main["bom-ref"].as_str().unwrap_or_default().to_string();
    let mut dependencies = vec![json!({ "ref": main_ref, "dependsOn": python_refs })];
    for d in &libs {
        let own = d.purl();
        let on: BTreeSet<&String> = d
            .requires
            .iter()
            .filter_map(|n| by_name.get(n))
            .filter(|r| **r != own)
            .collect();
        dependencies.push(json!({ "ref": own, "dependsOn": on }));
    }
    dependencies.sort_by(|a, b| a["ref"].as_str().cmp(&b["ref"].as_str()));

    let mut metadata = json!({
        "tools": { "components": [{
            "type": "application",
            "name": "loci",
            "version": env!("CARGO_PKG_VERSION"),
            "externalReferences": [{ "type": "vcs", "url": env!("CARGO_PKG_REPOSITORY") }],
        }]},
        "component": main,
    });
    if let Some(t) = facts.source_date_epoch {
        metadata["timestamp"] = json!(rfc3339(t));
    }
    let mut properties = Vec::new();
    if let Some(d) = &facts.distro {
        properties.push(property("loci:distro", d));
    }
    if let Some(a) = &facts.architecture {
        properties.push(property("loci:architecture", a));
    }
    if let Some(w) = &facts.wheels {
        if let Some(kind) = w["kind"].as_str() {
            properties.push(property("loci:wheels.kind", kind));
        }
        match &w["location"] {
            Value::Null => {}
            Value::String(s) => properties.push(property("loci:wheels.location", s)),
            // Mounted: {image, path}; Index: {constraints}.
            Value::Object(m) => {
                for (k, v) in m {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    properties.push(property(&format!("loci:wheels.{k}"), &v));
                }
            }
            other => properties.push(property("loci:wheels.location", &other.to_string())),
        }
    }
    if let Some(b) = &facts.base {
        properties.push(property("loci:base", b));
    }
    properties.push(property("loci:venv", &format!("/{VENV}")));
    metadata["properties"] = json!(properties);

    let mut doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    });
    doc["serialNumber"] = json!(serial_number(&doc));
    Ok(doc)
}

/// The SBOM as pretty-printed JSON text (ends with a newline).
pub fn render(root: &Path, facts: &Facts) -> Result<String> {
    let mut text = serde_json::to_string_pretty(&sbom(root, facts)?)
        .map_err(|e| Error::new("cannot render the SBOM as JSON").caused_by(e))?;
    text.push('\n');
    Ok(text)
}

fn property(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

/// The project as the document's main component.
fn main_component(facts: &Facts, dist: Option<&Dist>) -> Value {
    let name = if facts.project.is_empty() {
        "unknown"
    } else {
        &facts.project
    };
    let mut c = json!({ "type": "application", "name": name });
    match dist {
        Some(d) => {
            let purl = d.purl();
            c["bom-ref"] = json!(purl);
            c["purl"] = json!(purl);
            c["version"] = json!(d.version);
            if let Some(l) = d.licenses.to_json() {
                c["licenses"] = l;
            }
        }
        None => {
            c["bom-ref"] = json!(format!("loci:project:{name}"));
            if !facts.project_release.is_empty() {
                c["version"] = json!(facts.project_release);
            }
        }
    }
    if !facts.project_repo.is_empty() {
        c["externalReferences"] = json!([{ "type": "vcs", "url": facts.project_repo }]);
    }
    let mut properties = Vec::new();
    if !facts.project_ref.is_empty() {
        properties.push(property("loci:project_ref", &facts.project_ref));
    }
    if let Some(commit) = &facts.project_commit {
        properties.push(property("loci:project_commit", commit));
    }
    if !facts.project_release.is_empty() {
        properties.push(property("loci:project_release", &facts.project_release));
    }
    if !properties.is_empty() {
        c["properties"] = json!(properties);
    }
    c
}

/// `urn:uuid:` and a UUID (version 5 layout) made of the SHA-256 of the document: the same
/// image gives the same serial number, a different one another.
fn serial_number(doc: &Value) -> String {
    let digest = Sha256::digest(doc.to_string().as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Seconds since the epoch as RFC 3339 UTC (`2024-05-01T12:00:00Z`).
fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses SOURCE_DATE_EPOCH (seconds since 1970, UTC).
pub fn parse_source_date_epoch(value: &str) -> Result<u64> {
    value.trim().parse::<u64>().map_err(|_| {
        Error::new(format!(
            "SOURCE_DATE_EPOCH={} is not a number of seconds",
            crate::error::cut(value, crate::error::QUOTE_MAX)
        ))
        .hint("give the seconds since 1970-01-01 UTC, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), or leave it unset")
    })
}

/// Percent-encodes a purl segment as packageurl-python does: letters, digits and `.-_~:` stay.
fn purl_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b".-_~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Python distributions

#[derive(Debug, Clone, PartialEq, Eq)]
enum Licenses {
    None,
    /// `License-Expression` (an SPDX expression).
    Expression(String),
    /// `License:` (its first line) and `Classifier: License :: ...` names.
    Names(Vec<String>),
}

impl Licenses {
    fn to_json(&self) -> Option<Value> {
        match self {
            Licenses::None => None,
            Licenses::Expression(e) => Some(json!([{ "expression": e }])),
            Licenses::Names(n) => Some(Value::Array(
                n.iter()
                    .map(|n| json!({ "license": { "name": n } }))
                    .collect(),
            )),
        }
    }
}

/// An installed Python distribution, from its dist-info METADATA.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dist {
    name: String,
    version: String,
    licenses: Licenses,
    /// The normalised names of `Requires-Dist`, without those only an extra asks for.
    requires: Vec<String>,
}

impl Dist {
    fn purl(&self) -> String {
        format!(
            "pkg:pypi/{}@{}",
            purl_encode(&normalize(&self.name)),
            purl_encode(&self.version)
        )
    }
}

/// Parses the headers of a METADATA file (core metadata, RFC 822 style). `None` without a
/// name or a version.
fn parse_metadata(text: &str) -> Option<Dist> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break; // the description (body) follows
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |key: &str| {
        headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let name = get("name").filter(|n| !n.is_empty())?;
    let version = get("version").filter(|v| !v.is_empty())?;
    let licenses = if let Some(e) = get("license-expression").filter(|e| !e.is_empty()) {
        Licenses::Expression(e)
    } else {
        let mut names: Vec<String> = Vec::new();
        if let Some(l) = get("license") {
            let first = l.lines().next().unwrap_or("").trim();
            if !first.is_empty() && !first.eq_ignore_ascii_case("unknown") {
                names.push(crate::error::cut(first, LICENSE_NAME_MAX));
            }
        }
        for (k, v) in &headers {
            if k != "classifier" {
                continue;
            }
            let parts: Vec<&str> = v.split("::").map(str::trim).collect();
            if parts.len() >= 2 && parts[0] == "License" {
                let last = parts[parts.len() - 1];
                if last != "OSI Approved" && !names.iter().any(|n| n == last) {
                    names.push(last.to_string());
                }
            }
        }
        if names.is_empty() {
            Licenses::None
        } else {
            Licenses::Names(names)
        }
    };
    let requires = headers
        .iter()
        .filter(|(k, _)| k == "requires-dist")
        .filter_map(|(_, v)| {
            let (spec, marker) = match v.split_once(';') {
                Some((s, m)) => (s, m),
                None => (v.as_str(), ""),
            };
            if marker.contains("extra") {
                return None;
            }
            crate::constraints::line_name(spec).map(normalize)
        })
        .collect();
    Some(Dist {
        name,
        version,
        licenses,
        requires,
    })
}

/// Every distribution of the venv (`<root>/var/lib/openstack/lib/python3*/site-packages`),
/// sorted by name and version. No venv: none.
fn python_dists(root: &Path) -> Result<Vec<Dist>> {
    let lib = root.join(VENV).join("lib");
    let mut dists = Vec::new();
    for py in sorted_entries(&lib)? {
        let is_python = py
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("python3"));
        if !is_python {
            continue;
        }
        for info in sorted_entries(&py.join("site-packages"))? {
            if info.extension().and_then(|e| e.to_str()) != Some("dist-info") {
                continue;
            }
            let path = info.join("METADATA");
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::new(format!("cannot read {}", path.display()))
                        .caused_by(e)
                        .hint("the SBOM lists every distribution of the venv: check the file's permissions"))
                }
            };
            if let Some(d) = parse_metadata(&String::from_utf8_lossy(&bytes)) {
                dists.push(d);
            }
        }
    }
    dists.sort_by_key(Dist::purl);
    dists.dedup_by(|a, b| a.purl() == b.purl());
    Ok(dists)
}

/// The entries of a directory, sorted; a missing directory has none.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return Err(Error::new(format!("cannot list {}", dir.display())).caused_by(e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.context(|| format!("cannot list {}", dir.display()))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

/// The wheel hashes (and wheel file names) of the Python components of an SBOM document, by
/// purl, for [`Facts::known_hashes`].
pub fn hashes_of(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for c in doc["components"].as_array().into_iter().flatten() {
        if let (Some(purl), false) = (c["purl"].as_str(), c["hashes"].is_null()) {
            out.insert(
                purl.to_string(),
                json!({ "hashes": c["hashes"], "properties": c["properties"] }),
            );
        }
    }
    out
}

/// A version as wheel file names spell it (`-` becomes `_`).
fn wheel_version(version: &str) -> String {
    version.replace('-', "_")
}

/// The wheels of a directory by (normalised name, version): `{name}-{version}-...whl`.
/// A missing directory (the runtime stage, a removed wheels dir) has none.
fn wheel_files(dir: &Path) -> Result<BTreeMap<(String, String), PathBuf>> {
    let mut out = BTreeMap::new();
    for path in sorted_entries(dir)? {
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".whl") else {
            continue;
        };
        let mut parts = stem.split('-');
        if let (Some(name), Some(version)) = (parts.next(), parts.next()) {
            out.entry((normalize(name), wheel_version(version)))
                .or_insert(path);
        }
    }
    Ok(out)
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).context(|| format!("cannot read {}", path.display()))?;
    Ok(hex::encode(h.finalize()))
}

// ---------------------------------------------------------------------------------------------
// Distro packages

/// An installed distro package.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Package {
    kind: PackageKind,
    name: String,
    version: String,
    arch: String,
    /// RPM: the epoch, when not 0.
    epoch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PackageKind {
    Deb,
    Rpm,
}

impl Package {
    /// `pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12` (rpm alike, with `epoch`).
    fn purl(&self, os: Option<&OsRelease>) -> String {
        let (kind, fallback) = match self.kind {
            PackageKind::Deb => ("deb", "debian"),
            PackageKind::Rpm => ("rpm", "rpm"),
        };
        let namespace = os.map(|o| o.id.as_str()).filter(|i| !i.is_empty());
        let mut q = vec![];
        if !self.arch.is_empty() {
            q.push(format!("arch={}", purl_encode(&self.arch)));
        }
        if let Some(os) = os.filter(|o| !o.id.is_empty()) {
            q.push(format!("distro={}", purl_encode(&os_label(os))));
        }
        if let Some(e) = &self.epoch {
            q.push(format!("epoch={}", purl_encode(e)));
        }
        q.sort();
        format!(
            "pkg:{kind}/{}/{}@{}{}{}",
            purl_encode(namespace.unwrap_or(fallback)),
            purl_encode(&self.name),
            purl_encode(&self.version),
            if q.is_empty() { "" } else { "?" },
            q.join("&")
        )
    }
}

/// `debian-12`; `debian-trixie` when there is no VERSION_ID (testing, sid), else the ID alone.
fn os_label(os: &OsRelease) -> String {
    if !os.version_id.is_empty() {
        format!("{}-{}", os.id, os.version_id)
    } else if let Some(c) = &os.codename {
        format!("{}-{c}", os.id)
    } else {
        os.id.clone()
    }
}

/// `<root>/etc/os-release`, else `<root>/usr/lib/os-release`; `None` when neither is there.
fn read_os_release(root: &Path) -> Result<Option<OsRelease>> {
    for p in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(text) = read_optional(&root.join(p))? {
            return Ok(Some(OsRelease::parse(&text)).filter(|o| !o.id.is_empty()));
        }
    }
    Ok(None)
}

fn distro_packages(root: &Path, os: Option<&OsRelease>) -> Result<Vec<Package>> {
    let status = root.join("var/lib/dpkg/status");
    if let Some(text) = read_optional(&status)? {
        return Ok(parse_dpkg_status(&text));
    }
    rpm_packages(root, os)
}

/// The installed packages of dpkg's status file: stanzas whose `Status` ends in `installed`
/// (`install ok installed`, `hold ok installed`); removed packages that left their
/// configuration files (`deinstall ok config-files`) and half-installed ones are not.
fn parse_dpkg_status(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.insert(k.trim(), v.trim());
            }
        }
        let installed = fields
            .get("Status")
            .is_some_and(|s| s.split_whitespace().nth(2) == Some("installed"));
        if !installed {
            continue;
        }
        if let (Some(name), Some(version)) = (fields.get("Package"), fields.get("Version")) {
            out.push(Package {
                kind: PackageKind::Deb,
                name: name.to_string(),
                version: version.to_string(),
                arch: fields.get("Architecture").unwrap_or(&"").to_string(),
                epoch: None,
            });
        }
    }
    out
}

/// RPM distros: `rpm --root ROOT -qa` when the root has an RPM database and `rpm` is on PATH
/// (an image root without either lists no distro packages). Not covered by the tests (no
/// RPM database here).
fn rpm_packages(root: &Path, _os: Option<&OsRelease>) -> Result<Vec<Package>> {
    let has_db = ["var/lib/rpm", "usr/lib/sysimage/rpm"]
        .iter()
        .any(|d| root.join(d).is_dir());
    if !has_db || which::which("rpm").is_err() {
        return Ok(Vec::new());
    }
    let cmd = crate::plan::Cmd::new(
        "rpm",
        [
            "--root".to_string(),
            root.display().to_string(),
            "-qa".into(),
            "--qf".into(),
            "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\n".into(),
        ],
    );
    let text = crate::runner::Runner::output(&mut crate::runner::SystemRunner::default(), &cmd)
        .map_err(|e| e.hint("the SBOM lists the RPM packages of the image with `rpm -qa`"))?;
    Ok(parse_rpm_list(&text))
}

/// Lines of `NAME\tEPOCH\tVERSION-RELEASE\tARCH`; the gpg-pubkey pseudo-packages are left out.
fn parse_rpm_list(text: &str) -> Vec<Package> {
    let mut out: Vec<Package> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() != 4 || f[0] == "gpg-pubkey" {
                return None;
            }
            Some(Package {
                kind: PackageKind::Rpm,
                name: f[0].to_string(),
                version: f[2].to_string(),
                arch: if f[3] == "(none)" { "" } else { f[3] }.to_string(),
                epoch: Some(f[1].to_string()).filter(|e| !e.is_empty() && e != "0"),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.name, &a.version, &a.arch).cmp(&(&b.name, &b.version, &b.arch)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHEEL_BYTES: &[u8] = b"not really a zip, but bytes to hash";

    /// A fake image root: two dists (one with a wheel), the project's dist, a dpkg status with
    /// two installed packages and one removed, an os-release and /etc/image_info.
    fn fake_root() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let sp = root.join("var/lib/openstack/lib/python3.11/site-packages");
        let dist = |dir: &str, meta: &str| {
            let p = sp.join(dir);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("METADATA"), meta).unwrap();
        };
        dist(
            "oslo.config-9.4.0.dist-info",
            "Metadata-Version: 2.4\nName: oslo.config\nVersion: 9.4.0\nLicense-Expression: Apache-2.0\n\
             Requires-Dist: PyYAML>=5.1\nRequires-Dist: sphinx; extra == \"docs\"\n\
             Requires-Dist: stevedore ; python_version >= \"3.8\"\n\nThe description.\nName: not-a-header\n",
        );
        dist(
            "PyYAML-6.0.1.dist-info",
            "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1\nLicense: MIT\n\
             Classifier: License :: OSI Approved :: MIT License\nClassifier: Programming Language :: Python\n",
        );
        dist(
            "keystone-27.0.0.dist-info",
            "Metadata-Version: 2.1\nName: keystone\nVersion: 27.0.0\nRequires-Dist: oslo.config>=6.8.0\n",
        );
        let wheels = d.path().join("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        std::fs::write(
            wheels.join("oslo_config-9.4.0-py3-none-any.whl"),
            WHEEL_BYTES,
        )
        .unwrap();
        std::fs::write(wheels.join("oslo_config-9.3.0-py3-none-any.whl"), b"older").unwrap();
        std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        std::fs::write(
            root.join("var/lib/dpkg/status"),
            "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\nDescription: GNU C Library\n continued\n\n\
             Package: old-thing\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n\
             Package: libstdc++6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.2.0-14\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("etc/image_info")).unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/image_info/project.txt"),
            "PROJECT=keystone\nPROJECT_REPO=https://opendev.org/openstack/keystone\nPROJECT_REF=stable/2025.1\n\
             PROJECT_RELEASE=2025.1\ncommit 0123456789abcdef0123456789abcdef01234567\nAuthor: t <t@example.com>\n\
             Date:   1700000000 +0000\n\n    A commit\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/image_info/image_info.json"),
            r#"{"project":"keystone","distro":"debian-bookworm","architecture":"arm64","wheels":{"kind":"image","location":"quay.io/x/requirements:2025.1"}}"#,
        )
        .unwrap();
        (d, root)
    }

    fn facts(root: &Path) -> Facts {
        let mut f = Facts::read(&root.join("etc/image_info")).unwrap();
        f.wheels_dir = Some(root.parent().unwrap().join("wheels"));
        f
    }

    fn component<'a>(doc: &'a Value, purl: &str) -> &'a Value {
        doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["purl"] == purl)
            .unwrap_or_else(|| panic!("no component {purl} in {doc:#}"))
    }

    #[test]
    fn facts_come_from_project_txt_and_image_info_json() {
        let (_d, root) = fake_root();
        let f = facts(&root);
        assert_eq!(f.project, "keystone");
        assert_eq!(f.project_ref, "stable/2025.1");
        assert_eq!(f.project_release, "2025.1");
        assert_eq!(
            f.project_commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(f.distro.as_deref(), Some("debian-bookworm"));
        assert_eq!(f.architecture.as_deref(), Some("arm64"));
        assert_eq!(f.wheels.as_ref().unwrap()["kind"], "image");
    }

    #[test]
    fn an_image_without_image_info_is_an_error_with_a_hint() {
        let d = tempfile::tempdir().unwrap();
        let e = Facts::read(d.path()).unwrap_err();
        assert!(e.what.contains("neither project.txt nor image_info.json"));
        assert!(e.hint.unwrap().contains("--root"));
    }

    #[test]
    fn the_document_lists_the_venv_and_the_distro_packages() {
        let (_d, root) = fake_root();
        let doc = sbom(&root, &facts(&root)).unwrap();
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.6");
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["metadata"]["tools"]["components"][0]["name"], "loci");
        assert!(doc["metadata"].get("timestamp").is_none());

        let oslo = component(&doc, "pkg:pypi/oslo-config@9.4.0");
        assert_eq!(oslo["name"], "oslo.config");
        assert_eq!(oslo["type"], "library");
        assert_eq!(oslo["licenses"], json!([{ "expression": "Apache-2.0" }]));
        let want = hex::encode(Sha256::digest(WHEEL_BYTES));
        assert_eq!(
            oslo["hashes"],
            json!([{ "alg": "SHA-256", "content": want }])
        );
        let yaml = component(&doc, "pkg:pypi/pyyaml@6.0.1");
        assert_eq!(
            yaml["licenses"],
            json!([{ "license": { "name": "MIT" } }, { "license": { "name": "MIT License" } }])
        );
        assert!(yaml.get("hashes").is_none(), "no wheel of PyYAML was given");

        component(
            &doc,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
        );
        component(
            &doc,
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12",
        );
        let text = doc.to_string();
        assert!(
            !text.contains("old-thing"),
            "removed packages are not listed"
        );
        assert!(!text.contains("not-a-header"));

        let purls: Vec<&str> = doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["purl"].as_str())
            .collect();
        let mut sorted = purls.clone();
        sorted.sort();
        assert_eq!(purls, sorted, "components are sorted by purl");
        assert_eq!(
            purls.len(),
            4,
            "the project is the main component: {purls:?}"
        );
        let os = doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "operating-system")
            .unwrap();
        assert_eq!(os["name"], "debian");
        assert_eq!(os["version"], "12");
    }

    #[test]
    fn the_project_is_the_main_component() {
        let (_d, root) = fake_root();
        let doc = sbom(&root, &facts(&root)).unwrap();
        let main = &doc["metadata"]["component"];
        assert_eq!(main["type"], "application");
        assert_eq!(main["name"], "keystone");
        assert_eq!(main["version"], "27.0.0");
        assert_eq!(main["purl"], "pkg:pypi/keystone@27.0.0");
        assert_eq!(
            main["externalReferences"],
            json!([{ "type": "vcs", "url": "https://opendev.org/openstack/keystone" }])
        );
        let props = main["properties"].to_string();
        assert!(props.contains("stable/2025.1"), "{props}");
        assert!(props.contains("0123456789abcdef0123456789abcdef01234567"));
        let meta = doc["metadata"]["properties"].to_string();
        assert!(meta.contains("quay.io/x/requirements:2025.1"), "{meta}");
        assert!(meta.contains("debian-bookworm"));
        assert!(
            meta.contains(r#"{"name":"loci:architecture","value":"arm64"}"#),
            "{meta}"
        );

        // Without its dist-info the version is PROJECT_RELEASE.
        std::fs::remove_dir_all(
            root.join("var/lib/openstack/lib/python3.11/site-packages/keystone-27.0.0.dist-info"),
        )
        .unwrap();
        let doc = sbom(&root, &facts(&root)).unwrap();
        assert_eq!(doc["metadata"]["component"]["version"], "2025.1");
        assert_eq!(
            doc["metadata"]["component"]["bom-ref"],
            "loci:project:keystone"
        );
    }

    #[test]
    fn dependencies_follow_requires_dist() {
        let (_d, root) = fake_root();
        let doc = sbom(&root, &facts(&root)).unwrap();
        let deps = doc["dependencies"].as_array().unwrap();
        let on = |r: &str| {
            deps.iter()
                .find(|d| d["ref"] == r)
                .unwrap_or_else(|| panic!("no dependency entry for {r}"))["dependsOn"]
                .clone()
        };
        assert_eq!(
            on("pkg:pypi/keystone@27.0.0"),
            json!(["pkg:pypi/oslo-config@9.4.0", "pkg:pypi/pyyaml@6.0.1"])
        );
        // PyYAML is installed, sphinx (an extra) and stevedore are not.
        assert_eq!(
            on("pkg:pypi/oslo-config@9.4.0"),
            json!(["pkg:pypi/pyyaml@6.0.1"])
        );
        assert_eq!(on("pkg:pypi/pyyaml@6.0.1"), json!([]));
    }

    #[test]
    fn the_document_is_deterministic() {
        let (_d, root) = fake_root();
        let a = render(&root, &facts(&root)).unwrap();
        let b = render(&root, &facts(&root)).unwrap();
        assert_eq!(a, b);
        let doc: Value = serde_json::from_str(&a).unwrap();
        let serial = doc["serialNumber"].as_str().unwrap();
        assert!(serial.starts_with("urn:uuid:"));
        let uuid = &serial["urn:uuid:".len()..];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "5");
        assert!("89ab".contains(&uuid[19..20]));

        // Another image, another serial number.
        std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
        let c: Value = serde_json::from_str(&render(&root, &facts(&root)).unwrap()).unwrap();
        assert_ne!(c["serialNumber"], doc["serialNumber"]);
    }

    #[test]
    fn source_date_epoch_gives_the_timestamp() {
        let (_d, root) = fake_root();
        let mut f = facts(&root);
        f.source_date_epoch = Some(1_700_000_000);
        let doc = sbom(&root, &f).unwrap();
        assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert!(parse_source_date_epoch("yesterday").is_err());
        assert_eq!(parse_source_date_epoch(" 42 ").unwrap(), 42);
    }

    #[test]
    fn an_empty_root_gives_a_document_with_the_project_alone() {
        let d = tempfile::tempdir().unwrap();
        let f = Facts {
            project: "nova".into(),
            ..Facts::default()
        };
        let doc = sbom(d.path(), &f).unwrap();
        assert_eq!(doc["components"], json!([]));
        assert_eq!(doc["metadata"]["component"]["name"], "nova");
    }

    #[test]
    fn rpm_lists_are_parsed() {
        let p = parse_rpm_list(
            "bash\t0\t5.1.8-9.el9\tx86_64\ngpg-pubkey\t0\t1-2\t(none)\nopenssl-libs\t1\t3.0.7-27.el9\tx86_64\n",
        );
        assert_eq!(p.len(), 2);
        let os = OsRelease::parse("ID=rocky\nVERSION_ID=9.4\n");
        assert_eq!(
            p[1].purl(Some(&os)),
            "pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.4&epoch=1"
        );
        assert_eq!(
            p[0].purl(Some(&os)),
            "pkg:rpm/rocky/bash@5.1.8-9.el9?arch=x86_64&distro=rocky-9.4"
        );
    }
}
