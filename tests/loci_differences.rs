//! Every difference between loci's files and LOCI master's (tests/fixtures/loci-master) is a
//! choice written down: README.md's "Differences from LOCI master" lists each one, by the exact
//! words this test prints for it, with its reason, and lists nothing that is no difference.
//!
//! Compared:
//! - bindep.txt, evaluated by loci's bindep for every profile set a build can pass (no profile,
//!   one, two; always with the release codename, as both pass it) on the dpkg distros both
//!   build for (Ubuntu jammy and noble, Debian bookworm and trixie): each package one file
//!   installs and the other does not, with the smallest profile sets that show it. loci's
//!   rpm lines (CentOS Stream, Rocky) have no counterpart in LOCI master: one entry.
//! - pydep.txt the same way (its lines name no platform).
//! - python-custom-name-mapping.txt, line by line.
//! - The build arguments of Dockerfile and Dockerfile.base: each of LOCI master's, present in
//!   loci's file of the same name with the same default.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use loci::bindep::{BindepFile, Platform};
use loci::os_release::OsRelease;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The services (and the requirements image) among the profile names: the first word of a
/// shown profile set.
const SERVICES: &[&str] = &[
    "barbican",
    "blazar",
    "ceilometer",
    "cinder",
    "cloudkitty",
    "cyborg",
    "designate",
    "freezer",
    "glance",
    "heat",
    "horizon",
    "ironic",
    "keystone",
    "magnum",
    "manila",
    "masakari",
    "mistral",
    "neutron",
    "nova",
    "octavia",
    "placement",
    "requirements",
    "skyline",
    "swift",
    "tacker",
    "trove",
    "watcher",
    "zaqar",
];

const DPKG: &[&str] = &[
    "debian-bookworm",
    "debian-trixie",
    "ubuntu-jammy",
    "ubuntu-noble",
];

fn platform(name: &str) -> (Platform, String) {
    let os = OsRelease::parse(&read(&format!("tests/fixtures/os-release/{name}")));
    let codename = os.codename.clone().unwrap_or_default();
    (Platform::from_os_release(&os), codename)
}

/// Profile set -> the distros where a difference shows.
type BySet<'a> = BTreeMap<Vec<String>, BTreeSet<&'a str>>;

/// The differences of one bindep-format file: `FILE +PKG for SETS` (loci installs it, LOCI
/// does not) or `FILE -PKG for SETS`, SETS the smallest profile sets that show it, then the
/// distros when not all of `distros`.
fn bindep_differences(file: &str, distros: &[&str]) -> BTreeSet<String> {
    let ours = BindepFile::parse(file, &read(file)).unwrap();
    let theirs =
        BindepFile::parse(file, &read(&format!("tests/fixtures/loci-master/{file}"))).unwrap();
    let names: BTreeSet<String> = ours
        .profiles()
        .into_iter()
        .chain(theirs.profiles())
        .filter(|p| !p.starts_with("platform:"))
        .collect();
    let names: Vec<String> = names.into_iter().collect();
    let mut sets: Vec<Vec<String>> = vec![vec![]];
    for (i, a) in names.iter().enumerate() {
        sets.push(vec![a.clone()]);
        for b in &names[i + 1..] {
            sets.push(vec![a.clone(), b.clone()]);
        }
    }
    // (sign, package) -> profile set -> distros.
    let mut found: BTreeMap<(char, String), BySet> = BTreeMap::new();
    for distro in distros {
        let (p, codename) = platform(distro);
        for set in &sets {
            let mut profiles = set.clone();
            profiles.push(codename.clone());
            let a: BTreeSet<String> = ours.packages(&p, &profiles).into_iter().collect();
            let b: BTreeSet<String> = theirs.packages(&p, &profiles).into_iter().collect();
            for (sign, pkgs) in [('+', a.difference(&b)), ('-', b.difference(&a))] {
                for pkg in pkgs {
                    found
                        .entry((sign, pkg.clone()))
                        .or_default()
                        .entry(set.clone())
                        .or_default()
                        .insert(distro);
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    for ((sign, pkg), by_set) in found {
        // The smallest sets: a set is left out when a subset of it shows the same difference on
        // the same distros.
        let mut minimal: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for (set, distros) in &by_set {
            let covered = by_set.iter().any(|(other, d)| {
                other.len() < set.len()
                    && other.iter().all(|p| set.contains(p))
                    && d.is_superset(distros)
            });
            if !covered {
                // The service first: `nova tpm`, not `tpm nova`.
                let mut set = set.clone();
                set.sort_by_key(|p| !SERVICES.contains(&p.as_str()));
                let shown = if set.is_empty() {
                    "every image".to_string()
                } else {
                    set.join(" ")
                };
                minimal.insert(shown, distros.clone());
            }
        }
        let all: BTreeSet<&str> = minimal.values().flatten().copied().collect();
        let sets: Vec<&str> = minimal.keys().map(String::as_str).collect();
        let mut line = format!("`{file}` {sign}`{pkg}` for {}", sets.join(", "));
        if all.len() < distros.len() {
            let on: Vec<&str> = all.into_iter().collect();
            line.push_str(&format!(" on {}", on.join(", ")));
        }
        out.insert(line);
    }
    out
}

/// LOCI master's rpm coverage against loci's: loci's file has rpm lines, LOCI master's none
/// that name an rpm package (its unqualified lines are dpkg names).
fn rpm_difference() -> BTreeSet<String> {
    let (p, codename) = platform("centos-stream-9");
    let ours = BindepFile::parse("bindep.txt", &read("bindep.txt")).unwrap();
    let profiles = vec!["nova".to_string(), "requirements".into(), codename];
    assert!(
        ours.packages(&p, &profiles)
            .contains(&"libvirt-devel".to_string()),
        "loci's bindep.txt has rpm lines"
    );
    BTreeSet::from(["`bindep.txt` on CentOS Stream and Rocky Linux".to_string()])
}

fn mapping_differences() -> BTreeSet<String> {
    let lines = |text: String| -> BTreeSet<String> {
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    };
    let ours = lines(read("python-custom-name-mapping.txt"));
    let theirs = lines(read(
        "tests/fixtures/loci-master/python-custom-name-mapping.txt",
    ));
    let mut out = BTreeSet::new();
    for l in ours.difference(&theirs) {
        out.insert(format!("`python-custom-name-mapping.txt` +`{l}`"));
    }
    for l in theirs.difference(&ours) {
        out.insert(format!("`python-custom-name-mapping.txt` -`{l}`"));
    }
    out
}

/// ARG name -> default ("" for none), of every stage: the first declaration (a later `ARG NAME`
/// without a value takes it; a later one with another value is refused, but PROJECT's in
/// loci's requirements stage).
fn args_of(text: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let Some(a) = line.trim().strip_prefix("ARG ") else {
            continue;
        };
        let (k, v) = match a.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim().trim_matches('"')),
            None => (a.trim(), ""),
        };
        if let Some(before) = out.get(k) {
            // A stage's `ARG NAME` takes the global value.
            if !a.contains('=') {
                continue;
            }
            // loci's requirements stage defaults PROJECT to requirements; the service
            // stages' PROJECT has none.
            if before != v && k != "PROJECT" {
                panic!("ARG {k} is declared twice, with {before:?} and {v:?}");
            }
            continue;
        }
        out.insert(k.to_string(), v.to_string());
    }
    out
}

fn argument_differences() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for file in ["Dockerfile", "Dockerfile.base"] {
        let ours = args_of(&read(file));
        let theirs = args_of(&read(&format!("tests/fixtures/loci-master/{file}")));
        for (name, default) in &theirs {
            match ours.get(name) {
                None => {
                    out.insert(format!("`{file}` lacks `ARG {name}`"));
                }
                Some(mine) if mine != default => {
                    let shown = |v: &str| {
                        if v.is_empty() {
                            "none".to_string()
                        } else {
                            format!("`{v}`")
                        }
                    };
                    out.insert(format!(
                        "`{file}` `{name}` defaults to {} (LOCI master's {})",
                        shown(mine),
                        shown(default)
                    ));
                }
                Some(_) => {}
            }
        }
    }
    out
}

/// Every difference, as the README lists it.
fn differences() -> BTreeSet<String> {
    let mut all = bindep_differences("bindep.txt", DPKG);
    all.extend(rpm_difference());
    all.extend(bindep_differences("pydep.txt", &["ubuntu-noble"]));
    all.extend(mapping_differences());
    all.extend(argument_differences());
    all
}

const SECTION: &str = "### Differences from LOCI master\n";

/// The README's list: the lines `- DIFFERENCE: reason` of its section, by their difference.
fn readme_list() -> BTreeSet<String> {
    let readme = read("README.md");
    let start = readme
        .find(SECTION)
        .expect("README.md has a \"Differences from LOCI master\" section")
        + SECTION.len();
    let rest = &readme[start..];
    let end = rest.find("\n#").unwrap_or(rest.len());
    rest[..end]
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .filter(|l| l.starts_with('`'))
        .map(|l| {
            l.split_once(": ")
                .unwrap_or_else(|| panic!("README difference without its reason: {l}"))
                .0
                .to_string()
        })
        .collect()
}

#[test]
fn every_difference_from_loci_master_is_in_the_readme_and_nothing_else() {
    let found = differences();
    let listed = readme_list();
    let missing: Vec<&String> = found.difference(&listed).collect();
    let stale: Vec<&String> = listed.difference(&found).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README.md's \"Differences from LOCI master\" is not the list of differences.\n\
         Not listed (add `- DIFFERENCE: why`):\n{}\n\nListed but no difference (remove):\n{}",
        missing
            .iter()
            .map(|s| format!("- {s}: "))
            .collect::<Vec<_>>()
            .join("\n"),
        stale
            .iter()
            .map(|s| format!("- {s}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

#[test]
fn the_comparison_sees_a_difference_when_there_is_one() {
    // designate's bind9-utils is in loci's file and not in LOCI master's.
    assert!(
        differences().contains("`bindep.txt` +`bind9-utils` for designate"),
        "{:#?}",
        differences()
    );
    // and LOCI master's own arguments are all declared by loci's Dockerfile.
    assert!(!argument_differences()
        .iter()
        .any(|d| d.starts_with("`Dockerfile` lacks")));
}
