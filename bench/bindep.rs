//! Benchmark: native bindep vs the real bindep 2.14 on LOCI's bindep.txt, keystone, Debian bookworm.
//!
//! `cargo bench --bench bindep` (see bench/README.md). Prints the mean time of one evaluation
//! (parse + evaluate) by `loci::bindep`, then the same input through the real bindep: in-process
//! (`Depends(text)` + `active_rules`, the same work) and as the command LOCI runs
//! (`bindep -f bindep.txt -l newline keystone`, interpreter start-up included). The Python side
//! uses the venv the differential test creates under target/tmp (created here if missing; needs
//! PyPI) and is skipped with a note when Python or the network is unavailable.
//! Exits 1 if the two implementations print different package lists.

#[path = "../tests/support/pyvenv.rs"]
mod pyvenv;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use loci::bindep::{BindepFile, Platform};
use loci::os_release::OsRelease;

const GOAL: Duration = Duration::from_millis(5);
const PIP_PINS: &[&str] = &["bindep==2.14.0", "distro==1.9.0", "Parsley==1.3"];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bindep")
}

fn main() {
    let file = fixtures().join("loci-bindep.txt");
    let os_file = fixtures().join("os-release/debian-bookworm");
    let text = std::fs::read_to_string(&file).expect("LOCI bindep.txt fixture");
    let os = OsRelease::from_file(&os_file).expect("bookworm os-release fixture");
    let platform = Platform::from_os_release(&os);
    let profiles = vec!["keystone".to_string()];

    let ours = BindepFile::parse("bindep.txt", &text)
        .expect("parse")
        .packages(&platform, &profiles);
    println!(
        "bindep benchmark: LOCI bindep.txt ({} lines), profile keystone, {}",
        text.lines().count(),
        os.pretty_name
    );
    println!("  packages: {}", ours.join(" "));

    // native: parse + evaluate, repeated for ~2 s after a warm-up
    for _ in 0..200 {
        black_box(evaluate(&text, &platform, &profiles));
    }
    let mut iterations = 0u32;
    let mut min = Duration::MAX;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        black_box(evaluate(black_box(&text), &platform, &profiles));
        min = min.min(t.elapsed());
        iterations += 1;
    }
    let mean = started.elapsed() / iterations;
    println!(
        "  loci::bindep   parse+evaluate: mean {:>10.1?} (min {:.1?}) over {iterations} runs; goal < {GOAL:?}: {}",
        mean,
        min,
        if mean < GOAL { "met" } else { "NOT MET" }
    );
    let t = Instant::now();
    for _ in 0..1000 {
        black_box(Platform::from_os_release(black_box(&os)));
    }
    println!(
        "  loci::bindep   platform profiles from os-release: mean {:.1?}",
        t.elapsed() / 1000
    );

    // the real bindep
    let Some(python) = python() else { return };
    let harness = fixtures().join("harness.py");
    let script = r#"
import sys, time
import distro, distro.distro as impl
import bindep.depends as d
root = sys.argv[1]
impl._distro = impl.LinuxDistribution(root_dir=root)
text = open(sys.argv[2]).read()
dep = d.Depends(text)  # warm-up
n, start = 0, time.perf_counter()
while n < 3 or time.perf_counter() - start < 3:
    dep = d.Depends(text)
    rules = dep.active_rules(["keystone"] + dep.platform_profiles())
    n += 1
print((time.perf_counter() - start) / n, n)
"#;
    let root = std::env::temp_dir().join(format!("loci-bindep-bench-{}", std::process::id()));
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::copy(&os_file, root.join("etc/os-release")).unwrap();
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&root)
        .arg(&file)
        .output();
    let _ = std::fs::remove_dir_all(&root);
    match out {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout);
            let mut it = s.split_whitespace();
            let secs: f64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
            let n = it.next().unwrap_or("?").to_string();
            println!(
                "  bindep 2.14    Depends()+active_rules in-process: mean {:>10.1?} over {n} runs ({:.0}x loci)",
                Duration::from_secs_f64(secs),
                secs / mean.as_secs_f64()
            );
        }
        Ok(o) => println!(
            "  bindep 2.14 in-process run failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => println!("  bindep 2.14 in-process run failed: {e}"),
    }

    let mut total = Duration::ZERO;
    let runs = 5;
    let mut real_stdout = String::new();
    for _ in 0..runs {
        let t = Instant::now();
        let o = Command::new(&python)
            .arg(&harness)
            .arg("--os-release")
            .arg(&os_file)
            .args(["-f"])
            .arg(&file)
            .args(["-l", "newline", "keystone"])
            .output()
            .expect("run bindep");
        total += t.elapsed();
        real_stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    }
    let cli = total / runs;
    println!(
        "  bindep 2.14    `bindep -f bindep.txt -l newline keystone`: mean {cli:>10.1?} per command over {runs} runs ({:.0}x loci parse+evaluate)",
        cli.as_secs_f64() / mean.as_secs_f64()
    );
    let ours_stdout = ours.join("\n") + "\n";
    if real_stdout != ours_stdout {
        eprintln!("OUTPUTS DIFFER:\n  bindep: {real_stdout:?}\n  loci:   {ours_stdout:?}");
        std::process::exit(1);
    }
    println!("  outputs equal: yes");
}

fn evaluate(text: &str, platform: &Platform, profiles: &[String]) -> Vec<String> {
    BindepFile::parse("bindep.txt", text)
        .expect("parse")
        .packages(platform, profiles)
}

/// The venv of the differential test (target/tmp/bindep-venv-2.14.0), created if missing.
fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LOCI_BINDEP_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bindep-venv-2.14.0");
    if !dir.join(".loci-complete").exists() {
        println!(
            "  creating {} (pip install {})",
            dir.display(),
            PIP_PINS.join(" ")
        );
        if let Err(e) = create_venv(&dir) {
            println!("  skipping the Python bindep comparison: {e}");
            return None;
        }
    }
    Some(dir.join("bin/python"))
}

fn create_venv(dir: &Path) -> Result<(), String> {
    pyvenv::ensure_venv(dir, PIP_PINS, "bindep")
}
