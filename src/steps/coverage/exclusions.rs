//! What a project leaves out of its install on purpose: MANIFEST.in's exclusions, the
//! packages excluded from setuptools' package finder, exclude-package-data (setup.cfg and
//! pyproject.toml), and bytecode.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// What a project leaves out of its install on purpose.
#[derive(Debug, Default)]
pub struct Exclusions {
    /// MANIFEST.in's `prune DIR`.
    prune: Vec<String>,
    /// MANIFEST.in's `exclude PATTERN...` (from the tree's root).
    exclude: Vec<String>,
    /// MANIFEST.in's `global-exclude PATTERN...` (anywhere).
    global: Vec<String>,
    /// MANIFEST.in's `recursive-exclude DIR PATTERN...`.
    recursive: Vec<(String, String)>,
    /// Package names excluded from setuptools' package finder (patterns).
    packages: Vec<String>,
    /// exclude-package-data: (package pattern, file pattern).
    package_data: Vec<(String, String)>,
}

impl Exclusions {
    /// Reads MANIFEST.in, setup.cfg and pyproject.toml of `tree` (missing files: no rules).
    pub fn read(tree: &Path) -> Exclusions {
        let mut x = Exclusions::default();
        if let Ok(text) = fs::read_to_string(tree.join("MANIFEST.in")) {
            x.manifest(&text);
        }
        if let Ok(text) = fs::read_to_string(tree.join("setup.cfg")) {
            let ini = ini_sections(&text);
            if let Some(v) = ini
                .get("options.packages.find")
                .and_then(|s| s.get("exclude"))
            {
                x.packages.extend(split_list(v));
            }
            if let Some(s) = ini.get("options.exclude_package_data") {
                for (pkg, v) in s {
                    for pat in split_list(v) {
                        x.package_data.push((pkg.clone(), pat));
                    }
                }
            }
        }
        if let Ok(text) = fs::read_to_string(tree.join("pyproject.toml")) {
            let toml = toml_arrays(&text);
            if let Some(v) = toml
                .get("tool.setuptools.packages.find")
                .and_then(|s| s.get("exclude"))
            {
                x.packages.extend(v.iter().cloned());
            }
            if let Some(s) = toml.get("tool.setuptools.exclude-package-data") {
                for (pkg, pats) in s {
                    for pat in pats {
                        x.package_data.push((pkg.clone(), pat.clone()));
                    }
                }
            }
        }
        x
    }

    fn manifest(&mut self, text: &str) {
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["prune", dir] => self.prune.push(dir.trim_end_matches('/').to_string()),
                ["exclude", pats @ ..] => self.exclude.extend(pats.iter().map(|p| p.to_string())),
                ["global-exclude", pats @ ..] => {
                    self.global.extend(pats.iter().map(|p| p.to_string()))
                }
                ["recursive-exclude", dir, pats @ ..] => self.recursive.extend(
                    pats.iter()
                        .map(|p| (dir.trim_end_matches('/').to_string(), p.to_string())),
                ),
                _ => {}
            }
        }
    }

    /// Whether the file at `path` in the tree, installed as `installed`, is left out on
    /// purpose (bytecode included).
    pub fn excludes(&self, path: &str, installed: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        if path.split('/').any(|c| c == "__pycache__")
            || name.ends_with(".pyc")
            || name.ends_with(".pyo")
        {
            return true;
        }
        if self
            .prune
            .iter()
            .any(|d| path.starts_with(&format!("{d}/")))
        {
            return true;
        }
        if self.exclude.iter().any(|p| glob(p, path)) {
            return true;
        }
        if self.global.iter().any(|p| any_suffix(p, path)) {
            return true;
        }
        if self.recursive.iter().any(|(d, p)| {
            path.strip_prefix(&format!("{d}/"))
                .is_some_and(|rest| any_suffix(p, rest))
        }) {
            return true;
        }
        let package = installed
            .rsplit_once('/')
            .map(|(d, _)| d.replace('/', "."))
            .unwrap_or_default();
        if self.packages.iter().any(|p| glob_dotted(p, &package)) {
            return true;
        }
        !name.ends_with(".py")
            && self
                .package_data
                .iter()
                .any(|(pkg, pat)| (pkg.is_empty() || glob_dotted(pkg, &package)) && glob(pat, name))
    }
}

/// A MANIFEST.in pattern anywhere: matches the path or any of its `/`-suffixes.
fn any_suffix(pattern: &str, path: &str) -> bool {
    glob(pattern, path)
        || path
            .match_indices('/')
            .any(|(i, _)| glob(pattern, &path[i + 1..]))
}

/// A package pattern of setuptools (fnmatch: `*` matches dots too); `*` alone, every package.
fn glob_dotted(pattern: &str, name: &str) -> bool {
    glob_with(pattern.as_bytes(), name.as_bytes(), true)
}

/// A file pattern: `*` and `?` do not match `/`; `[...]` classes.
pub fn glob(pattern: &str, name: &str) -> bool {
    glob_with(pattern.as_bytes(), name.as_bytes(), false)
}

fn glob_with(p: &[u8], s: &[u8], star_crosses: bool) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => {
            let rest = &p[1..];
            (0..=s.len())
                .take_while(|&i| i == 0 || star_crosses || s[i - 1] != b'/')
                .any(|i| glob_with(rest, &s[i..], star_crosses))
        }
        Some(b'?') => {
            !s.is_empty()
                && (star_crosses || s[0] != b'/')
                && glob_with(&p[1..], &s[1..], star_crosses)
        }
        Some(b'[') => match p.iter().position(|&c| c == b']') {
            Some(end) if end > 1 && !s.is_empty() => {
                let class = &p[1..end];
                let (negate, class) = match class.first() {
                    Some(b'!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == b'-' {
                        hit |= class[i] <= s[0] && s[0] <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == s[0];
                        i += 1;
                    }
                }
                hit != negate && glob_with(&p[end + 1..], &s[1..], star_crosses)
            }
            _ => !s.is_empty() && s[0] == b'[' && glob_with(&p[1..], &s[1..], star_crosses),
        },
        Some(&c) => !s.is_empty() && s[0] == c && glob_with(&p[1..], &s[1..], star_crosses),
    }
}

/// An INI file's sections and keys (setup.cfg): values with their continuation lines.
fn ini_sections(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    let mut key: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            key = None;
            continue;
        }
        if line.starts_with(char::is_whitespace) && !trimmed.is_empty() {
            if let Some(k) = &key {
                let v = out
                    .entry(section.clone())
                    .or_default()
                    .entry(k.clone())
                    .or_default();
                v.push('\n');
                v.push_str(trimmed);
            }
            continue;
        }
        if let Some((k, v)) = trimmed.split_once('=') {
            let k = k.trim().to_string();
            out.entry(section.clone())
                .or_default()
                .insert(k.clone(), v.trim().to_string());
            key = Some(k);
        }
    }
    out
}

/// A setup.cfg list: comma- or line-separated.
fn split_list(v: &str) -> Vec<String> {
    v.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The string arrays of a TOML file, by table and key (`key = ["a", 'b']`, over several lines
/// too); quoted keys unquoted. Other values are skipped: enough for setuptools' exclusions.
fn toml_arrays(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut table = String::new();
    let mut open: Option<(String, String)> = None;
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or_default().trim();
        if let Some((key, mut acc)) = open.take() {
            acc.push_str(line);
            if line.contains(']') {
                out.entry(table.clone())
                    .or_default()
                    .insert(key, strings(&acc));
            } else {
                open = Some((key, acc));
            }
            continue;
        }
        if line.starts_with('[') && !line.contains('=') {
            table = unquote(line.trim_matches(|c| c == '[' || c == ']'));
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            if v.starts_with('[') {
                if v.contains(']') {
                    out.entry(table.clone())
                        .or_default()
                        .insert(unquote(k), strings(v));
                } else {
                    open = Some((unquote(k), v.to_string()));
                }
            }
        }
    }
    out
}

/// The quoted strings of a TOML array.
fn strings(array: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = array.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            let s: String = chars.by_ref().take_while(|&d| d != c).collect();
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_fnmatch_and_manifest_in_do() {
        assert!(glob("*.py", "a.py"));
        assert!(
            !glob("*.py", "pkg/a.py"),
            "a file pattern stays in its directory"
        );
        assert!(glob("pkg/*.txt", "pkg/a.txt"));
        assert!(glob("a?c", "abc") && !glob("a?c", "a/c"));
        assert!(glob("[ab]x", "bx") && !glob("[!ab]x", "bx") && glob("[a-c]x", "cx"));
        assert!(glob("*", ""));
        assert!(
            glob_dotted("*.tests", "pkg.sub.tests"),
            "`*` crosses dots in package names"
        );
        assert!(!glob_dotted("pkg.tests", "pkg.tests.unit"));
        assert!(any_suffix("*.orig", "pkg/sub/x.orig") && !any_suffix("*.orig", "pkg/x.py"));
    }

    #[test]
    fn manifest_in_rules() {
        let mut x = Exclusions::default();
        x.manifest(
            "include AUTHORS\nprune pkg/fixtures/\nexclude pkg/local.cfg\nglobal-exclude *.orig *.rej\nrecursive-exclude pkg/static *.map\n",
        );
        let ex = |p: &str| x.excludes(p, p);
        assert!(ex("pkg/fixtures/a.json") && ex("pkg/fixtures/deep/b.py"));
        assert!(ex("pkg/local.cfg") && !ex("pkg/sub/local.cfg"));
        assert!(ex("pkg/sub/x.orig") && ex("x.rej"));
        assert!(ex("pkg/static/js/app.js.map") && !ex("pkg/other/app.js.map"));
        assert!(!ex("pkg/__init__.py") && !ex("pkg/templates/a.html"));
        // Bytecode is never installed from a tree.
        assert!(ex("pkg/__pycache__/a.cpython-311.pyc") && ex("pkg/a.pyc"));
    }

    #[test]
    fn setup_cfg_and_pyproject_exclusions() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("setup.cfg"),
            "[metadata]\nname = demo\n\n[options.packages.find]\nexclude =\n    demo.tests\n    demo.tests.*\n\n[options.exclude_package_data]\n* = *.md\ndemo.data = secret.txt, *.key\n",
        )
        .unwrap();
        let x = Exclusions::read(dir.path());
        let ex = |p: &str| x.excludes(p, p);
        assert!(ex("demo/tests/test_a.py") && ex("demo/tests/unit/test_b.py"));
        assert!(!ex("demo/testsuite.py") && !ex("demo/api/v1.py"));
        assert!(ex("demo/README.md") && ex("demo/data/secret.txt") && ex("demo/data/a.key"));
        assert!(
            !ex("demo/other/secret.txt"),
            "exclude-package-data is per package"
        );
        assert!(!ex("demo/data/keep.py"), "only data files, never modules");

        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"demo\"\n\n[tool.setuptools.packages.find]\nwhere = [\".\"]\nexclude = [\n    \"demo.tests*\",  # the tests\n    'docs',\n]\n\n[tool.setuptools.exclude-package-data]\n\"demo\" = [\"*.map\"]\n",
        )
        .unwrap();
        let x = Exclusions::read(dir.path());
        let ex = |p: &str| x.excludes(p, p);
        assert!(ex("demo/tests/a.py") && ex("demo/tests_functional/b.py") && ex("docs/conf.py"));
        assert!(ex("demo/app.js.map") && !ex("demo/sub/app.js.map") && !ex("demo/app.py"));
    }

    #[test]
    fn ini_continuations_and_toml_arrays_parse() {
        let ini = ini_sections("[files]\npackages =\n    a\n    b\n# c\n[x]\nk=v\n");
        assert_eq!(split_list(&ini["files"]["packages"]), ["a", "b"]);
        assert_eq!(ini["x"]["k"], "v");
        let toml = toml_arrays("[a.b]\nx = [\"1\", '2']\ny = 3\n[\"c\"]\nz = [\n \"q\",\n]\n");
        assert_eq!(toml["a.b"]["x"], ["1", "2"]);
        assert!(!toml["a.b"].contains_key("y"));
        assert_eq!(toml["c"]["z"], ["q"]);
    }
}
