//! Source trees of the data dir that replace a constraint (LOCI's `honor_local_sources`).

use std::fs;
use std::path::{Path, PathBuf};

use super::ConstraintsSpec;
use crate::constraints::{line_name, normalize};
use crate::error::Result;
use crate::name_mapping;

/// The (package name, PyPI name) pairs of python-custom-name-mapping.txt.
pub fn parse_name_mapping(text: &str) -> Vec<(String, String)> {
    package_pairs(name_mapping::parse(text))
}

fn package_pairs(entries: Vec<name_mapping::Entry>) -> Vec<(String, String)> {
    entries
        .into_iter()
        .filter_map(|e| Some((e.package?, e.pypi)))
        .collect()
}

/// The (package name, PyPI name) pairs of the loci dir's mapping, else loci's own.
pub(super) fn name_mapping(loci_dir: &Path) -> Result<Vec<(String, String)>> {
    name_mapping::load(loci_dir).map(package_pairs)
}

/// The PyPI name of a package according to the mapping (itself when unmapped).
pub fn pypi_name<'a>(mapping: &'a [(String, String)], package: &'a str) -> &'a str {
    let want = normalize(package);
    mapping
        .iter()
        .find(|(pkg, _)| normalize(pkg) == want)
        .map(|(_, pypi)| pypi.as_str())
        .unwrap_or(package)
}

/// The files that make a directory a source tree, where [`tree_name`] looks for its name.
const TREE_FILES: &[&str] = &["setup.cfg", "pyproject.toml"];

/// The name of a source tree: setup.cfg's `[metadata] name`, else pyproject.toml's
/// `[project] name`.
pub fn tree_name(dir: &Path) -> Option<String> {
    crate::steps::source_tree::config_name(dir)
}

/// Source trees of `spec.sources_dir` that replace a constraint of `text`: (directory,
/// constraint name as the constraints file spells it after mapping).
pub fn local_trees(spec: &ConstraintsSpec, text: &str) -> Vec<(PathBuf, String)> {
    let names: Vec<String> = text.lines().filter_map(line_name).map(normalize).collect();
    let Ok(entries) = fs::read_dir(&spec.sources_dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && TREE_FILES.iter().any(|f| p.join(f).is_file()))
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            !spec.skip_dirs.contains(&n)
        })
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let Some(pkg) = tree_name(&d) else {
            crate::say!(
                "{}: no package name in setup.cfg or pyproject.toml, not used",
                d.display()
            );
            continue;
        };
        let pypi = pypi_name(&spec.name_mapping, &pkg).to_string();
        if names.contains(&normalize(&pypi)) {
            out.push((d, pypi));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::requirements::{pin_version, PipWheel};

    #[test]
    fn name_mapping_and_local_pins() {
        let mapping = parse_name_mapping(name_mapping::EMBEDDED);
        assert!(mapping.contains(&("glance_store".to_string(), "glance-store".to_string())));
        assert_eq!(pypi_name(&mapping, "keystoneauth1"), "keystoneauth1");
        let custom = parse_name_mapping("# c\npython-foo foo-client foo_pkg\n");
        assert_eq!(pypi_name(&custom, "Foo.Pkg"), "foo-client");
        assert_eq!(pypi_name(&custom, "other"), "other");
        let text = "Foo-Client===1.0;python_version>='3.9'\nfoo_client===0.9;python_version<'3.9'\nsix===1.17.0\n";
        let (out, found) = pin_version(text, "foo.client", "1.1.0.dev3");
        assert!(found);
        assert_eq!(out, "Foo-Client===1.1.0.dev3\nsix===1.17.0\n");
        assert!(!pin_version(text, "nope", "1").1);
    }

    #[test]
    fn local_trees_are_found_by_mapped_name() {
        let d = tempfile::tempdir().unwrap();
        let mk = |dir: &str, cfg: &str| {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
            std::fs::write(d.path().join(dir).join("setup.cfg"), cfg).unwrap();
        };
        mk("python-foo", "[metadata]\nname = foo_pkg\nsummary = x\n");
        mk("requirements", "[metadata]\nname = six\n");
        mk("other", "[flake8]\nname = nothing\n");
        mk("unlisted", "[metadata]\nname = not-a-constraint\n");
        // A tree with a pyproject.toml only counts too (the name tree_name reads there).
        std::fs::create_dir_all(d.path().join("py-only")).unwrap();
        std::fs::write(
            d.path().join("py-only/pyproject.toml"),
            "[build-system]\nrequires = []\n[project]\nname = \"Py.Only\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.path().join("bare")).unwrap();
        let spec = ConstraintsSpec {
            repo_dir: d.path().join("requirements"),
            root: d.path().join("root"),
            work: d.path().join("work"),
            sources_dir: d.path().to_path_buf(),
            skip_dirs: vec!["requirements".into()],
            name_mapping: parse_name_mapping("python-foo foo-client foo_pkg\n"),
            drops: vec![],
            pip: PipWheel {
                pip: "pip".into(),
                args: vec![],
                env: vec![],
            },
            jobs: 1,
            setuptools: "<81".into(),
            build_constraints: d.path().join("work/build-constraints.txt"),
            build_packages: None,
        };
        let trees = local_trees(&spec, "six===1.17.0\nfoo_client===1.0\npy-only===2\n");
        assert_eq!(
            trees,
            vec![
                (d.path().join("py-only"), "Py.Only".to_string()),
                (d.path().join("python-foo"), "foo-client".to_string())
            ]
        );
    }
}
