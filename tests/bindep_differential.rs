//! Differential test: `loci bindep` and `loci::bindep` against the real bindep 2.14.
//!
//! The real bindep is installed from PyPI into a venv under `target/tmp/` on the first run
//! (`bindep==2.14.0 distro==1.9.0 Parsley==1.3`) and reused afterwards. It runs through
//! `tests/fixtures/bindep/harness.py`, which points the `distro` library at a root directory
//! holding only the given os-release file, so bindep's own `platform_profiles()` computes the
//! profiles of the distro under test. Both sides get the same arguments; stdout and the exit code
//! must be byte-for-byte equal.
//!
//! Corpus: LOCI's bindep.txt and pydep.txt (the repo's and the reference copies in the fixtures),
//! a hand-written edge-case file, seeded random valid files, seeded random mutations of them (many
//! invalid), file handling (missing files, default discovery, stdin, CRLF), on Debian bookworm and
//! trixie, Ubuntu jammy and noble, CentOS Stream 9 and Rocky 9, plus `--profiles` on 25 more
//! os-release files. `-b` (installed-package check) is compared on the host, which needs dpkg or rpm.
//!
//! Environment: `LOCI_BINDEP_PYTHON=/path/to/python` uses an existing interpreter that has
//! bindep 2.14 instead of creating the venv. Needing PyPI, the tests are marked ignored: a plain
//! `cargo test` lists them, `tests/run.sh` (`--include-ignored`) runs them. There is no way to
//! skip the comparison when they run: without python3, its venv module or PyPI they fail and say
//! so.

#[path = "support/cmd.rs"]
mod cmd;

#[path = "support/pyvenv.rs"]
mod pyvenv;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use loci::bindep::{BindepFile, Platform, Selector};
use loci::os_release::OsRelease;

const BINDEP_VERSION: &str = "2.14.0";
const PIP_PINS: &[&str] = &["bindep==2.14.0", "distro==1.9.0", "Parsley==1.3"];

const PLATFORMS: &[(&str, &str)] = &[
    ("debian-bookworm", "bookworm"),
    ("debian-trixie", "trixie"),
    ("ubuntu-jammy", "jammy"),
    ("ubuntu-noble", "noble"),
    ("centos-stream9", ""),
    ("rocky9", ""),
];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    manifest().join("tests/fixtures/bindep")
}

fn os_release(name: &str) -> PathBuf {
    let main = fixtures().join("os-release").join(name);
    if main.exists() {
        main
    } else {
        fixtures().join("os-release-extra").join(name)
    }
}

// ---------------------------------------------------------------------------------------------
// The real bindep

/// The Python interpreter that has bindep 2.14 (the cached venv, created on first use).
fn python() -> PathBuf {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PY.get_or_init(|| {
        if let Some(p) = std::env::var_os("LOCI_BINDEP_PYTHON") {
            return Ok(PathBuf::from(p));
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("bindep-venv-{BINDEP_VERSION}"));
        ensure_venv(&dir)?;
        Ok(dir.join("bin/python"))
    })
    .clone()
    .unwrap_or_else(|e| panic!("cannot set up the real bindep {BINDEP_VERSION}: {e}"))
}

fn ensure_venv(dir: &Path) -> Result<(), String> {
    pyvenv::ensure_venv(dir, PIP_PINS, "bindep")
}

#[derive(Debug, Clone)]
struct Case {
    label: String,
    args: Vec<String>,
    os_release: Option<PathBuf>,
    cwd: Option<PathBuf>,
    /// For `-l newline` cases: also check the library (file text, file name, profiles).
    lib: Option<(String, Vec<String>)>,
}

impl Case {
    fn new(label: impl Into<String>, os: Option<&str>, args: &[&str]) -> Self {
        Case {
            label: label.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            os_release: os.map(os_release),
            cwd: None,
            lib: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    code: i32,
    stderr: String,
}

fn run_real(cases: &[Case]) -> Vec<Outcome> {
    let json: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "args": c.args,
                "os_release": c.os_release,
                "cwd": c.cwd,
            })
        })
        .collect();
    let mut child = Command::new(python())
        .arg(fixtures().join("harness.py"))
        .arg("--batch")
        .current_dir(fixtures())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the bindep harness");
    let input = serde_json::to_vec(&json).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("bindep harness output");
    writer.join().unwrap().expect("write cases to the harness");
    let out = cmd::succeeded("the bindep harness", out);
    let results: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("harness JSON");
    assert_eq!(results.len(), cases.len());
    results
        .into_iter()
        .map(|r| Outcome {
            stdout: r["stdout"].as_str().unwrap().to_string(),
            code: r["code"].as_i64().unwrap() as i32,
            stderr: r["stderr"].as_str().unwrap().to_string(),
        })
        .collect()
}

fn run_ours(case: &Case) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loci"));
    cmd.arg("bindep");
    if let Some(os) = &case.os_release {
        cmd.arg("--os-release").arg(os);
    }
    cmd.args(&case.args)
        .current_dir(case.cwd.clone().unwrap_or_else(fixtures));
    let out = cmd.output().expect("run loci bindep");
    Outcome {
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs every case on both sides; panics listing the differences.
fn compare(cases: &[Case]) {
    assert!(!cases.is_empty());
    let started = std::time::Instant::now();
    let real = run_real(cases);
    let real_time = started.elapsed();
    let mut failures = Vec::new();
    let mut nonempty = 0;
    for (case, real) in cases.iter().zip(&real) {
        let ours = run_ours(case);
        if !real.stdout.trim().is_empty() {
            nonempty += 1;
        }
        if ours.stdout != real.stdout || ours.code != real.code {
            failures.push(format!(
                "{}: bindep {:?} (os-release {:?})\n  real bindep: exit {} stdout {:?}\n               stderr {:?}\n  loci bindep: exit {} stdout {:?}\n               stderr {:?}",
                case.label, case.args, case.os_release, real.code, real.stdout, real.stderr, ours.code, ours.stdout, ours.stderr
            ));
            continue;
        }
        if let Some((text, profiles)) = &case.lib {
            let os = OsRelease::from_file(case.os_release.as_ref().unwrap()).unwrap();
            let file = BindepFile::parse("lib", text).unwrap();
            let mut lib = file
                .packages(&Platform::from_os_release(&os), profiles)
                .join("\n");
            lib.push('\n');
            if lib != real.stdout {
                failures.push(format!(
                    "{}: library packages() {:?} != real bindep {:?}",
                    case.label, lib, real.stdout
                ));
            }
        }
    }
    // a corpus where every answer is empty would prove little
    assert!(
        nonempty * 4 >= cases.len(),
        "only {nonempty} of {} cases printed anything",
        cases.len()
    );
    eprintln!(
        "compared {} cases with bindep {BINDEP_VERSION}, {} differ (real bindep {:.1?}, loci bindep {:.1?})",
        cases.len(),
        failures.len(),
        real_time,
        started.elapsed() - real_time
    );
    if !failures.is_empty() {
        let shown: Vec<&String> = failures.iter().take(15).collect();
        panic!(
            "{} of {} cases differ from bindep {BINDEP_VERSION}:\n{}",
            failures.len(),
            cases.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus helpers

/// `-l newline` cases for `file` on every platform: the default profile, each profile alone,
/// each project with the codename (as LOCI passes it), each project with the codename and the
/// profiles it is grouped with in the file (`(keystone ldap)` gives keystone+ldap), everything;
/// plus `-l csv` and `--profiles`.
fn file_cases(label: &str, file: &Path, projects: &[&str]) -> Vec<Case> {
    let text = std::fs::read_to_string(file).unwrap();
    // both sides read the same snapshot, even if someone edits the file meanwhile
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let snapshot = scratch(
        &format!("corpus-{}", label.replace([' ', '/'], "-")),
        &name,
        &text,
    );
    let rel_file = snapshot.to_str().unwrap();
    let parsed = BindepFile::parse(label, &text).unwrap();
    let all_profiles = parsed.profiles();
    let mut cases = Vec::new();
    for (os, codename) in PLATFORMS {
        let mut sets: Vec<Vec<String>> = vec![vec![], all_profiles.clone()];
        sets.extend(all_profiles.iter().map(|p| vec![p.clone()]));
        for project in projects {
            let mut base = vec![project.to_string()];
            if !codename.is_empty() {
                base.push(codename.to_string());
            }
            sets.push(base.clone());
            let mut related = BTreeSet::new();
            for rule in &parsed.rules {
                for sel in &rule.selectors {
                    if let Selector::Group(g) = sel {
                        if g.iter().any(|(_, n)| n == project) {
                            related
                                .extend(g.iter().map(|(_, n)| n.clone()).filter(|n| n != project));
                        }
                    }
                }
            }
            for p in &related {
                let mut s = base.clone();
                s.push(p.clone());
                sets.push(s);
            }
            if related.len() > 1 {
                let mut s = base.clone();
                s.extend(related.iter().cloned());
                sets.push(s);
            }
        }
        for set in sets {
            let mut args = vec![
                "-f".to_string(),
                rel_file.to_string(),
                "-l".into(),
                "newline".into(),
            ];
            args.extend(set.iter().cloned());
            cases.push(Case {
                label: format!("{label} on {os} {set:?}"),
                args,
                os_release: Some(os_release(os)),
                cwd: None,
                lib: Some((text.clone(), set)),
            });
        }
        for extra in [&["-l", "csv"][..], &["--profiles"][..]] {
            let mut args = vec!["-f", rel_file];
            args.extend_from_slice(extra);
            args.extend(projects.iter().take(1));
            cases.push(Case::new(
                format!("{label} on {os} {extra:?}"),
                Some(os),
                &args,
            ));
        }
    }
    cases
}

const LOCI_PROJECTS: &[&str] = &[
    "keystone",
    "nova",
    "neutron",
    "cinder",
    "glance",
    "ironic",
    "horizon",
    "placement",
    "octavia",
    "manila",
    "requirements",
];

/// Writes `text` to a scratch file under target/tmp and returns its absolute path.
/// Each test process has its own directory (concurrent `cargo test` runs do not share files);
/// directories of processes that are gone are removed on first use.
fn scratch(dir: &str, name: &str, text: &str) -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    let root = ROOT.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bindep-differential");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let pid = e.file_name().to_string_lossy().into_owned();
                if !Path::new("/proc").join(&pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        base.join(std::process::id().to_string())
    });
    let d = root.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A small seeded PRNG (xorshift64*), so generated corpora are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const USER_PROFILES: &[&str] = &[
    "default", "nova", "neutron", "ceph", "ldap", "test", "doc", "jammy", "noble", "bookworm",
    "py3.11", "a:b", "x-y", "compile",
];
const PLATFORM_PROFILES: &[&str] = &[
    "platform:dpkg",
    "platform:rpm",
    "platform:debian",
    "platform:ubuntu",
    "platform:ubuntu-jammy",
    "platform:ubuntu-22.04",
    "platform:ubuntu-24",
    "platform:debian-12",
    "platform:debian-trixie",
    "platform:centos",
    "platform:centos-9",
    "platform:rocky",
    "platform:rocky-9.5",
    "platform:rocky-blue-onyx",
    "platform:redhat",
    "platform:base-py3",
    "platform:base-py2",
    "platform:suse",
];
const NAMES: &[&str] = &[
    "libxml2",
    "libxml2-dev",
    "python3-dev",
    "gcc",
    "g++",
    "lib.so_1",
    "/usr/bin/foo",
    "a/b",
    "7zip",
    "pkg-config",
    "libldap-2.5-0",
    "xx",
    "Mixed_Case",
    "ÄpfelPaket",
];
const VERSIONS: &[&str] = &[
    "1.0",
    "2:1.2-3",
    "1.0~rc1",
    "1.2.3+dfsg-1ubuntu1",
    "0",
    "10.2.1-6",
    "1:2",
    "3.0a",
    "1-2-3",
    "1.0-rc1",
];

fn gen_profile(rng: &mut Rng) -> String {
    let neg = if rng.chance(30) { "!" } else { "" };
    let name = if rng.chance(45) {
        rng.pick(PLATFORM_PROFILES)
    } else {
        rng.pick(USER_PROFILES)
    };
    format!("{neg}{name}")
}

fn spaces(rng: &mut Rng, min: usize) -> String {
    " ".repeat(min + usize::from(rng.chance(20)))
}

fn gen_line(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => return format!("# comment {}", rng.below(100)),
        1 => return String::new(),
        2 => return " ".repeat(rng.below(3)),
        _ => {}
    }
    let mut line = rng.pick(NAMES).to_string();
    if rng.chance(75) {
        line.push_str(&spaces(rng, 1));
        line.push('[');
        let n = rng.below(5);
        for i in 0..n {
            // between groups: one space, sometimes more, sometimes none after a ')'
            let after_group = line.ends_with(')');
            if i > 0 || rng.chance(15) {
                let tight = after_group && rng.chance(50);
                line.push_str(&spaces(rng, usize::from(!tight)));
            }
            if rng.chance(30) {
                line.push('(');
                let k = rng.below(4);
                let members: Vec<String> = (0..k).map(|_| gen_profile(rng)).collect();
                line.push_str(&members.join(" "));
                line.push(')');
            } else {
                line.push_str(&gen_profile(rng));
            }
        }
        if rng.chance(10) {
            line.push(' ');
        }
        line.push(']');
    }
    if rng.chance(25) {
        line.push(' ');
        let n = 1 + rng.below(2);
        let parts: Vec<String> = (0..n)
            .map(|_| {
                format!(
                    "{}{}",
                    rng.pick(&["<=", "<", "!=", "==", ">=", ">"]),
                    rng.pick(VERSIONS)
                )
            })
            .collect();
        line.push_str(&parts.join(","));
    }
    // (sparingly: Parsley needs up to a second for a line with a comment after a selector)
    if rng.chance(6) {
        line.push_str(if rng.chance(50) { " # note" } else { "#note" });
    }
    line
}

fn gen_file(rng: &mut Rng) -> String {
    let n = 4 + rng.below(14);
    let mut text: String = (0..n).map(|_| gen_line(rng) + "\n").collect();
    if rng.chance(20) {
        text.pop(); // no final newline
    }
    text
}

/// One random edit, often making the file invalid (and sometimes not).
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    if lines.is_empty() {
        lines.push("xx".into());
    }
    let i = rng.below(lines.len());
    let l = &mut lines[i];
    match rng.below(14) {
        0 => l.push(' '),
        1 => l.insert(0, ' '),
        2 => *l = l.replace(' ', "\t"),
        3 => *l = l.to_uppercase(),
        4 => *l = "x".into(),
        5 => *l = l.replace(']', ""),
        6 => *l = l.replace(" [", "["),
        7 => *l = l.replace('[', "[(").replace(']', ")]"),
        8 => l.push_str(" [extra]"),
        9 => l.push_str(" >= 1.0"),
        10 => l.push_str(" >=1.0,"),
        11 => *l = l.replace('(', "( ").replace(')', " )"),
        12 => l.push_str(" >=1.0-"),
        _ => *l = l.replace("!", "! "),
    }
    lines.join("\n") + "\n"
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn loci_bindep_txt_matches_real_bindep() {
    let mut cases = file_cases(
        "fixture bindep.txt",
        &fixtures().join("loci-bindep.txt"),
        LOCI_PROJECTS,
    );
    cases.extend(file_cases(
        "repo bindep.txt",
        &manifest().join("bindep.txt"),
        LOCI_PROJECTS,
    ));
    compare(&cases);
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn loci_pydep_txt_matches_real_bindep() {
    let mut cases = file_cases(
        "fixture pydep.txt",
        &fixtures().join("loci-pydep.txt"),
        &["keystone", "nova", "neutron", "cinder", "placement"],
    );
    cases.extend(file_cases(
        "repo pydep.txt",
        &manifest().join("pydep.txt"),
        &["keystone", "nova", "neutron", "cinder", "placement"],
    ));
    compare(&cases);
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn edge_case_file_matches_real_bindep() {
    let cases = file_cases(
        "edge-cases.txt",
        &fixtures().join("edge-cases.txt"),
        &["nova", "ceph", "test"],
    );
    compare(&cases);
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn generated_files_match_real_bindep() {
    let mut rng = Rng(0x5eed_b1de_2014_0001);
    let mut cases = Vec::new();
    for n in 0..32 {
        let text = gen_file(&mut rng);
        let path = scratch("generated", &format!("gen-{n}.txt"), &text);
        let file = path.to_str().unwrap().to_string();
        for (os, _) in PLATFORMS {
            for _ in 0..2 {
                let k = rng.below(4);
                let set: Vec<String> = (0..k)
                    .map(|_| {
                        if rng.chance(15) {
                            rng.pick(PLATFORM_PROFILES).to_string()
                        } else {
                            rng.pick(USER_PROFILES).to_string()
                        }
                    })
                    .collect();
                let mut args = vec![
                    "-f".to_string(),
                    file.clone(),
                    "-l".into(),
                    "newline".into(),
                ];
                args.extend(set.iter().cloned());
                cases.push(Case {
                    label: format!("gen-{n}.txt on {os} {set:?}"),
                    args,
                    os_release: Some(os_release(os)),
                    cwd: None,
                    lib: Some((text.clone(), set)),
                });
            }
        }
        let os = rng.pick(PLATFORMS).0;
        cases.push(Case::new(
            format!("gen-{n}.txt csv"),
            Some(os),
            &["-f", &file, "-l", "csv", "nova", "test"],
        ));
        cases.push(Case::new(
            format!("gen-{n}.txt --profiles"),
            Some(os),
            &["-f", &file, "--profiles"],
        ));
    }
    compare(&cases);
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn mutated_files_match_real_bindep() {
    let mut rng = Rng(0xbad_5eed_2014_0002);
    let mut cases = Vec::new();
    let mut kinds = BTreeSet::new();
    for n in 0..50 {
        let valid_text = gen_file(&mut rng);
        let text = mutate(&mut rng, &valid_text);
        let path = scratch("mutated", &format!("mut-{n}.txt"), &text);
        let file = path.to_str().unwrap().to_string();
        let valid = BindepFile::parse("m", &text).is_ok();
        kinds.insert(valid);
        let os = rng.pick(PLATFORMS).0;
        cases.push(Case::new(
            format!("mut-{n}.txt (valid: {valid})"),
            Some(os),
            &["-f", &file, "-l", "newline", "nova"],
        ));
    }
    assert_eq!(
        kinds.len(),
        2,
        "the mutations should give both valid and invalid files"
    );
    // parse errors print nothing on stdout; make sure the mix still has listings in it
    let real = run_real(&cases);
    assert!(
        real.iter().any(|o| o.code == 2),
        "some mutations must be parse errors for bindep"
    );
    assert!(
        real.iter().any(|o| o.code == 0),
        "some mutations must still parse for bindep"
    );
    let (errors, listings): (Vec<_>, Vec<_>) =
        cases.into_iter().zip(real).partition(|(_, o)| o.code == 2);
    for (case, _) in &errors {
        let ours = run_ours(case);
        assert_eq!(
            ours.code, 2,
            "{}: bindep rejects this file, loci bindep gave {:?}",
            case.label, ours
        );
        assert_eq!(ours.stdout, "", "{}", case.label);
        // our message names the file and line
        let file = &case.args[1];
        assert!(
            ours.stderr.contains(&format!("{file}:")),
            "{}: {}",
            case.label,
            ours.stderr
        );
    }
    let listings: Vec<Case> = listings.into_iter().map(|(c, _)| c).collect();
    compare(&listings);
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn line_endings_and_special_files_match_real_bindep() {
    let loci = std::fs::read_to_string(fixtures().join("loci-bindep.txt")).unwrap();
    let files = [
        ("crlf.txt", loci.replace('\n', "\r\n")),
        ("cr.txt", loci.replace('\n', "\r")),
        ("no-final-newline.txt", loci.trim_end().to_string()),
        ("empty.txt", String::new()),
        ("only-comments.txt", "# a\n\n   \n  # b\n".to_string()),
        ("one-rule.txt", "xx".to_string()),
        ("tab.txt", "foo\t[nova]\n".to_string()),
        ("trailing-space.txt", "foo [nova] \n".to_string()),
    ];
    let mut cases = Vec::new();
    for (name, text) in &files {
        let path = scratch("special", name, text);
        let f = path.to_str().unwrap();
        for (os, codename) in PLATFORMS {
            cases.push(Case::new(
                format!("{name} on {os}"),
                Some(os),
                &["-f", f, "-l", "newline", "nova", codename],
            ));
        }
        cases.push(Case::new(
            format!("{name} --profiles"),
            Some("ubuntu-jammy"),
            &["-f", f, "--profiles"],
        ));
        cases.push(Case::new(
            format!("{name} csv"),
            Some("rocky9"),
            &["-f", f, "-l", "csv", "nova"],
        ));
    }
    compare(&cases);
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn file_discovery_and_errors_match_real_bindep() {
    let pydep = std::fs::read_to_string(fixtures().join("loci-pydep.txt")).unwrap();
    let bindep = std::fs::read_to_string(fixtures().join("loci-bindep.txt")).unwrap();
    let only_bindep = scratch("discover-bindep", "bindep.txt", &bindep);
    let only_other = scratch("discover-other", "other-requirements.txt", &pydep);
    let both = scratch("discover-both", "bindep.txt", &bindep);
    scratch("discover-both", "other-requirements.txt", &pydep);
    let neither = scratch("discover-neither", "unrelated.txt", &pydep);
    let second = scratch("multi", "second.txt", "only-in-second [nova]\n");
    let mut cases = Vec::new();
    for dir in [&only_bindep, &only_other, &both, &neither] {
        for args in [
            &["-l", "newline", "nova"][..],
            &["--profiles"][..],
            &["-l", "csv"][..],
        ] {
            let mut c = Case::new(
                format!("discovery in {}", dir.parent().unwrap().display()),
                Some("debian-bookworm"),
                args,
            );
            c.cwd = Some(dir.parent().unwrap().to_path_buf());
            cases.push(c);
        }
    }
    let missing = "/nonexistent/bindep.txt";
    cases.push(Case::new(
        "missing file",
        Some("debian-bookworm"),
        &["-f", missing, "-l", "newline"],
    ));
    cases.push(Case::new(
        "missing file --profiles",
        Some("debian-bookworm"),
        &["-f", missing, "--profiles"],
    ));
    // argparse `store`: the last --file wins
    cases.push(Case::new(
        "two -f",
        Some("ubuntu-noble"),
        &[
            "-f",
            "loci-bindep.txt",
            "-f",
            second.to_str().unwrap(),
            "-l",
            "newline",
            "nova",
        ],
    ));
    // platforms bindep itself cannot evaluate
    for os in ["rocky-noversion", "no-id"] {
        cases.push(Case::new(
            format!("{os} -l"),
            Some(os),
            &["-f", "loci-pydep.txt", "-l", "newline"],
        ));
        cases.push(Case::new(
            format!("{os} --profiles"),
            Some(os),
            &["-f", "loci-pydep.txt", "--profiles"],
        ));
    }
    // keep the "printed something" ratio meaningful
    for (os, _) in PLATFORMS {
        cases.push(Case::new(
            "listing",
            Some(os),
            &["-f", "loci-bindep.txt", "-l", "newline", "nova"],
        ));
        cases.push(Case::new(
            "listing",
            Some(os),
            &["-f", "loci-bindep.txt", "--profiles"],
        ));
    }
    compare(&cases);
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn stdin_file_matches_real_bindep() {
    let text = std::fs::read(fixtures().join("loci-bindep.txt")).unwrap();
    let run = |cmd: &mut Command| {
        let mut child = cmd
            .current_dir(fixtures())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&text).unwrap();
        let out = child.wait_with_output().unwrap();
        (String::from_utf8(out.stdout).unwrap(), out.status.code())
    };
    let os = os_release("ubuntu-jammy");
    for args in [
        &["-f", "-", "-l", "newline", "nova", "jammy"][..],
        &["-f", "-", "--profiles"][..],
    ] {
        let real = run(Command::new(python())
            .arg(fixtures().join("harness.py"))
            .arg("--os-release")
            .arg(&os)
            .args(args));
        let ours = run(Command::new(env!("CARGO_BIN_EXE_loci"))
            .arg("bindep")
            .arg("--os-release")
            .arg(&os)
            .args(args));
        assert!(!real.0.is_empty());
        assert_eq!(ours, real, "bindep {args:?} with the file on stdin");
    }
}

#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn platform_profiles_of_many_distros_match_real_bindep() {
    let mut cases = Vec::new();
    for dir in ["os-release", "os-release-extra"] {
        let mut names: Vec<String> = std::fs::read_dir(fixtures().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            cases.push(Case::new(
                format!("{name} --profiles"),
                Some(&name),
                &["-f", "edge-cases.txt", "--profiles"],
            ));
            cases.push(Case::new(
                format!("{name} -l"),
                Some(&name),
                &["-f", "edge-cases.txt", "-l", "newline", "nova"],
            ));
        }
    }
    assert!(cases.len() >= 50);
    compare(&cases);
}

/// `-b` and the plain check query the package manager: compared on this host (no
/// `--os-release`); a host with neither dpkg-query nor rpm fails the test.
#[test]
#[ignore = "needs PyPI and python3 with venv: run tests/run.sh (cargo test -- --include-ignored)"]
fn installed_package_check_on_host_matches_real_bindep() {
    let has = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let text = if has("dpkg-query") {
        "bash\ncoreutils >=1.0\ndpkg <1.0\nlibc6 [platform:dpkg] >=2.0,<999\nloci-surely-not-installed-pkg\nanother-missing-one [nova]\nrpm-only [platform:rpm]\n"
    } else if has("rpm") {
        "bash\ncoreutils >=1.0\nrpm <1.0\nglibc [platform:rpm] >=2.0,<999\nloci-surely-not-installed-pkg\nanother-missing-one [nova]\ndpkg-only [platform:dpkg]\n"
    } else {
        panic!(
            "neither dpkg-query nor rpm on this host: the -b comparison needs one of them \
             (run the suite on Debian/Ubuntu, or install rpm)"
        );
    };
    let all_installed = "bash\ncoreutils\n";
    let f = scratch("host", "check.txt", text);
    let g = scratch("host", "installed.txt", all_installed);
    let (f, g) = (f.to_str().unwrap(), g.to_str().unwrap());
    let cases = vec![
        Case::new("-b", None, &["-f", f, "-b"]),
        Case::new("-b nova", None, &["-f", f, "-b", "nova"]),
        Case::new("check", None, &["-f", f]),
        Case::new("check nova", None, &["-f", f, "nova"]),
        Case::new("all installed -b", None, &["-f", g, "-b"]),
        Case::new("all installed", None, &["-f", g]),
        Case::new("host --profiles", None, &["-f", f, "--profiles"]),
        Case::new("host -l", None, &["-f", f, "-l", "newline"]),
    ];
    compare(&cases);
}
