//! Which wheel pip would pick: wheel file names and tags, `requires-python`, and pip's ranking
//! of the files of one version. Pure functions of the index's answer.

use std::cmp::Ordering;
use std::collections::HashMap;

use reqwest::Url;

use crate::constraints::normalize;

/// One file of a project, as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub filename: String,
    /// Absolute (resolved against the page's URL).
    pub url: Url,
    /// The sha256 the index gives, lowercase hex (files without one are never chosen).
    pub sha256: Option<String>,
    /// PEP 592: yanked files are never chosen.
    pub yanked: bool,
    pub requires_python: Option<String>,
    pub size: Option<u64>,
}

/// A wheel's file name, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    pub name: String,
    pub version: String,
    pub build: Option<String>,
    /// Every `py-abi-plat` triple of the (possibly compressed) tag set.
    pub tags: Vec<String>,
}

impl WheelName {
    /// Parses `name-version(-build)?-py-abi-plat.whl`; `None` for anything else (including
    /// names with a path separator).
    pub fn parse(file: &str) -> Option<WheelName> {
        if file.contains(['/', '\\']) || file.starts_with('.') {
            return None;
        }
        let stem = file.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, py, abi, plat) = match parts[..] {
            [n, v, p, a, pl] => (n, v, None, p, a, pl),
            [n, v, b, p, a, pl] => {
                if !b.starts_with(|c: char| c.is_ascii_digit()) {
                    return None;
                }
                (n, v, Some(b.to_string()), p, a, pl)
            }
            _ => return None,
        };
        if [name, version, py, abi, plat].iter().any(|s| s.is_empty()) {
            return None;
        }
        let mut tags = Vec::new();
        for p in py.split('.') {
            for a in abi.split('.') {
                for pl in plat.split('.') {
                    tags.push(format!("{p}-{a}-{pl}"));
                }
            }
        }
        Some(WheelName {
            name: name.to_string(),
            version: version.to_string(),
            build,
            tags,
        })
    }

    /// Whether this is `version` exactly: case-insensitive, with the `_` a wheel name writes
    /// for `-` (both spellings of the pin are accepted).
    pub fn is_version(&self, version: &str) -> bool {
        let pin = version.to_ascii_lowercase();
        let mine = self.version.to_ascii_lowercase();
        mine == pin || mine == pin.replace('-', "_")
    }
}

/// The tags a target supports, best first (pip's `Compatible tags`), indexed.
#[derive(Debug, Clone, Default)]
pub struct Tags {
    rank: HashMap<String, usize>,
}

impl Tags {
    pub fn new<I: IntoIterator<Item = String>>(best_first: I) -> Self {
        let mut rank = HashMap::new();
        for (i, t) in best_first.into_iter().enumerate() {
            rank.entry(t).or_insert(i);
        }
        Tags { rank }
    }

    pub fn is_empty(&self) -> bool {
        self.rank.is_empty()
    }

    /// The rank of the best tag of a wheel (lower is better); `None` when it supports none.
    pub fn best(&self, wheel: &WheelName) -> Option<usize> {
        wheel
            .tags
            .iter()
            .filter_map(|t| self.rank.get(t).copied())
            .min()
    }
}

/// The wheel pip would install for `name===version` on a target with `tags` and Python
/// `python` (e.g. `3.11.7`), as pip ranks the files of that version: the wheels of this
/// project the target supports (tags, `requires-python`), not yanked, the one whose best tag
/// ranks first, the higher build tag on a tie; an sdist ranks below every such wheel. When
/// every file of the version is yanked (PEP 592: an exact pin still gets it), the same among
/// the yanked wheels. `None` when pip would take no wheel, when the wheel it would take has no
/// sha256 to check, or when a `requires-python` cannot be evaluated (pip decides then).
pub fn best_wheel<'a>(
    files: &'a [File],
    name: &str,
    version: &str,
    tags: &Tags,
    python: Option<&str>,
) -> Option<&'a File> {
    let want = normalize(name);
    let mut wheels: Vec<(usize, WheelName, &'a File)> = Vec::new();
    for f in files {
        let Some(w) = WheelName::parse(&f.filename) else {
            continue;
        };
        if normalize(&w.name) != want || !w.is_version(version) {
            continue;
        }
        let Some(rank) = tags.best(&w) else { continue };
        match fits_python(f, python) {
            Some(true) => {}
            Some(false) => continue,
            None => return None,
        }
        wheels.push((rank, w, f));
    }
    let best_of = |yanked: bool| {
        let mut best: Option<&(usize, WheelName, &'a File)> = None;
        for c in wheels.iter().filter(|c| c.2.yanked == yanked) {
            let better = match best {
                None => true,
                Some(b) => {
                    c.0 < b.0
                        || (c.0 == b.0 && build_order(&c.1.build, &b.1.build) == Ordering::Greater)
                }
            };
            if better {
                best = Some(c);
            }
        }
        best.map(|c| c.2)
    };
    let chosen = match best_of(false) {
        Some(f) => f,
        None => {
            // Any other file of this version not yanked (an sdist) is what pip takes then.
            let marker = format!("-{}.", version.to_ascii_lowercase());
            let other = files.iter().any(|f| {
                !f.yanked
                    && WheelName::parse(&f.filename).is_none()
                    && f.filename.to_ascii_lowercase().contains(&marker)
            });
            if other {
                return None;
            }
            best_of(true)?
        }
    };
    chosen.sha256.as_ref().map(|_| chosen)
}

/// The size of the source distribution of `version` among `files` (the largest, when there are
/// several), as the index gives it: the prefetch starts the longest builds first with it.
pub fn sdist_size(files: &[File], version: &str) -> Option<u64> {
    let marker = format!("-{}.", version.to_ascii_lowercase());
    let marker_ = marker.replace('-', "_");
    files
        .iter()
        .filter(|f| {
            let n = f.filename.to_ascii_lowercase();
            WheelName::parse(&f.filename).is_none()
                && (n.ends_with(".tar.gz") || n.ends_with(".zip") || n.ends_with(".tar.bz2"))
                && (n.contains(&marker) || n.contains(&marker_))
        })
        .filter_map(|f| f.size)
        .max()
}

/// Build tags compare as (number, rest); no build tag is lowest.
fn build_order(a: &Option<String>, b: &Option<String>) -> Ordering {
    let key = |s: &Option<String>| {
        s.as_ref().map(|s| {
            let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            (
                digits.parse::<u64>().unwrap_or(0),
                s[digits.len()..].to_string(),
            )
        })
    };
    key(a).cmp(&key(b))
}

/// Whether `file` installs on Python `python`: yes when it declares no Requires-Python or
/// `python` meets it, no when it does not, `None` when that cannot be told (no target Python,
/// or a clause [`requires_python`] cannot evaluate).
pub fn fits_python(file: &File, python: Option<&str>) -> Option<bool> {
    match file
        .requires_python
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        None => Some(true),
        Some(spec) => python.and_then(|py| requires_python(spec, py)),
    }
}

/// Whether Python `python` (`3.11.7`) meets the specifier set `spec` (`>=3.8,!=3.9.*`);
/// `None` when a clause is beyond this small evaluator (pre-releases, arbitrary equality).
pub fn requires_python(spec: &str, python: &str) -> Option<bool> {
    let py = release(python)?;
    for clause in spec.split(',') {
        let clause = clause.trim();
        if clause.is_empty() {
            continue;
        }
        let op_len = clause
            .find(|c: char| c.is_ascii_digit())
            .filter(|&i| i > 0)?;
        let (op, v) = (clause[..op_len].trim(), clause[op_len..].trim());
        let (v, wildcard) = match v.strip_suffix(".*") {
            Some(v) => (v, true),
            None => (v, false),
        };
        let want = release(v)?;
        let cmp = compare(&py, &want);
        let prefix = py.len() >= want.len() && py[..want.len()] == want[..];
        let ok = match (op, wildcard) {
            ("==", true) => prefix,
            ("!=", true) => !prefix,
            ("==", false) => cmp == Ordering::Equal,
            ("!=", false) => cmp != Ordering::Equal,
            (">=", false) => cmp != Ordering::Less,
            ("<=", false) => cmp != Ordering::Greater,
            (">", false) => cmp == Ordering::Greater,
            ("<", false) => cmp == Ordering::Less,
            ("~=", false) if want.len() >= 2 => {
                cmp != Ordering::Less
                    && py.len() >= want.len() - 1
                    && py[..want.len() - 1] == want[..want.len() - 1]
            }
            _ => return None,
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

/// A release number (`3.11.7`): `None` for anything with more than digits and dots.
fn release(v: &str) -> Option<Vec<u64>> {
    v.split('.').map(|p| p.parse::<u64>().ok()).collect()
}

/// Compares release numbers, padding the shorter with zeros.
fn compare(a: &[u64], b: &[u64]) -> Ordering {
    let n = a.len().max(b.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..n)
        .map(|i| at(a, i).cmp(&at(b, i)))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}
