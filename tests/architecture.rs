//! The layering of src/, read from the code itself, so that it cannot silently rot:
//!
//! - no import cycle between modules: every file of src/ is a module (a folder is its files:
//!   `steps/mod.rs`, `steps/base.rs`, ...), and a module depends on every module its
//!   non-test code names (`use` lines, and paths through `crate::`, `super::`, `self::`, the
//!   names those bring in and its child modules; a re-export counts as the module it comes
//!   from; `crate::say!` as report.rs, which defines it);
//! - no file of src/ over 700 lines of non-test code;
//! - nothing prints outside main.rs and report.rs (the build log goes through `say!`,
//!   results are returned);
//! - ARCHITECTURE.md's table of steps is true: every step it names is made (`Step::new`) in
//!   the module it gives, and every step the code makes is in the table.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 700;
/// The only files that may write to stdout or stderr.
const PRINTERS: &[&str] = &["main.rs", "report.rs"];

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// One source file: its module path (`steps::base`; `` for lib.rs), its text with comments,
/// strings and test code blanked out, and how many lines of non-test code it has.
struct Module {
    file: String,
    path: Vec<String>,
    code: String,
    lines: usize,
}

fn modules() -> Vec<Module> {
    let mut out = Vec::new();
    for entry in walk(&src()) {
        let rel = entry
            .strip_prefix(src())
            .unwrap()
            .to_string_lossy()
            .to_string();
        if rel == "main.rs" || rel.ends_with("/tests.rs") {
            // main.rs is the binary's crate, not a module of the library; `tests.rs` files
            // are `#[cfg(test)] mod tests;`.
            if rel == "main.rs" {
                let text = fs::read_to_string(&entry).unwrap();
                let (code, lines) = strip(&text);
                out.push(Module {
                    file: rel,
                    path: vec!["<main>".into()],
                    code,
                    lines,
                });
            }
            continue;
        }
        let mut path: Vec<String> = rel
            .trim_end_matches(".rs")
            .split('/')
            .map(String::from)
            .collect();
        if path.last().is_some_and(|l| l == "mod" || l == "lib") {
            path.pop();
        }
        let text = fs::read_to_string(&entry).unwrap();
        let (code, lines) = strip(&text);
        out.push(Module {
            file: rel,
            path,
            code,
            lines,
        });
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
    files.sort();
    files
}

/// The text with comments, string and char literals blanked (newlines kept), and then the
/// items under `#[cfg(test)]` blanked; and the number of lines not in those items.
fn strip(text: &str) -> (String, usize) {
    let b: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(b.len());
    let mut i = 0;
    // Blanked, a character keeps its length in bytes, so that offsets into the code are
    // offsets into the text.
    fn sp(out: &mut Vec<char>, c: char) {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or('\0');
        if c == '/' && next == '/' {
            while i < b.len() && b[i] != '\n' {
                sp(&mut out, b[i]);
                i += 1;
            }
        } else if c == '/' && next == '*' {
            let mut depth = 0;
            loop {
                if i >= b.len() {
                    break;
                }
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.extend([' ', ' ']);
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.extend([' ', ' ']);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    sp(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if (c == 'r' || c == 'b') && is_raw_string_start(&b, i) {
            // r"...", r#"..."#, br"..."
            let mut j = i;
            while b[j] != 'r' {
                out.push(b[j]);
                j += 1;
            }
            out.push('r');
            j += 1;
            let mut hashes = 0;
            while b[j] == '#' {
                hashes += 1;
                out.push(' ');
                j += 1;
            }
            out.push('"');
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    out.push('"');
                    out.extend((0..hashes).map(|_| ' '));
                    j += 1 + hashes;
                    break;
                }
                sp(&mut out, b[j]);
                j += 1;
            }
            i = j;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    sp(&mut out, b[i]);
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && is_char_literal(&b, i) {
            out.push('\'');
            i += 1;
            while i < b.len() && b[i] != '\'' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                sp(&mut out, b[i]);
                i += 1;
            }
            out.push('\'');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    let mut code: String = out.into_iter().collect();
    // Blank every item under #[cfg(test)].
    let mut test_lines = 0;
    while let Some(at) = code.find("#[cfg(test)]") {
        let bytes = code.as_bytes();
        let mut j = at;
        let mut end = None;
        while j < bytes.len() {
            match bytes[j] {
                b';' => {
                    end = Some(j + 1);
                    break;
                }
                b'{' => {
                    let mut depth = 0;
                    let mut k = j;
                    while k < bytes.len() {
                        match bytes[k] {
                            b'{' => depth += 1,
                            b'}' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        k += 1;
                    }
                    end = Some(k + 1);
                    break;
                }
                _ => j += 1,
            }
        }
        let end = end.unwrap_or(bytes.len()).min(bytes.len());
        let region = &code[at..end];
        test_lines += region.matches('\n').count() + 1;
        let blanked: String = region
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        code.replace_range(at..end, &blanked);
    }
    let total = text.lines().count();
    (code, total.saturating_sub(test_lines))
}

fn is_raw_string_start(b: &[char], i: usize) -> bool {
    if i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_') {
        return false;
    }
    let mut j = i;
    if b[j] == 'b' {
        j += 1;
    }
    if b.get(j) != Some(&'r') {
        return false;
    }
    j += 1;
    while b.get(j) == Some(&'#') {
        j += 1;
    }
    b.get(j) == Some(&'"')
}

/// `'x'`, `'\n'`, `'\u{1F600}'` and not a lifetime (`'a`, `'static`).
fn is_char_literal(b: &[char], i: usize) -> bool {
    match b.get(i + 1) {
        Some('\\') => true,
        Some(_) => b.get(i + 2) == Some(&'\''),
        None => false,
    }
}

/// Every path of `code` as segments, with the byte offset it starts at: `use` trees
/// expanded (`use a::{b, c::d}` gives `a::b` and `a::c::d`; `as` renames recorded), and the
/// other `ident::ident...` paths, macro calls (`crate::say!`) included.
struct Paths {
    uses: Vec<(Vec<String>, Option<String>, usize)>,
    others: Vec<(Vec<String>, usize)>,
}

fn tokens(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_ascii_alphabetic() || c == '_' {
            let s = i;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((code[s..i].to_string(), s));
        } else if c == ':' && b.get(i + 1) == Some(&b':') {
            out.push(("::".into(), i));
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push((c.to_string(), i));
            i += 1;
        }
    }
    out
}

fn paths(code: &str) -> Paths {
    let t = tokens(code);
    let mut uses = Vec::new();
    let mut others = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if t[i].0 == "use" && (i == 0 || t[i - 1].0 != "::") {
            let start = t[i].1;
            let mut j = i + 1;
            let mut found = Vec::new();
            use_tree(&t, &mut j, Vec::new(), &mut found);
            for (p, alias) in found {
                uses.push((p, alias, start));
            }
            i = j;
            continue;
        }
        let is_ident = |s: &str| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        };
        if is_ident(&t[i].0)
            && t.get(i + 1).is_some_and(|n| n.0 == "::")
            && (i == 0 || t[i - 1].0 != "::")
        {
            let start = t[i].1;
            let mut segs = vec![t[i].0.clone()];
            let mut j = i + 1;
            while j + 1 < t.len() && t[j].0 == "::" && is_ident(&t[j + 1].0) {
                segs.push(t[j + 1].0.clone());
                j += 2;
            }
            others.push((segs, start));
            i = j;
            continue;
        }
        i += 1;
    }
    Paths { uses, others }
}

fn use_tree(
    t: &[(String, usize)],
    j: &mut usize,
    prefix: Vec<String>,
    found: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut path = prefix;
    loop {
        let tok = t[*j].0.clone();
        match tok.as_str() {
            "{" => {
                *j += 1;
                loop {
                    use_tree(t, j, path.clone(), found);
                    match t[*j].0.as_str() {
                        "," => {
                            *j += 1;
                            if t[*j].0 == "}" {
                                *j += 1;
                                break;
                            }
                        }
                        "}" => {
                            *j += 1;
                            break;
                        }
                        other => panic!("unexpected {other:?} in a use tree"),
                    }
                }
                if t.get(*j).is_some_and(|x| x.0 == ";") {
                    *j += 1;
                }
                return;
            }
            "::" => *j += 1,
            ";" => {
                *j += 1;
                found.push((path, None));
                return;
            }
            "," | "}" => {
                found.push((path, None));
                return;
            }
            "as" => {
                let alias = t[*j + 1].0.clone();
                *j += 2;
                found.push((path, Some(alias)));
                if t[*j].0 == ";" {
                    *j += 1;
                }
                return;
            }
            "*" => {
                *j += 1;
                path.push("*".into());
            }
            _ => {
                path.push(tok);
                *j += 1;
            }
        }
    }
}

/// The dependency graph: module index -> (module index -> where, as `file:line`).
fn graph(mods: &[Module]) -> BTreeMap<usize, BTreeMap<usize, String>> {
    let index: BTreeMap<Vec<String>, usize> = mods
        .iter()
        .enumerate()
        .map(|(i, m)| (m.path.clone(), i))
        .collect();
    // Macros exported at the crate root, by the file defining them.
    let mut macros: BTreeMap<String, usize> = BTreeMap::new();
    for (i, m) in mods.iter().enumerate() {
        let t = tokens(&m.code);
        for w in t.windows(3) {
            if w[0].0 == "macro_rules" && w[1].0 == "!" {
                macros.insert(w[2].0.clone(), i);
            }
        }
    }
    // The items each module defines.
    let mut defined: Vec<BTreeSet<String>> = vec![BTreeSet::new(); mods.len()];
    for (i, m) in mods.iter().enumerate() {
        let t = tokens(&m.code);
        for w in t.windows(2) {
            if [
                "struct",
                "enum",
                "fn",
                "const",
                "static",
                "type",
                "trait",
                "macro_rules",
            ]
            .contains(&w[0].0.as_str())
            {
                defined[i].insert(w[1].0.clone());
            }
        }
    }
    // Re-exports: (module, name) -> the absolute path they come from; a glob re-export
    // (`pub use x::*`) names every item x defines.
    let mut reexports: BTreeMap<(usize, String), Vec<String>> = BTreeMap::new();
    let parsed: Vec<Paths> = mods.iter().map(|m| paths(&m.code)).collect();
    for (i, m) in mods.iter().enumerate() {
        for (p, alias, at) in &parsed[i].uses {
            let before = &m.code[..*at];
            if before.trim_end().ends_with("pub") || before.trim_end().ends_with(')') {
                if let Some(abs) = absolute(&m.path, p, &BTreeMap::new(), &index) {
                    let name = alias.clone().unwrap_or_else(|| p.last().unwrap().clone());
                    if name == "*" {
                        let from = &abs[..abs.len() - 1];
                        if let Some(&j) = index.get(from) {
                            for item in &defined[j] {
                                let mut path = from.to_vec();
                                path.push(item.clone());
                                reexports.entry((i, item.clone())).or_insert(path);
                            }
                        }
                    } else {
                        reexports.insert((i, name), abs);
                    }
                }
            }
        }
    }
    let mut edges: BTreeMap<usize, BTreeMap<usize, String>> = BTreeMap::new();
    for (i, m) in mods.iter().enumerate() {
        let where_ = |at: usize| format!("{}:{}", m.file, m.code[..at].matches('\n').count() + 1);
        // Names this file brings in, and its child modules.
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (p, alias, _) in &parsed[i].uses {
            if let Some(abs) = absolute(&m.path, p, &BTreeMap::new(), &index) {
                let name = alias.clone().unwrap_or_else(|| p.last().unwrap().clone());
                if name != "*" && name != "self" {
                    aliases.insert(name, abs);
                } else if name == "self" {
                    aliases.insert(p[p.len() - 2].clone(), abs[..abs.len() - 1].to_vec());
                }
            }
        }
        let t = tokens(&m.code);
        for w in t.windows(3) {
            if w[0].0 == "mod" && w[2].0 == ";" {
                let mut child = m.path.clone();
                child.push(w[1].0.clone());
                aliases.insert(w[1].0.clone(), child);
            }
        }
        let mut targets: Vec<(Vec<String>, usize)> = Vec::new();
        for (p, _, at) in &parsed[i].uses {
            if let Some(abs) = absolute(&m.path, p, &BTreeMap::new(), &index) {
                targets.push((abs, *at));
            }
        }
        for (p, at) in &parsed[i].others {
            if let Some(abs) = absolute(&m.path, p, &aliases, &index) {
                targets.push((abs, *at));
            }
        }
        for (abs, at) in targets {
            let Some(mut to) = module_of(&abs, &index, &macros) else {
                continue;
            };
            // A re-exported name counts as the module it comes from.
            let depth = mods[to].path.len();
            if let Some(name) = abs.get(depth) {
                if let Some(src) = reexports.get(&(to, name.clone())) {
                    if let Some(j) = module_of(src, &index, &macros) {
                        to = j;
                    }
                }
            }
            if to != i {
                edges
                    .entry(i)
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| where_(at));
            }
        }
    }
    edges
}

/// The absolute path (from the crate root) of `p` as written in module `here`; `None` for
/// paths into other crates and std.
fn absolute(
    here: &[String],
    p: &[String],
    aliases: &BTreeMap<String, Vec<String>>,
    index: &BTreeMap<Vec<String>, usize>,
) -> Option<Vec<String>> {
    let first = p.first()?;
    let mut out: Vec<String>;
    let mut rest = &p[1..];
    match first.as_str() {
        "crate" | "loci" => out = Vec::new(),
        "self" => out = here.to_vec(),
        "super" => {
            out = here.to_vec();
            out.pop();
            while rest.first().is_some_and(|s| s == "super") {
                out.pop();
                rest = &rest[1..];
            }
        }
        name => {
            if let Some(a) = aliases.get(name) {
                out = a.clone();
            } else {
                // A child module named without `self::` (in a `use` of edition 2021).
                let mut child = here.to_vec();
                child.push(name.to_string());
                if index.contains_key(&child) {
                    out = child;
                } else {
                    return None;
                }
            }
        }
    }
    out.extend(rest.iter().cloned());
    Some(out)
}

/// The module a path lands in: its longest prefix that is a module (a macro of the crate
/// root: the file defining it).
fn module_of(
    abs: &[String],
    index: &BTreeMap<Vec<String>, usize>,
    macros: &BTreeMap<String, usize>,
) -> Option<usize> {
    if abs.len() == 1 {
        if let Some(m) = macros.get(&abs[0]) {
            return Some(*m);
        }
    }
    (0..=abs.len())
        .rev()
        .find_map(|n| index.get(&abs[..n]).copied())
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(n: usize, edges: &BTreeMap<usize, BTreeMap<usize, String>>) -> Vec<Vec<usize>> {
    struct T<'a> {
        edges: &'a BTreeMap<usize, BTreeMap<usize, String>>,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        let succ: Vec<usize> = t
            .edges
            .get(&v)
            .map(|e| e.keys().copied().collect())
            .unwrap_or_default();
        for w in succ {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut scc = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_import_cycle_between_modules() {
    let mods = modules();
    let edges = graph(&mods);
    let found = cycles(mods.len(), &edges);
    let mut report = String::new();
    for scc in &found {
        let set: BTreeSet<usize> = scc.iter().copied().collect();
        report.push_str(&format!("a cycle of {} modules:\n", scc.len()));
        for &a in &set {
            for (b, at) in edges.get(&a).into_iter().flatten() {
                if set.contains(b) {
                    report.push_str(&format!("  {} -> {} ({at})\n", mods[a].file, mods[*b].file));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "import cycles in src/ (a module must not import the one that calls it):\n{report}"
    );
}

#[test]
fn the_graph_sees_the_imports_it_must_see() {
    // The reader itself, on the code: known arrows of every kind must be found, or the
    // cycle test above could pass by seeing nothing.
    let mods = modules();
    let edges = graph(&mods);
    let file = |f: &str| mods.iter().position(|m| m.file == f);
    let has = |a: &str, b: &str| {
        let (Some(a), Some(b)) = (file(a), file(b)) else {
            return false;
        };
        edges.get(&a).is_some_and(|e| e.contains_key(&b))
    };
    // `use crate::...` lines, `crate::say!`, child modules, `crate::x::y(...)` in code.
    assert!(
        has("cli.rs", "config/mod.rs") || has("cli.rs", "config.rs"),
        "cli -> config"
    );
    assert!(has("exec.rs", "report.rs"), "exec -> report (crate::say!)");
    assert!(
        has("steps/mod.rs", "steps/base.rs"),
        "steps -> steps::base (a child named in code)"
    );
    assert!(has("main.rs", "cli.rs"), "main -> cli (loci::cli::run)");
    assert!(
        edges.len() > mods.len() / 2,
        "too few modules with imports: {}",
        edges.len()
    );
    // And a cycle, made up, is found.
    let mut with_cycle = edges.clone();
    with_cycle
        .entry(file("report.rs").unwrap())
        .or_default()
        .insert(file("exec.rs").unwrap(), "made up".into());
    assert!(!cycles(mods.len(), &with_cycle).is_empty());
}

#[test]
fn no_source_file_over_700_lines_of_non_test_code() {
    let mut sizes: Vec<(usize, String)> = modules()
        .iter()
        .map(|m| (m.lines, m.file.clone()))
        .collect();
    sizes.sort();
    let largest: Vec<String> = sizes
        .iter()
        .rev()
        .take(8)
        .map(|(n, f)| format!("{f} {n}"))
        .collect();
    eprintln!(
        "the largest files, in lines of non-test code: {}",
        largest.join(", ")
    );
    let over: Vec<String> = modules()
        .iter()
        .filter(|m| m.lines > MAX_LINES)
        .map(|m| format!("{}: {} lines", m.file, m.lines))
        .collect();
    assert!(
        over.is_empty(),
        "split these by concern (at most {MAX_LINES} lines of non-test code each):\n{}",
        over.join("\n")
    );
}

#[test]
fn nothing_prints_outside_main_and_report() {
    const PRINTS: &[&str] = &[
        "println!",
        "print!",
        "eprintln!",
        "eprint!",
        "dbg!",
        "stdout()",
        "stderr()",
    ];
    let mut found = Vec::new();
    for m in modules() {
        if PRINTERS.contains(&m.file.as_str()) {
            continue;
        }
        for (n, line) in m.code.lines().enumerate() {
            for p in PRINTS {
                // `print!` inside `eprint!` and `println!` is found once, as what it is.
                let hit = line.match_indices(p).any(|(at, _)| {
                    !line[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                });
                if hit {
                    found.push(format!("{}:{}: {}", m.file, n + 1, line.trim()));
                    break;
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "only main.rs and report.rs print; report through `say!` or return the text:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_step_table_of_architecture_md_is_true() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let section = doc
        .split("## Steps, by name")
        .nth(1)
        .expect("ARCHITECTURE.md has a section \"Steps, by name\"");
    let section = section.split("\n## ").next().unwrap();
    let mut documented: BTreeMap<String, String> = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let module = cells[2].trim_matches('`').to_string();
        for step in cells[1].split(',') {
            documented.insert(step.trim().trim_matches('`').to_string(), module.clone());
        }
    }
    assert!(!documented.is_empty(), "no rows in the step table");
    // Every step the code makes, and where.
    let mut made: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in modules() {
        let text = fs::read_to_string(src().join(&m.file)).unwrap();
        for (at, _) in m.code.match_indices("Step::new(") {
            let lit = &text[at + "Step::new(".len()..];
            let lit = lit.trim_start();
            if let Some(rest) = lit.strip_prefix('"') {
                let name = rest.split('"').next().unwrap().to_string();
                made.entry(name).or_default().insert(m.file.clone());
            }
        }
    }
    let mut wrong = Vec::new();
    for (step, files) in &made {
        match documented.get(step) {
            None => wrong.push(format!(
                "step `{step}` (made in {files:?}) is not in the table"
            )),
            Some(module) => {
                let module = module.trim_end_matches('/');
                if !files
                    .iter()
                    .any(|f| f == module || f.starts_with(&format!("{module}/")))
                {
                    wrong.push(format!(
                        "step `{step}`: the table says {module}, the code makes it in {files:?}"
                    ));
                }
            }
        }
    }
    for step in documented.keys() {
        if !made.contains_key(step) {
            wrong.push(format!(
                "the table names step `{step}`, which no module makes"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md's step table:\n{}",
        wrong.join("\n")
    );
}
