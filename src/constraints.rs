//! Constraint files: PEP 503 name normalisation and editing of upper-constraints.txt.

/// Normalises a Python project name as pip does (PEP 503): lower-case, runs of `-`, `_` and `.`
/// become a single `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if c == '-' || c == '_' || c == '.' {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The project name a requirement/constraint line pins, if any: the part before the first
/// version operator, extras, marker or URL fragment. Comments and blank lines give `None`.
pub fn line_name(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(line.len());
    let name = &line[..end];
    (!name.is_empty()).then_some(name)
}

/// Removes every line pinning `project` (compared after PEP 503 normalisation), keeping the rest
/// of the file byte for byte.
pub fn drop_project(text: &str, project: &str) -> String {
    let want = normalize(project);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line_name(line).map(normalize).as_deref() == Some(want.as_str()) {
            continue;
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        assert_eq!(normalize("Oslo.Config"), "oslo-config");
        assert_eq!(normalize("glance_store"), "glance-store");
        assert_eq!(normalize("a--b__c..d"), "a-b-c-d");
        assert_eq!(normalize("PyMySQL"), "pymysql");
    }

    #[test]
    fn drops_only_the_project_pin() {
        let text = "keystoneauth1===5.9.0\nkeystone===29.0.0\nkeystonemiddleware===10.9.0\n# keystone===1\nKeystone==28 ; python_version>'3'\n";
        assert_eq!(
            drop_project(text, "keystone"),
            "keystoneauth1===5.9.0\nkeystonemiddleware===10.9.0\n# keystone===1\n"
        );
        let text = "glance-store===4.1.0\nglance_store===4.2.0\nglance===30\n";
        assert_eq!(drop_project(text, "glance_store"), "glance===30\n");
    }

    #[test]
    fn line_names() {
        assert_eq!(
            line_name("oslo.config===9.7.0;python_version>='3.9'"),
            Some("oslo.config")
        );
        assert_eq!(line_name("pbr[extra]>=1"), Some("pbr"));
        assert_eq!(line_name("  "), None);
        assert_eq!(line_name("-e git+https://x"), None);
    }
}
