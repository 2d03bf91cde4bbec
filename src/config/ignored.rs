//! What LOCI master accepts and loci ignores: a job written for LOCI builds unchanged, and the
//! build log says what was given and left unused (README.md, "Moving from LOCI").
//!
//! - A PROFILES entry no bindep profile can be (LOCI's keystone job passes the release,
//!   `stable/2025.1`): LOCI hands it to bindep, which matches nothing with it; loci drops it
//!   from the profiles. Entries that could be unsafe stay refused: one starting with `-` (an
//!   option to the tools LOCI passes it to), a `..` component, control or non-ASCII
//!   characters.
//! - APT_MIRROR on the service Dockerfile: LOCI master's Dockerfile declares it, none of its
//!   scripts reads it (the apt sources are the base image's, `Dockerfile.base`).

use serde::Serialize;

use super::checks::{check_entry, Becomes};
use crate::error::{Error, Result};

/// A value given and not used, with the reason the build log gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ignored {
    /// The build argument (`PROFILES`, `APT_MIRROR`).
    pub argument: &'static str,
    /// The value, or the list entry, ignored.
    pub value: String,
    pub why: &'static str,
}

impl Ignored {
    /// The build log's line (after `==> `).
    pub fn line(&self) -> String {
        format!(
            "ignored: {}={:?} is accepted as LOCI accepts it and does nothing: {}",
            self.argument,
            crate::error::cut(&self.value, crate::error::QUOTE_MAX),
            self.why
        )
    }
}

const PROFILE_WHY: &str = "no bindep profile can be named so (lower-case letters, digits, ':', '-', '.'), so no line of bindep.txt or pydep.txt matches it (LOCI passes it to bindep, which matches nothing either)";

const APT_MIRROR_WHY: &str = "LOCI master's Dockerfile declares it and none of its scripts reads it; a service build uses the base image's apt sources (Dockerfile.base's APT_MIRROR or APT_MIRROR_HOST set them)";

/// PROFILES split into the profiles kept and the entries ignored; an entry that could be
/// unsafe is refused.
pub(crate) fn profiles(given: Vec<String>) -> Result<(Vec<String>, Vec<Ignored>)> {
    let mut kept = Vec::new();
    let mut ignored = Vec::new();
    for p in given {
        let hint = "PROFILES lists bindep profile names separated by spaces, e.g. `fluent ldap`";
        let checked = check_entry("PROFILES", &p, Becomes::FileName);
        let bindep_name = p
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ":-.".contains(c));
        if checked.is_ok() || (bindep_name && !p.starts_with('-')) {
            kept.push(p);
            continue;
        }
        let why = if p.starts_with('-') {
            Some("it starts with '-', which the tools LOCI passes PROFILES to read as an option")
        } else if p.split('/').any(|part| part == "..") {
            Some("it holds a '..' component")
        } else if p.chars().any(|c| !c.is_ascii_graphic()) {
            Some("it holds a control or non-ASCII character")
        } else {
            None
        };
        if let Some(why) = why {
            let shown = crate::error::cut(&p, crate::error::QUOTE_MAX);
            return Err(
                Error::new(format!("PROFILES entry {shown:?} is refused: {why}")).hint(hint),
            );
        }
        ignored.push(Ignored {
            argument: "PROFILES",
            value: p,
            why: PROFILE_WHY,
        });
    }
    Ok((kept, ignored))
}

/// APT_MIRROR, when given.
pub(crate) fn apt_mirror(value: Option<String>) -> Option<Ignored> {
    value.map(|value| Ignored {
        argument: "APT_MIRROR",
        value,
        why: APT_MIRROR_WHY,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn a_release_as_profile_is_ignored_and_the_rest_kept() {
        let (kept, ignored) = profiles(words("fluent apache ldap stable/2025.1")).unwrap();
        assert_eq!(kept, ["fluent", "apache", "ldap"]);
        assert_eq!(ignored.len(), 1);
        assert_eq!(ignored[0].value, "stable/2025.1");
        let line = ignored[0].line();
        assert!(
            line.starts_with("ignored: PROFILES=\"stable/2025.1\""),
            "{line}"
        );
        // loci's own profiles and bindep's grammar are kept as before.
        let (kept, ignored) = profiles(words("mod_oauth2 Ldap 2026.1 platform:dpkg")).unwrap();
        assert_eq!(kept, ["mod_oauth2", "Ldap", "2026.1", "platform:dpkg"]);
        assert!(ignored.is_empty());
    }

    #[test]
    fn unsafe_profiles_stay_refused() {
        for p in ["../x", "a/../b", "--x", "-x/y", "a\u{7}b", "é/x"] {
            let e = profiles(vec![p.to_string()]).unwrap_err();
            assert!(e.to_string().contains("is refused"), "{p}: {e}");
            assert!(e.hint.is_some(), "{p}");
        }
    }

    #[test]
    fn apt_mirror_says_where_the_sources_come_from() {
        assert!(apt_mirror(None).is_none());
        let i = apt_mirror(Some(
            "[trusted=yes] https://archive.ubuntu.com/ubuntu".into(),
        ))
        .unwrap();
        let line = i.line();
        assert!(line.contains("APT_MIRROR="), "{line}");
        assert!(line.contains("Dockerfile.base"), "{line}");
    }
}
