//! Native bindep: parser and evaluator for bindep.txt / pydep.txt, equal to bindep 2.14.
//!
//! The spec is bindep 2.14's `bindep/depends.py`; `tests/bindep_differential.rs` runs the real
//! bindep next to this module on LOCI's files, generated files and six distros.
//!
//! - [`BindepFile::parse`] is the Parsley grammar (see `parse.rs`).
//! - [`Platform::from_os_release`] is `Depends.platform_profiles` fed by the `distro` library's
//!   reading of an os-release file (`platform:dpkg`, `platform:debian-12`, `platform:redhat`, ...).
//! - [`BindepFile::packages`] is `active_rules` with bindep's truth table for combining the
//!   platform and the user parts of a selector, i.e. what `bindep -l newline PROFILE...` prints.

pub mod cli;
mod parse;
mod version;

pub use parse::{Rule, Selector, VersionConstraint};

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::os_release::OsRelease;

/// The package database bindep queries for installed packages on a platform (dpkg, rpm, ...;
/// not the front end that installs them: that is [`crate::distro::PackageManager`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageDb {
    Dpkg,
    Rpm,
    Emerge,
    Pacman,
    Apk,
    Unknown,
}

/// The platform a bindep file is evaluated for: the `platform:*` profiles bindep 2.14 computes.
#[derive(Debug, Clone)]
pub struct Platform {
    pub os: OsRelease,
    /// `platform:...` profiles, sorted, as `Depends.platform_profiles()` returns them.
    pub profiles: Vec<String>,
    pub package_db: PackageDb,
    /// Set when bindep itself would crash computing the profiles (no distro id, or a release it
    /// cannot compare); `profiles` then holds what could be computed.
    pub error: Option<String>,
}

const PY2: &str = "base-py2";
const PY3: &str = "base-py3";

impl Platform {
    /// The platform described by an os-release file, as bindep sees it through the `distro`
    /// library (reading only that file: no lsb_release, no `/etc/*-release`).
    pub fn from_os_release(os: &OsRelease) -> Self {
        Self::from_os_release_with(os, None)
    }

    /// Like [`Platform::from_os_release`], with the content of `/etc/debian_version`, which
    /// `distro` uses for the release when os-release has neither VERSION_ID nor a version in
    /// PRETTY_NAME (Debian testing/sid).
    pub fn from_os_release_with(os: &OsRelease, debian_version: Option<&str>) -> Self {
        let d = DistroInfo::from_os_release(os, debian_version);
        let (atoms, package_db, error) = platform_atoms(&d);
        let mut profiles: Vec<String> =
            atoms.into_iter().map(|a| format!("platform:{a}")).collect();
        profiles.sort();
        Platform {
            os: os.clone(),
            profiles,
            package_db,
            error,
        }
    }
}

/// What `distro.id()`, `distro.codename()` and `distro.version()` return for an os-release.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DistroInfo {
    id: String,
    /// `distro.name()`: os-release NAME.
    name: String,
    codename: String,
    version: String,
}

impl DistroInfo {
    fn from_os_release(os: &OsRelease, debian_version: Option<&str>) -> Self {
        // distro lower-cases the keys
        let get = |key: &str| -> Option<&str> {
            os.fields
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        // id(): os-release ID, lower-cased, spaces to '_', then NORMALIZED_OS_ID
        let mut id = if os.id.is_empty() {
            get("ID").unwrap_or("").to_string()
        } else {
            os.id.clone()
        }
        .to_lowercase()
        .replace(' ', "_");
        match id.as_str() {
            "ol" => id = "oracle".into(),
            "opensuse-leap" => id = "opensuse".into(),
            _ => {}
        }
        // codename: VERSION_CODENAME (even empty), UBUNTU_CODENAME, else parsed from VERSION
        let codename = if let Some(c) = get("VERSION_CODENAME") {
            c.to_string()
        } else if let Some(c) = get("UBUNTU_CODENAME") {
            c.to_string()
        } else if let Some(v) = get("VERSION") {
            codename_from_version(v).unwrap_or_default()
        } else {
            String::new()
        };
        // version(): VERSION_ID, the version in PRETTY_NAME, then /etc/debian_version on
        // Debian-like systems
        let mut version = get("VERSION_ID").unwrap_or("").to_string();
        if version.is_empty() {
            version =
                version_from_release_line(get("PRETTY_NAME").unwrap_or("")).unwrap_or_default();
        }
        if version.is_empty() {
            let like = get("ID_LIKE").unwrap_or("");
            if id == "debian" || like.split_whitespace().any(|w| w == "debian") {
                version = debian_version.unwrap_or("").trim().to_string();
            }
        }
        DistroInfo {
            id,
            name: get("NAME").unwrap_or("").to_string(),
            codename,
            version,
        }
    }
}

/// distro's `re.search(r"\((\D+)\)|,\s*(\D+)", VERSION)`, `group(1) or group(2)`.
fn codename_from_version(v: &str) -> Option<String> {
    let s: Vec<char> = v.chars().collect();
    let nd = |c: char| !c.is_numeric();
    for i in 0..s.len() {
        if s[i] == '(' {
            // \D+ greedy, then back off to the last ')' inside the run
            let mut end = i + 1;
            while end < s.len() && nd(s[end]) {
                end += 1;
            }
            if let Some(j) = (i + 2..end).rev().find(|&j| s[j] == ')') {
                return Some(s[i + 1..j].iter().collect());
            }
        }
        if s[i] == ',' {
            let mut p = i + 1;
            while p < s.len() && s[p].is_whitespace() {
                p += 1;
            }
            let mut end = p;
            while end < s.len() && nd(s[end]) {
                end += 1;
            }
            if end > p {
                let g: String = s[p..end].iter().collect();
                return (!g.is_empty()).then_some(g);
            }
            if p > i + 1 {
                // \s* gives one white-space character back to \D+
                return Some(s[p - 1].to_string());
            }
        }
    }
    None
}

/// The version distro's `_parse_distro_release_content` finds in a release line such as
/// PRETTY_NAME, i.e. group 2 of
/// `(?:[^)]*\)(.*)\()? *(?:STL )?([\d.+\-a-z]*\d) *(?:esaeler *)?(.+)` matched on the reversed line.
fn version_from_release_line(line: &str) -> Option<String> {
    let r: Vec<char> = line.trim().chars().rev().collect();
    let in_class = |c: char| c.is_numeric() || c.is_ascii_lowercase() || ".+-".contains(c);
    let is_d = |c: char| c.is_numeric();
    // the rest of the pattern from position s; returns the version group
    let rest = |mut s: usize| -> Option<String> {
        while s < r.len() && r[s] == ' ' {
            s += 1;
        }
        if r[s.min(r.len())..].starts_with(&['S', 'T', 'L', ' ']) {
            s += 4;
        }
        let mut end = s;
        while end < r.len() && in_class(r[end]) {
            end += 1;
        }
        // back off to the last digit that leaves at least one character for (.+)
        (s + 1..=end)
            .rev()
            .find(|&k| is_d(r[k - 1]) && k < r.len())
            .map(|k| r[s..k].iter().rev().collect())
    };
    if let Some(close) = r.iter().position(|&c| c == ')') {
        // (.*) greedy: try the last '(' first
        for open in (close + 1..r.len()).rev().filter(|&o| r[o] == '(') {
            if let Some(v) = rest(open + 1) {
                return Some(v);
            }
        }
    }
    rest(0)
}

/// `Depends.platform_profiles()` without the `platform:` prefix.
fn platform_atoms(d: &DistroInfo) -> (HashSet<String>, PackageDb, Option<String>) {
    let mut atoms = HashSet::new();
    if d.id.is_empty() {
        return (
            atoms,
            PackageDb::Unknown,
            Some("Unable to determine distro ID. Does /etc/os-release exist or is lsb_release installed?".into()),
        );
    }
    let codename = d.codename.to_lowercase();
    let release = d.version.to_lowercase();
    let release_version = version::pep440(&release);
    let id: String = d.id.split_whitespace().collect::<String>().to_lowercase();
    let mut error = None;
    // `release_version < as_ver(x)` raises TypeError when the release is not a PEP 440 version
    let mut older_than = |x: &str| -> bool {
        match &release_version {
            Some(v) => *v < version::pep440(x).expect("constant version"),
            None => {
                error.get_or_insert_with(|| {
                    format!(
                        "cannot compare distro release {release:?} with {x}: not a valid version"
                    )
                });
                false
            }
        }
    };
    let bits = |atoms: &mut HashSet<String>, id: &str| {
        let words: Vec<&str> = codename.split_whitespace().collect();
        for i in 0..words.len() {
            atoms.insert(format!("{id}-{}", words[..=i].join("-")));
        }
        let parts: Vec<&str> = release.split('.').collect();
        for i in 0..parts.len() {
            atoms.insert(format!("{id}-{}", parts[..=i].join(".")));
        }
    };
    atoms.insert(id.clone());
    bits(&mut atoms, &id);
    let pm = match id.as_str() {
        "debian" | "ubuntu" | "pop" => {
            atoms.insert("dpkg".into());
            let py3 = match id.as_str() {
                "ubuntu" => !older_than("16.04"),
                "debian" => release_version.is_none() || !older_than("10"),
                _ => true,
            };
            atoms.insert(if py3 { PY3 } else { PY2 }.into());
            PackageDb::Dpkg
        }
        "amzn"
        | "amazonami"
        | "centos"
        | "rhel"
        | "redhatenterpriseserver"
        | "redhatenterpriseworkstation"
        | "fedora"
        | "opensuseproject"
        | "opensuse"
        | "opensuse-leap"
        | "opensuse-tumbleweed"
        | "sles"
        | "suselinux"
        | "ol"
        | "oracle"
        | "rocky"
        | "almalinux" => {
            let name = d.name.to_lowercase();
            let py = |older: bool| if older { PY2 } else { PY3 }.to_string();
            if id == "redhatenterpriseserver" || id == "redhatenterpriseworkstation" {
                atoms.insert("rhel".into());
                bits(&mut atoms, "rhel");
                atoms.insert(py(older_than("8")));
            } else if id == "rhel" && name.contains("server") {
                atoms.insert("redhatenterpriseserver".into());
                bits(&mut atoms, "redhatenterpriseserver");
                atoms.insert(py(older_than("8")));
            } else if id == "rhel" && name.contains("workstation") {
                atoms.insert("redhatenterpriseworkstation".into());
                bits(&mut atoms, "redhatenterpriseworkstation");
                atoms.insert(py(older_than("8")));
            } else if id.contains("amzn") {
                atoms.insert("amazonami".into());
                bits(&mut atoms, "amazonami");
            } else if id.contains("amazonami") {
                atoms.insert("amzn".into());
                bits(&mut atoms, "amzn");
            } else if id.contains("opensuse") {
                atoms.insert("opensuse".into());
                bits(&mut atoms, "opensuse");
                atoms.insert("opensuseproject".into());
                bits(&mut atoms, "opensuseproject");
            } else if id.contains("sles") {
                atoms.insert("suselinux".into());
                bits(&mut atoms, "suselinux");
            } else if id.contains("suselinux") {
                atoms.insert("sles".into());
                bits(&mut atoms, "sles");
            } else if id.contains("fedora") {
                atoms.insert(py(older_than("23")));
            } else if ["centos", "oracle", "rhel", "rocky", "almalinux"]
                .iter()
                .any(|w| id.contains(w))
            {
                atoms.insert(py(older_than("8")));
            }
            if id.contains("suse") || id == "sles" {
                atoms.insert("suse".into());
            } else {
                atoms.insert("redhat".into());
            }
            atoms.insert("rpm".into());
            PackageDb::Rpm
        }
        "gentoo" => {
            atoms.insert("emerge".into());
            PackageDb::Emerge
        }
        "arch" | "manjaro" => {
            atoms.insert("pacman".into());
            PackageDb::Pacman
        }
        "alpine" => {
            atoms.insert("apk".into());
            PackageDb::Apk
        }
        _ => PackageDb::Unknown,
    };
    (atoms, pm, error)
}

/// `line` with a caret under its character `column`; a long line (a 10 MB line of junk) is cut
/// to a window of about [`crate::error::QUOTE_MAX`] characters around the column, "…" marking
/// the cuts.
fn pointed(line: &str, column: usize) -> String {
    let half = crate::error::QUOTE_MAX / 2;
    let start = column.saturating_sub(half);
    let mut shown = String::new();
    let mut caret = column - start;
    if start > 0 {
        shown.push('…');
        caret += 1;
    }
    let mut chars = line.chars().skip(start);
    shown.extend(chars.by_ref().take(2 * half));
    if chars.next().is_some() {
        shown.push('…');
    }
    format!("{shown}\n{}^", " ".repeat(caret))
}

/// A parsed bindep file.
#[derive(Debug, Clone)]
pub struct BindepFile {
    pub name: String,
    pub rules: Vec<Rule>,
}

impl BindepFile {
    /// Parses bindep file text. `name` is used in error messages (`name:line`).
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        // Python reads the file in text mode: universal newlines
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let mut rules = Vec::new();
        let body = text.strip_suffix('\n').unwrap_or(&text);
        for (i, line) in body.split('\n').enumerate() {
            match parse::parse_line(line, i + 1) {
                Ok(Some(rule)) => rules.push(rule),
                Ok(None) => {}
                Err(e) => {
                    let col = e.column + 1;
                    return Err(Error::new(format!(
                        "{name}:{}:{col}: bindep syntax error: expected {}",
                        i + 1,
                        e.expected
                    ))
                    .cause(pointed(line, e.column))
                    .hint(
                        "a line is `name [selector ...] [op version,...] [# comment]`: a package name of \
                         two or more characters at the start of the line, selectors such as \
                         `[platform:dpkg (nova ceph) !jammy]` after one space, no tabs or trailing spaces",
                    ));
                }
            }
        }
        Ok(BindepFile {
            name: name.to_string(),
            rules,
        })
    }

    /// The rules active for `profiles` plus the platform's profiles (`Depends.active_rules`).
    pub fn active_rules(&self, platform: &Platform, profiles: &[String]) -> Vec<&Rule> {
        let default = ["default".to_string()];
        let user: &[String] = if profiles.is_empty() {
            &default
        } else {
            profiles
        };
        let set: HashSet<&str> = user
            .iter()
            .chain(platform.profiles.iter())
            .map(String::as_str)
            .collect();
        self.rules.iter().filter(|r| rule_active(r, &set)).collect()
    }

    /// What `bindep -f FILE -l newline PROFILE...` prints, one entry per line (an empty
    /// `profiles` means bindep's `default` profile).
    pub fn packages(&self, platform: &Platform, profiles: &[String]) -> Vec<String> {
        self.active_rules(platform, profiles)
            .into_iter()
            .map(|r| r.name.clone())
            .collect()
    }

    /// The user profiles named anywhere in the file, sorted (`Depends.profiles()`).
    pub fn profiles(&self) -> Vec<String> {
        let mut set: Vec<String> = Vec::new();
        for rule in &self.rules {
            for s in &rule.selectors {
                match s {
                    Selector::Group(g) => set.extend(g.iter().map(|(_, n)| n.clone())),
                    Selector::Profile { name, .. } if !name.starts_with("platform:") => {
                        set.push(name.clone())
                    }
                    Selector::Profile { .. } => {}
                }
            }
        }
        set.sort();
        set.dedup();
        set
    }
}

/// One part (platform or user) of a selector, as `_partition` splits it.
enum Part<'a> {
    One(bool, &'a str),
    Group(&'a [(bool, String)]),
}

/// `_evaluate`: `None` when the part is empty, else whether it matches.
fn evaluate(part: &[Part], profiles: &HashSet<&str>) -> Option<bool> {
    if part.is_empty() {
        return None;
    }
    let mut positive = false;
    let mut match_found = false;
    let mut group_found = false;
    let mut group_match_found = false;
    for p in part {
        match p {
            Part::Group(g) => {
                group_found = true;
                if g.iter()
                    .all(|(sense, name)| profiles.contains(name.as_str()) == *sense)
                {
                    group_match_found = true;
                }
            }
            Part::One(sense, name) => {
                if *sense {
                    positive = true;
                    if profiles.contains(name) {
                        match_found = true;
                    }
                } else if profiles.contains(name) {
                    return Some(false);
                }
            }
        }
    }
    Some(group_match_found || match_found || (!group_found && !positive))
}

fn rule_active(rule: &Rule, profiles: &HashSet<&str>) -> bool {
    let mut platform = Vec::new();
    let mut user = Vec::new();
    for s in &rule.selectors {
        match s {
            Selector::Group(g) => user.push(Part::Group(g)),
            Selector::Profile { positive, name } if name.starts_with("platform:") => {
                platform.push(Part::One(*positive, name))
            }
            Selector::Profile { positive, name } => user.push(Part::One(*positive, name)),
        }
    }
    // bindep's truth table: any definite "no" excludes, otherwise included
    !matches!(evaluate(&platform, profiles), Some(false))
        && !matches!(evaluate(&user, profiles), Some(false))
}

#[cfg(test)]
mod tests;
