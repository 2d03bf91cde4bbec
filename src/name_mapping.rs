//! LOCI's python-custom-name-mapping.txt: `<folder_name> <pypi_name> <pkg_name>` lines that
//! name a source tree's directory, its PyPI name, and its package name (setup.cfg's `name`)
//! where the three differ. The copy built into loci is used unless the loci dir
//! (/opt/loci) has its own, which takes precedence.

use std::path::Path;

use crate::error::{Error, Result};

/// The mapping built into loci.
pub const EMBEDDED: &str = include_str!("../python-custom-name-mapping.txt");

/// The file name in the loci dir.
pub const FILE_NAME: &str = "python-custom-name-mapping.txt";

/// One line of the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub folder: String,
    pub pypi: String,
    /// The package name, when the line has a third column.
    pub package: Option<String>,
}

/// The entries of a mapping file: lines of at least two columns, `#` comments.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            Some(Entry {
                folder: cols.next()?.to_string(),
                pypi: cols.next()?.to_string(),
                package: cols.next().map(String::from),
            })
        })
        .collect()
}

/// The mapping of the loci dir `loci_dir`, else the one built into loci; a file there that
/// cannot be read is an error.
pub fn load(loci_dir: &Path) -> Result<Vec<Entry>> {
    let path = loci_dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(parse(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(parse(EMBEDDED)),
        Err(e) => Err(Error::new(format!("cannot read {}", path.display())).cause(e)),
    }
}

/// The PyPI name of a source tree directory (`keystoneauth` -> `keystoneauth1`); the
/// directory name when unmapped.
pub fn pypi_for_dir(entries: &[Entry], dir: &str) -> String {
    entries
        .iter()
        .find(|e| e.folder == dir)
        .map(|e| e.pypi.clone())
        .unwrap_or_else(|| dir.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_lookups_read_the_same_lines() {
        let entries = parse(EMBEDDED);
        assert_eq!(pypi_for_dir(&entries, "keystoneauth"), "keystoneauth1");
        assert_eq!(pypi_for_dir(&entries, "nova"), "nova");
        assert_eq!(
            parse("# c\n\nfoo foo-client\n  bar  bar1 bar_pkg extra\n"),
            [
                Entry {
                    folder: "foo".into(),
                    pypi: "foo-client".into(),
                    package: None
                },
                Entry {
                    folder: "bar".into(),
                    pypi: "bar1".into(),
                    package: Some("bar_pkg".into())
                }
            ]
        );
    }

    #[test]
    fn the_loci_dir_copy_takes_precedence() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load(d.path()).unwrap(), parse(EMBEDDED));
        std::fs::write(d.path().join(FILE_NAME), "keystoneauth my-auth my_auth\n").unwrap();
        let entries = load(d.path()).unwrap();
        assert_eq!(pypi_for_dir(&entries, "keystoneauth"), "my-auth");
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::create_dir(d.path().join("sub").join(FILE_NAME)).unwrap();
        assert!(
            load(&d.path().join("sub")).is_err(),
            "a directory is not a mapping"
        );
    }
}
