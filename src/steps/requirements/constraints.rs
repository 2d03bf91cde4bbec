//! Edits of the constraints files: the constraints LOCI drops or does not build, `git+`
//! entries replaced by pins, pins of trees built from source, and the build list.

use std::collections::BTreeSet;

use super::{BuildItem, DropRule};
use crate::constraints::{line_name, normalize};

/// The constraints LOCI drops before building.
pub fn drop_rules(project_ref: &str, arch: &str) -> Vec<DropRule> {
    let mut drops = Vec::new();
    if project_ref == "master" {
        drops.push(DropRule {
            name: "setuptools".into(),
            reason: "PROJECT_REF=master: its pin clashes with other constrained packages".into(),
        });
    }
    drops.push(DropRule {
        name: "ceilometer".into(),
        reason: "a service built as its own image, not a library wheel".into(),
    });
    if arch == "aarch64" {
        drops.push(DropRule {
            name: "confluent-kafka".into(),
            reason:
                "aarch64: the distro's librdkafka is too old to build it (x86_64 uses PyPI's wheel)"
                    .into(),
        });
    }
    drops
}

/// The constraints LOCI's requirements.sh leaves out of the build (`egrep -v
/// "(scipy|scikit-learn)"`): they stay in upper-constraints.txt, and a service that needs them
/// installs PyPI's binary wheels. LOCI's pattern matches any line containing either word; here
/// the two names themselves (the only such lines in the 2026.1 constraints).
pub fn not_built() -> Vec<DropRule> {
    ["scipy", "scikit-learn"]
        .into_iter()
        .map(|name| DropRule {
            name: name.into(),
            reason: "an analytics package LOCI does not build: huge build times, no binaries off x86 (it stays a constraint)"
                .into(),
        })
        .collect()
}

/// Names listed in a REQUIREMENTS_ONLY_FILE: one per line (anything after the name, such as a
/// version, is ignored), `#` comments.
pub fn parse_only_list(text: &str) -> Vec<String> {
    text.lines().filter_map(line_name).map(normalize).collect()
}

/// Removes every line whose project is dropped by `drops`; returns the new text and the
/// removed lines.
pub fn apply_drops(text: &str, drops: &[DropRule]) -> (String, Vec<String>) {
    let names: Vec<String> = drops.iter().map(|d| normalize(&d.name)).collect();
    let mut out = String::with_capacity(text.len());
    let mut removed = Vec::new();
    for line in text.split_inclusive('\n') {
        if !line.trim_start().starts_with("git+") {
            if let Some(n) = line_name(line) {
                if names.contains(&normalize(n)) {
                    removed.push(line.trim_end().to_string());
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    (out, removed)
}

/// The `git+` entries (unnamed constraints) of a constraints file.
pub fn git_entries(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("git+"))
        .map(String::from)
        .collect()
}

/// Replaces the `git+` entries by `name===version` pins, appended at the end as LOCI does.
pub fn replace_git_entries(text: &str, pins: &[(String, String)]) -> String {
    let mut out: String = text
        .split_inclusive('\n')
        .filter(|l| !l.trim_start().starts_with("git+"))
        .collect();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for (name, version) in pins {
        out.push_str(&format!("{name}==={version}\n"));
    }
    out
}

/// Pins every line of project `name` to `version` (keeping the file's spelling of the name,
/// dropping markers); false when no line names it.
pub fn pin_version(text: &str, name: &str, version: &str) -> (String, bool) {
    let want = normalize(name);
    let mut found = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line_name(line) {
            Some(n) if !line.trim_start().starts_with("git+") && normalize(n) == want => {
                if !found {
                    out.push_str(&format!("{n}==={version}\n"));
                }
                found = true;
            }
            _ => out.push_str(line),
        }
    }
    (out, found)
}

/// The build list: every named constraint line (markers kept: pip skips lines whose markers
/// do not match), then the extras that are not constraints, without the projects in `skip`
/// (already built from source), restricted to `only`.
pub fn build_list(
    text: &str,
    extras: &[String],
    only: Option<&[String]>,
    skip: &BTreeSet<String>,
) -> Vec<BuildItem> {
    let mut items: Vec<BuildItem> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("git+") {
            continue;
        }
        if let Some(n) = line_name(line) {
            items.push(BuildItem {
                name: normalize(n),
                requirement: line.to_string(),
            });
        }
    }
    for e in extras {
        let Some(n) = line_name(e) else { continue };
        let n = normalize(n);
        if !items.iter().any(|i| i.name == n) {
            items.push(BuildItem {
                name: n,
                requirement: e.clone(),
            });
        }
    }
    items.retain(|i| !skip.contains(&i.name));
    if let Some(only) = only {
        items.retain(|i| only.contains(&i.name));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(names: &[&str]) -> Vec<DropRule> {
        names
            .iter()
            .map(|n| DropRule {
                name: n.to_string(),
                reason: String::new(),
            })
            .collect()
    }

    #[test]
    fn drop_rules_follow_ref_and_arch() {
        let names = |r: Vec<DropRule>| r.into_iter().map(|d| d.name).collect::<Vec<_>>();
        assert_eq!(
            names(drop_rules("master", "x86_64")),
            ["setuptools", "ceilometer"]
        );
        assert_eq!(names(drop_rules("stable/2026.1", "x86_64")), ["ceilometer"]);
        assert_eq!(
            names(drop_rules("stable/2026.1", "aarch64")),
            ["ceilometer", "confluent-kafka"]
        );
    }

    #[test]
    fn drops_whole_names_only() {
        let text = "setuptools===80.9.0\nsetuptools-scm===8.0\nceilometer===24.0.0\nceilometermiddleware===3.10.0\n\
                    confluent_kafka===2.13.0;python_version>='3.10'\nsix===1.17.0\n";
        let (out, removed) = apply_drops(text, &drop_rules("master", "aarch64"));
        assert_eq!(
            out,
            "setuptools-scm===8.0\nceilometermiddleware===3.10.0\nsix===1.17.0\n"
        );
        assert_eq!(removed.len(), 3);
        let (out, removed) = apply_drops(text, &drop_rules("stable/2026.1", "x86_64"));
        assert!(out.contains("setuptools===80.9.0") && out.contains("confluent_kafka"));
        assert_eq!(removed, ["ceilometer===24.0.0"]);
    }

    #[test]
    fn git_entries_are_replaced_by_pins() {
        let text = "six===1.17.0\ngit+https://opendev.org/x/foo@master#egg=foo\npbr===7.0.3\n";
        assert_eq!(
            git_entries(text),
            ["git+https://opendev.org/x/foo@master#egg=foo"]
        );
        let out = replace_git_entries(text, &[("foo_bar".into(), "1.2.3.dev4".into())]);
        assert_eq!(out, "six===1.17.0\npbr===7.0.3\nfoo_bar===1.2.3.dev4\n");
        // Not dropped by rules either, and never a build item.
        assert_eq!(apply_drops(text, &rules(&["git"])).0, text);
        assert!(build_list(text, &[], None, &BTreeSet::new())
            .iter()
            .all(|i| !i.requirement.starts_with("git+")));
    }

    #[test]
    fn build_list_restricts_and_adds_extras() {
        let text =
            "# comment\nsix===1.17.0\noslo.config===10.3.0\nenum-compat===0.0.3\nPyYAML===6.0.3\n";
        let extras: Vec<String> = ["uwsgi", "enum-compat", "python-ldap"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let all = build_list(text, &extras, None, &BTreeSet::new());
        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "six",
                "oslo-config",
                "enum-compat",
                "pyyaml",
                "uwsgi",
                "python-ldap"
            ]
        );
        assert_eq!(all[1].requirement, "oslo.config===10.3.0");
        let only =
            parse_only_list("# keystone closure\nOslo_Config\nuwsgi\npyyaml==6\n\nkeystone\n");
        assert_eq!(only, ["oslo-config", "uwsgi", "pyyaml", "keystone"]);
        let skip: BTreeSet<String> = ["pyyaml".to_string()].into();
        let some = build_list(text, &extras, Some(&only), &skip);
        let names: Vec<&str> = some.iter().map(|i| i.requirement.as_str()).collect();
        assert_eq!(names, ["oslo.config===10.3.0", "uwsgi"]);
    }
}
