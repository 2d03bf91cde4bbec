//! The distro packages of the image: dpkg's status file, or `rpm -qa` through the runner
//! given, and the operating system from os-release.

use std::collections::BTreeMap;
use std::path::Path;

use super::facts::read_optional;
use super::purl::purl_encode;
use crate::error::Result;
use crate::os_release::OsRelease;
use crate::process::Cmd;
use crate::runner::Runner;

// ---------------------------------------------------------------------------------------------
// Distro packages

/// An installed distro package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Package {
    pub(super) kind: PackageKind,
    pub(super) name: String,
    pub(super) version: String,
    pub(super) arch: String,
    /// RPM: the epoch, when not 0.
    pub(super) epoch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PackageKind {
    Deb,
    Rpm,
}

impl Package {
    /// `pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12` (rpm alike, with `epoch`).
    pub(super) fn purl(&self, os: Option<&OsRelease>) -> String {
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
pub(super) fn os_label(os: &OsRelease) -> String {
    if !os.version_id.is_empty() {
        format!("{}-{}", os.id, os.version_id)
    } else if let Some(c) = &os.codename {
        format!("{}-{c}", os.id)
    } else {
        os.id.clone()
    }
}

/// `<root>/etc/os-release`, else `<root>/usr/lib/os-release`; `None` when neither is there.
pub(super) fn read_os_release(root: &Path) -> Result<Option<OsRelease>> {
    for p in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(text) = read_optional(&root.join(p))? {
            return Ok(Some(OsRelease::parse(&text)).filter(|o| !o.id.is_empty()));
        }
    }
    Ok(None)
}

pub(super) fn distro_packages(root: &Path, runner: &mut dyn Runner) -> Result<Vec<Package>> {
    let status = root.join("var/lib/dpkg/status");
    if let Some(text) = read_optional(&status)? {
        return Ok(parse_dpkg_status(&text));
    }
    rpm_packages(root, runner)
}

/// The installed packages of dpkg's status file: stanzas whose `Status` ends in `installed`
/// (`install ok installed`, `hold ok installed`); removed packages that left their
/// configuration files (`deinstall ok config-files`) and half-installed ones are not.
pub(super) fn parse_dpkg_status(text: &str) -> Vec<Package> {
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

/// RPM distros: `rpm --root ROOT -qa`, run by `runner`, when the root has an RPM database (an
/// image root with neither dpkg's status nor an RPM database lists no distro packages; one
/// whose database `rpm` cannot read is an error).
pub(super) fn rpm_packages(root: &Path, runner: &mut dyn Runner) -> Result<Vec<Package>> {
    let has_db = ["var/lib/rpm", "usr/lib/sysimage/rpm"]
        .iter()
        .any(|d| root.join(d).is_dir());
    if !has_db {
        return Ok(Vec::new());
    }
    let cmd = Cmd::new(
        "rpm",
        [
            "--root".to_string(),
            root.display().to_string(),
            "-qa".into(),
            "--qf".into(),
            "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\n".into(),
        ],
    );
    let text = runner
        .output(&cmd)
        .map_err(|e| e.hint("the SBOM lists the RPM packages of the image with `rpm -qa`"))?;
    Ok(parse_rpm_list(&text))
}

/// Lines of `NAME\tEPOCH\tVERSION-RELEASE\tARCH`; the gpg-pubkey pseudo-packages are left out.
pub(super) fn parse_rpm_list(text: &str) -> Vec<Package> {
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
