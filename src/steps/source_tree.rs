//! The Python source trees a build installs, and their names: a leaf the steps share (base
//! decides on git with them, python names them for uv, coverage checks their installs, the
//! requirements build finds its own).

use std::fs;
use std::path::{Path, PathBuf};

use crate::plan::PlanInput;

/// The source trees the install step installs: the project's (`SOURCES_DIR/PROJECT`, cloned by
/// the source step unless it is there) and the EXTRA_PROJECTS (in the data dir).
pub fn source_trees(input: &PlanInput) -> Vec<PathBuf> {
    let c = input.config;
    std::iter::once(c.paths.sources_dir.join(&c.project))
        .chain(c.extra_projects.iter().map(|p| c.paths.data_dir.join(p)))
        .collect()
}

/// The distribution name of a source tree: PKG-INFO's `Name:` (an sdist), else
/// [`config_name`].
pub fn tree_name(tree: &Path) -> Option<String> {
    fs::read_to_string(tree.join("PKG-INFO"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Name:").map(|n| n.trim().to_string()))
        })
        .or_else(|| config_name(tree))
}

/// The name a tree's setup files give: setup.cfg's `[metadata] name`, else pyproject.toml's
/// `[project] name`.
pub fn config_name(dir: &Path) -> Option<String> {
    let key_in_section = |text: &str, section: &str| -> Option<String> {
        let mut inside = false;
        for line in text.lines() {
            let l = line.trim();
            if l.starts_with('[') {
                inside = l == section;
                continue;
            }
            if inside {
                if let Some((k, v)) = l.split_once('=') {
                    if k.trim() == "name" {
                        let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                        return (!v.is_empty()).then(|| v.to_string());
                    }
                }
            }
        }
        None
    };
    fs::read_to_string(dir.join("setup.cfg"))
        .ok()
        .and_then(|t| key_in_section(&t, "[metadata]"))
        .or_else(|| {
            fs::read_to_string(dir.join("pyproject.toml"))
                .ok()
                .and_then(|t| key_in_section(&t, "[project]"))
        })
}
