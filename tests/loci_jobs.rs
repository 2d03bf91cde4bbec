//! LOCI master's own jobs, passed to loci exactly as LOCI's gate passes them.
//!
//! `playbooks/vars.yaml` is rendered with each release file (`vars_2025.1_noble.yaml`,
//! `vars_2025.2_noble.yaml`) as Zuul and Ansible render it: a job's variables are the two files
//! merged (the release file wins), every string a Jinja template resolved lazily against them
//! (a string that is one expression keeps its native value: `"{{ barbican_image }}"` is the
//! image's mapping). Each job then becomes the command the build-container-image role's task
//! (`roles/build-container-image/tasks/build.yaml`) renders, split as Ansible's command module
//! splits a free-form command (`shlex.split`). The Dockerfile the command names is loci's own
//! file of that name; its `--build-arg`s reach loci as Docker passes them (the ARGs the target
//! stage declares, the given value or the ARG's default), and `loci plan` plans the job for
//! Ubuntu noble (the release files' distro) at the job's target, with nothing adapted.
//!
//! The keystone job is also built for real, with its exact arguments, WHEELS included
//! (`loci_masters_keystone_job_builds_from_its_requirements_image_in_a_registry`); the same
//! job without WHEELS, at the default target, is tests/e2e_buildkit.rs's
//! `keystone_at_the_default_target_without_wheels_from_pypi`.

#[path = "support/e2e.rs"]
mod e2e;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use minijinja::value::{Kwargs, Value as Jinja};
use minijinja::Environment;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures/loci-master").join(rel)
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Days since 1970-01-01 as (year, month, day) (the proleptic Gregorian calendar).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The Jinja environment of Zuul's Ansible: its `now()` (the date parts LOCI's `currentdate`
/// uses) besides Jinja's own filters and tests.
fn jinja() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_function(
        "now",
        |kwargs: Kwargs| -> Result<String, minijinja::Error> {
            let fmt: Option<String> = kwargs.get("fmt")?;
            let _utc: Option<bool> = kwargs.get("utc")?;
            kwargs.assert_all_used()?;
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let (y, m, d) = civil(secs.div_euclid(86_400));
            let fmt = fmt.unwrap_or_else(|| "%Y-%m-%d".into());
            Ok(fmt
                .replace("%Y", &format!("{y:04}"))
                .replace("%m", &format!("{m:02}"))
                .replace("%d", &format!("{d:02}")))
        },
    );
    env
}

/// One string templated against `vars`: a string that is one `{{ expression }}` and nothing
/// else keeps the expression's native value (Ansible's native types for a bare variable).
fn render_str(env: &Environment, s: &str, vars: &Value) -> Value {
    if !s.contains("{{") && !s.contains("{%") {
        return Value::String(s.to_string());
    }
    let t = s.trim();
    if let Some(inner) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
        if !inner.contains("{{") && !inner.contains("}}") {
            let expr = env
                .compile_expression(inner.trim())
                .unwrap_or_else(|e| panic!("{s}: {e}"));
            let v = expr
                .eval(Jinja::from_serialize(vars))
                .unwrap_or_else(|e| panic!("{s}: {e}"));
            if v.as_str().is_none() {
                return serde_json::to_value(&v).unwrap();
            }
        }
    }
    Value::String(
        env.render_str(s, Jinja::from_serialize(vars))
            .unwrap_or_else(|e| panic!("{s}: {e}")),
    )
}

fn render_value(env: &Environment, v: &Value, vars: &Value) -> Value {
    match v {
        Value::String(s) => render_str(env, s, vars),
        Value::Array(a) => Value::Array(a.iter().map(|x| render_value(env, x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), render_value(env, x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn has_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(a) => a.iter().any(has_template),
        Value::Object(o) => o.values().any(has_template),
        _ => false,
    }
}

/// The job variables of one release: vars.yaml and the release file merged, every value
/// templated until none holds a template (Ansible resolves them lazily, in any order).
fn render_vars(release_file: &str) -> Value {
    let env = jinja();
    let mut vars = yaml(&fixture("playbooks/vars.yaml"));
    let release = yaml(&fixture(&format!("playbooks/{release_file}")));
    for (k, v) in release.as_object().unwrap() {
        vars[k] = v.clone();
    }
    // The facts and Zuul variables the templates name (a job on an Ubuntu node; no site
    // mirror: the `default()` applies, as on a node without one).
    vars["ansible_distribution"] = "Ubuntu".into();
    for _ in 0..10 {
        if !has_template(&vars) {
            return vars;
        }
        vars = render_value(&env, &vars, &vars);
    }
    panic!("{release_file}: templates left after 10 rounds: {vars:#}");
}

/// The build-container-image role's command for `image`, split as Ansible's command module
/// splits it.
fn command(vars: &Value, image: &Value) -> Vec<String> {
    let env = jinja();
    let tasks = yaml(&fixture("roles/build-container-image/tasks/build.yaml"));
    let task = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Build a container image")
        .expect("the role's build task");
    let mut ctx = vars.clone();
    ctx["zj_image"] = image.clone();
    ctx["container_command"] = "docker".into();
    ctx["zuul"] = serde_json::json!({
        "pipeline": "check",
        "change": "951000",
        "change_url": "https://review.opendev.org/c/openstack/loci/+/951000",
    });
    ctx["containerfile"] = image["container_filename"].clone();
    let tag_prefix = render_str(&env, task["vars"]["tag_prefix"].as_str().unwrap(), &ctx);
    ctx["tag_prefix"] = tag_prefix;
    let line = render_str(&env, task["command"].as_str().unwrap(), &ctx);
    let line = line.as_str().unwrap();
    shlex::split(line).unwrap_or_else(|| panic!("not a command line: {line}"))
}

/// What a job passes to `docker build`.
#[derive(Debug)]
struct Job {
    name: String,
    file: String,
    target: Option<String>,
    args: Vec<(String, String)>,
}

fn job(name: &str, argv: &[String]) -> Job {
    assert_eq!(&argv[..3], ["docker", "build", "."], "{name}: {argv:?}");
    let mut file = "Dockerfile".to_string();
    let mut target = None;
    let mut args = Vec::new();
    let mut i = 3;
    while i < argv.len() {
        let value = || argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "-f" => file = value(),
            "--target" => target = Some(value()),
            "--build-arg" => {
                let a = value();
                let (k, v) = a
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{name}: --build-arg {a}"));
                args.push((k.to_string(), v.to_string()));
            }
            "--tag" | "--label" => {}
            other => panic!("{name}: unexpected argument {other:?} in {argv:?}"),
        }
        i += 2;
    }
    Job {
        name: name.to_string(),
        file,
        target,
        args,
    }
}

/// Every job of a release: base, requirements and the release's `openstack_images`.
fn jobs(release_file: &str) -> Vec<Job> {
    let vars = render_vars(release_file);
    let mut images = vec![
        ("base".to_string(), vars["base_image"].clone()),
        (
            "requirements".to_string(),
            vars["requirements_image"].clone(),
        ),
    ];
    for image in vars["openstack_images"].as_array().unwrap() {
        let repo = image["repository"].as_str().unwrap();
        let name = repo.rsplit('/').next().unwrap().to_string();
        images.push((name, image.clone()));
    }
    images
        .iter()
        .map(|(name, image)| job(name, &command(&vars, image)))
        .collect()
}

/// The Dockerfile's stages in order: name -> the ARG lines declared in it (name, default).
type Stages = Vec<(String, String, Vec<(String, Option<String>)>)>;

/// Stages of a Dockerfile: (name, the FROM's base, its ARGs), the global ARGs first as "".
fn stages(dockerfile: &str) -> Stages {
    let mut out: Stages = vec![(String::new(), String::new(), Vec::new())];
    for line in dockerfile.lines() {
        let t = line.trim();
        if let Some(from) = t.strip_prefix("FROM ") {
            let words: Vec<&str> = from.split_whitespace().collect();
            let base = words
                .iter()
                .find(|w| !w.starts_with("--"))
                .unwrap()
                .to_string();
            let name = match words.iter().position(|w| w.eq_ignore_ascii_case("AS")) {
                Some(i) => words[i + 1].to_string(),
                None => String::new(),
            };
            out.push((name, base, Vec::new()));
        } else if let Some(a) = t.strip_prefix("ARG ") {
            let (k, v) = match a.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.trim_matches('"').to_string())),
                None => (a.trim().to_string(), None),
            };
            out.last_mut().unwrap().2.push((k, v));
        }
    }
    out
}

/// `$NAME` and `${NAME}` of `value` from `env` (the defaults the Dockerfile computes, e.g.
/// PROJECT_REPO's `${PROJECT}`); unset names expand to nothing.
fn expand(value: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, skip) = if let Some(b) = after.strip_prefix('{') {
            let end = b.find('}').unwrap();
            (&b[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "an expansion this emulation does not know: {value}"
        );
        out.push_str(env.get(name).map(String::as_str).unwrap_or(""));
        rest = &after[skip..];
    }
    out.push_str(rest);
    out
}

/// The environment Docker gives the `RUN` of `stage` (and of the stages it is built on): each
/// ARG the stages declare, with the value given, else its default; an ARG without either is
/// not set.
fn stage_env(all: &Stages, stage: &str, given: &[(String, String)]) -> BTreeMap<String, String> {
    let given: BTreeMap<&str, &str> = given
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut chain = Vec::new();
    let mut name = stage.to_string();
    while let Some(s) = all.iter().find(|s| s.0 == name) {
        chain.push(s);
        name = s.1.clone();
    }
    let mut env = BTreeMap::new();
    for (_, _, args) in chain.iter().rev() {
        for (k, default) in args {
            let v = match (given.get(k.as_str()), default) {
                (Some(v), _) => v.to_string(),
                (None, Some(d)) => expand(d, &env),
                (None, None) => continue,
            };
            env.insert(k.clone(), v);
        }
    }
    env
}

/// The stage whose `RUN` runs loci for the target, as loci's Dockerfile routes `project`.
fn loci_stage(job: &Job) -> &'static str {
    let given = |k: &str| {
        job.args
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    match job.target.as_deref() {
        Some("requirements") => "requirements",
        Some("runtime") => "runtime",
        Some("project") | None if given("PROJECT") == "requirements" => "requirements",
        Some("project") | None if !given("WHEELS").is_empty() => "project-one-stage",
        Some("project") | None => "runtime",
        Some(other) => panic!("{}: target {other}", job.name),
    }
}

struct Planned {
    stdout: String,
    stderr: String,
    ok: bool,
}

fn loci_plan(stage: &str, env: &BTreeMap<String, String>) -> Planned {
    let loci_stage = match stage {
        "project-one-stage" => "project",
        other => other,
    };
    let out = Command::new(env!("CARGO_BIN_EXE_loci"))
        .env_clear()
        .envs(env)
        .current_dir(root())
        .args([
            "plan",
            "--stage",
            loci_stage,
            "--os-release",
            root()
                .join("tests/fixtures/os-release/ubuntu-noble")
                .to_str()
                .unwrap(),
            "--loci-dir",
            root().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    Planned {
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
        ok: out.status.success(),
    }
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

/// Checks that every argument `job` passes is declared by loci's Dockerfile of that name (none
/// is dropped on the way to loci: Docker would only warn) and plans it with loci at its target.
/// `None` for the base (it runs no loci: its arguments reaching it is the whole contract here;
/// tests/e2e_base.rs builds it) and when a check failed (pushed to `failures`, named `label`).
fn plan_job(label: &str, job: &Job, failures: &mut Vec<String>) -> Option<Planned> {
    let text = read(&job.file);
    let all = stages(&text);
    let declared: BTreeSet<&str> = all
        .iter()
        .flat_map(|s| s.2.iter().map(|(k, _)| k.as_str()))
        .collect();
    for (k, _) in &job.args {
        if !declared.contains(k.as_str()) {
            failures.push(format!(
                "{label} {}: --build-arg {k} is declared by no ARG of loci's {}",
                job.name, job.file
            ));
        }
    }
    if job.file == "Dockerfile.base" {
        return None;
    }
    assert_eq!(job.file, "Dockerfile", "{label} {}", job.name);
    if let Some(target) = &job.target {
        if !all.iter().any(|s| &s.0 == target) {
            failures.push(format!(
                "{label} {}: --target {target} is no stage of loci's Dockerfile",
                job.name
            ));
            return None;
        }
    }
    let stage = loci_stage(job);
    let env = stage_env(&all, stage, &job.args);
    let planned = loci_plan(stage, &env);
    if !planned.ok {
        failures.push(format!(
            "{label} {} (stage {stage}): loci plan failed:\n{}\nwith {env:?}",
            job.name, planned.stderr
        ));
        return None;
    }
    Some(planned)
}

/// Plans every job of `release_file`; returns the service images planned.
fn plan_release(release_file: &str) -> BTreeSet<String> {
    let jobs = jobs(release_file);
    let mut failures = Vec::new();
    let mut services = BTreeSet::new();
    for job in &jobs {
        let Some(planned) = plan_job(release_file, job, &mut failures) else {
            continue;
        };
        // What LOCI accepts and loci ignores is said, once each.
        let given = |k: &str| {
            job.args
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        if let Some(mirror) = given("APT_MIRROR") {
            let want = format!("ignored: APT_MIRROR={mirror:?}");
            if !planned.stdout.contains(&want) {
                failures.push(format!("{release_file} {}: no `{want}` line", job.name));
            }
        }
        for p in given("PROFILES").unwrap_or_default().split_whitespace() {
            let line = format!("ignored: PROFILES={p:?}");
            let ignored = p.contains('/');
            if planned.stdout.contains(&line) != ignored {
                failures.push(format!(
                    "{release_file} {}: PROFILES entry {p}: ignored is {}, wanted {ignored}\n{}",
                    job.name, !ignored, planned.stdout
                ));
            }
        }
        if job.name != "base" && job.name != "requirements" {
            services.insert(job.name.clone());
        }
        if job.name == "keystone" {
            // The profiles that mean something still do: ldap's library and apache on noble.
            for want in ["libldap2", "apache2", "libapache2-mod-wsgi-py3"] {
                if !planned.stdout.contains(want) {
                    failures.push(format!("{release_file} keystone: {want} not planned"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    services
}

#[test]
fn every_job_of_loci_masters_2025_1_release_plans_with_its_exact_arguments() {
    let services = plan_release("vars_2025.1_noble.yaml");
    assert_eq!(services.len(), 29, "{services:?}");
}

#[test]
fn every_job_of_loci_masters_2025_2_release_plans_with_its_exact_arguments() {
    let services = plan_release("vars_2025.2_noble.yaml");
    assert_eq!(services.len(), 28, "{services:?}");
}

#[test]
fn the_two_releases_cover_the_thirty_images_of_vars_yaml() {
    let mut planned: BTreeSet<String> = BTreeSet::new();
    for release in ["vars_2025.1_noble.yaml", "vars_2025.2_noble.yaml"] {
        for job in jobs(release) {
            if job.name != "base" && job.name != "requirements" {
                planned.insert(job.name);
            }
        }
    }
    let vars = yaml(&fixture("playbooks/vars.yaml"));
    let defined: BTreeSet<String> = vars
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with("_image") && *k != "base_image" && *k != "requirements_image")
        .map(|(_, v)| {
            v["repository"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(defined.len(), 30, "{defined:?}");
    assert_eq!(planned, defined);
}

#[test]
fn the_rendering_is_zuuls() {
    // The keystone job of 2025.1, rendered and split: the values as the command module passes
    // them to docker (quotes gone, the release in PROFILES, the mirror's default applied).
    let jobs = jobs("vars_2025.1_noble.yaml");
    let keystone = jobs.iter().find(|j| j.name == "keystone").unwrap();
    let args: BTreeMap<&str, &str> = keystone
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(keystone.target.as_deref(), Some("project"));
    assert_eq!(
        args["FROM"],
        "quay.io/airshipit/base:2025.1-ubuntu_noble_loci"
    );
    assert_eq!(args["PROFILES"], "fluent apache ldap stable/2025.1");
    assert_eq!(args["PROJECT_REF"], "stable/2025.1");
    assert_eq!(
        args["WHEELS"],
        "quay.io/airshipit/requirements:2025.1-ubuntu_noble_loci"
    );
    assert_eq!(
        args["APT_MIRROR"],
        "[trusted=yes] https://archive.ubuntu.com/ubuntu"
    );
    let client = jobs.iter().find(|j| j.name == "openstack-client").unwrap();
    let pip = &client
        .args
        .iter()
        .find(|(k, _)| k == "PIP_PACKAGES")
        .unwrap()
        .1;
    assert!(pip.starts_with("cmd2 python-barbicanclient "), "{pip}");
    assert_eq!(pip.split_whitespace().count(), 26, "{pip}");
    let barbican = jobs.iter().find(|j| j.name == "barbican").unwrap();
    assert!(barbican
        .args
        .contains(&("PIP_ARGS".into(), "--only-binary :none:".into())));
    let base = jobs.iter().find(|j| j.name == "base").unwrap();
    assert_eq!(base.file, "Dockerfile.base");
    assert_eq!(base.target, None);
    assert!(base.args.contains(&("CEPH_REPO".into(), String::new())));
    let (y, _, _) = civil(
        (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 86_400) as i64,
    );
    assert!(y >= 2025, "{y}");
    assert_eq!(civil(0), (1970, 1, 1));
    assert_eq!(civil(20_454), (2026, 1, 1));
}

// --------------------------------------------------------------------------------------------
// README.md's CI examples. No CI system runs here: what can be checked for real is (Zuul,
// GitHub Actions, GitLab CI, in the README's order) that each block parses as YAML, every
// file, bake target and bake variable it names exists, `docker buildx bake --print` resolves
// the GitHub job's inputs, and every build argument each passes is declared by loci's
// Dockerfile and accepted by `loci plan` at the job's target.

/// The YAML blocks of README.md's "CI examples" section, in order.
fn readme_ci_blocks() -> Vec<Value> {
    let readme = read("README.md");
    let start = readme
        .find("\n## CI examples\n")
        .expect("README: ## CI examples");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(i) = rest.find("```yaml\n") {
        let body = &rest[i + 8..];
        let end = body.find("\n```").expect("an unclosed ```yaml block");
        let text = &body[..end];
        blocks.push(
            serde_yaml::from_str(text)
                .unwrap_or_else(|e| panic!("README's CI example does not parse: {e}\n{text}")),
        );
        rest = &body[end..];
    }
    assert_eq!(
        blocks.len(),
        3,
        "README's CI examples: Zuul, GitHub Actions, GitLab CI"
    );
    blocks
}

/// `${{ EXPR }}` of a GitHub Actions value, as GitHub would render it for an example owner.
fn github_expr(value: &str) -> String {
    let mut out = value.to_string();
    for (expr, v) in [
        ("${{ github.repository_owner }}", "example-owner"),
        ("${{ github.actor }}", "example-actor"),
        ("${{ secrets.GITHUB_TOKEN }}", "token"),
    ] {
        out = out.replace(expr, v);
    }
    assert!(
        !out.contains("${{"),
        "an expression this test does not know: {value}"
    );
    out
}

/// The GitHub Actions example's docker/bake-action step as `docker buildx bake` arguments (its
/// inputs: files, targets, push) and environment.
fn bake_action(job: &Value) -> (Vec<String>, Vec<(String, String)>) {
    let steps = job["jobs"]["images"]["steps"]
        .as_array()
        .expect("jobs.images.steps");
    let bake = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("docker/bake-action@"))
        })
        .expect("a docker/bake-action step");
    let with = bake["with"].as_object().expect("bake-action's `with`");
    for k in with.keys() {
        assert!(
            ["files", "targets", "push"].contains(&k.as_str()),
            "bake-action input {k}: this test knows files, targets and push"
        );
    }
    let mut args = Vec::new();
    for f in with["files"].as_str().unwrap().split(',') {
        assert!(
            root().join(f.trim()).is_file(),
            "bake-action names {f}: no such file"
        );
        args.extend(["-f".to_string(), f.trim().to_string()]);
    }
    if with.get("push") == Some(&Value::Bool(true)) {
        args.push("--push".into());
    }
    args.extend(
        with["targets"]
            .as_str()
            .unwrap()
            .split(',')
            .map(|t| t.trim().to_string()),
    );
    let env = bake["env"]
        .as_object()
        .map(|e| {
            e.iter()
                .map(|(k, v)| (k.clone(), github_expr(v.as_str().unwrap())))
                .collect()
        })
        .unwrap_or_default();
    (args, env)
}

#[test]
fn the_readmes_zuul_job_is_a_loci_master_job_that_plans() {
    let blocks = readme_ci_blocks();
    let zuul = blocks[0].as_object().expect("a mapping of jobs");
    assert_eq!(zuul.len(), 1, "one job: {zuul:?}");
    let (key, image) = zuul.iter().next().unwrap();
    assert!(
        key.ends_with("_image"),
        "{key}: LOCI's vars.yaml names its jobs *_image"
    );
    // LOCI master's jobs have these keys; the role reads them.
    let master = yaml(&fixture("playbooks/vars.yaml"));
    let known: BTreeSet<&String> = master["keystone_image"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    for k in image.as_object().unwrap().keys() {
        assert!(known.contains(k), "{key}.{k}: no key of LOCI master's jobs");
    }
    let argv = command(&serde_json::json!({}), image);
    let job = job(key, &argv);
    assert!(root().join(&job.file).is_file(), "{}", job.file);
    let mut failures = Vec::new();
    let planned = plan_job("README's Zuul job", &job, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let planned = planned.expect("a service job");
    for want in ["libldap", "apache2", "wheels"] {
        assert!(
            planned.stdout.contains(want),
            "{want} not planned:\n{}",
            planned.stdout
        );
    }
}

#[test]
fn the_readmes_gitlab_job_plans() {
    let blocks = readme_ci_blocks();
    let gitlab = &blocks[2];
    let (name, definition) = gitlab
        .as_object()
        .unwrap()
        .iter()
        .next()
        .expect("a GitLab job");
    let script = definition["script"].as_array().expect("its script");
    let build = script[0].as_str().unwrap();
    // GitLab's predefined variable, as a project's registry path.
    let build = build.replace("$CI_REGISTRY_IMAGE", "registry.example/group/loci");
    assert!(
        !build.contains('$'),
        "a variable this test does not know: {build}"
    );
    let argv = shlex::split(&build).unwrap();
    assert_eq!(argv[..2], ["docker", "build"], "{argv:?}");
    // `docker build ARGS .` in the form `job` reads (the context first).
    let mut ordered = vec!["docker".to_string(), "build".into(), ".".into()];
    let mut i = 2;
    while i < argv.len() {
        match argv[i].as_str() {
            "." => i += 1,
            "-t" => i += 2,
            _ => {
                ordered.extend_from_slice(&argv[i..i + 2]);
                i += 2;
            }
        }
    }
    assert_eq!(argv.last().map(String::as_str), Some("."), "{argv:?}");
    let job = job(name, &ordered);
    let mut failures = Vec::new();
    plan_job("README's GitLab job", &job, &mut failures).expect("a service job");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let push = script[1].as_str().unwrap();
    assert_eq!(
        push.replace("$CI_REGISTRY_IMAGE", "registry.example/group/loci"),
        format!(
            "docker push {}",
            argv[argv.iter().position(|a| a == "-t").unwrap() + 1]
        ),
        "the job pushes what it built"
    );
}

#[test]
fn the_readmes_github_job_names_what_exists() {
    let blocks = readme_ci_blocks();
    let (args, env) = bake_action(&blocks[1]);
    let hcl = read("docker-bake.hcl");
    for (k, _) in &env {
        assert!(
            hcl.contains(&format!("variable \"{k}\" {{")),
            "the job sets {k}, which docker-bake.hcl does not declare"
        );
    }
    let compose = yaml(&root().join("compose.yaml"));
    for t in args
        .iter()
        .filter(|a| !a.starts_with('-') && !a.ends_with(".hcl") && !a.ends_with(".yaml"))
    {
        assert!(
            compose["services"].get(t).is_some() || hcl.contains(&format!("target \"{t}\"")),
            "bake target {t}: neither a compose service nor a docker-bake.hcl target"
        );
    }
}

/// `docker buildx bake --print` with the GitHub job's inputs resolves, and every target it
/// would build plans with loci at its target, with the arguments bake gives it.
#[test]
#[ignore = "needs docker buildx (the client only): run tests/run.sh"]
fn the_readmes_github_job_resolves_with_bake_and_plans() {
    let blocks = readme_ci_blocks();
    let (args, env) = bake_action(&blocks[1]);
    let out = Command::new("docker")
        .current_dir(root())
        .args(["buildx", "bake", "--print"])
        .args(&args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("docker: {e} (apt-get install docker.io docker-buildx)"));
    assert!(
        out.status.success(),
        "docker buildx bake --print {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let print: Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets = print["target"].as_object().unwrap();
    assert!(targets.contains_key("keystone"), "{targets:?}");
    let registry = &env.iter().find(|(k, _)| k == "LOCI_REGISTRY").unwrap().1;
    let mut failures = Vec::new();
    for (name, t) in targets {
        for tag in t["tags"].as_array().unwrap() {
            assert!(
                tag.as_str().unwrap().starts_with(registry.as_str()),
                "{name}: {tag}"
            );
        }
        let job = Job {
            name: name.clone(),
            file: t["dockerfile"].as_str().unwrap().to_string(),
            target: t["target"].as_str().map(String::from),
            args: t["args"]
                .as_object()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        };
        plan_job("README's GitHub job (bake)", &job, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// --------------------------------------------------------------------------------------------
// The keystone job, built.

/// LOCI master's keystone job (2025.1's) run as the build-container-image role runs it: its
/// command, split, in the repository, with the job's own arguments. Its FROM and WHEELS name
/// images of LOCI's registry (`quay.io/airshipit/...`), which Zuul's jobs pull from the
/// buildset's intermediate registry: here that registry is Debian's docker-registry on
/// 127.0.0.1, holding the suite's bookworm base and a requirements image under the job's names,
/// and only the registry's address in those two values is replaced. What this machine cannot
/// reach is added: keystone's source from a `git daemon` on 127.0.0.1 with the job's
/// PROJECT_REF (`stable/2025.1`, a branch at the suite's keystone 29 sdist: the only keystone
/// here, matching the 2026.1 wheels), LOCI_IMAGE the prebuilt loci binary (the default
/// compiles it in `rust:1-bookworm`), `--network host`. With KEEP_ALL_WHEELS=yes pip never asks
/// an index: the suite's requirements image holds keystone's closure and what the job's
/// PROFILES and PIP_PACKAGES add (tests/fixtures/requirements).
///
/// The keystone must issue a token; its ldap profile must work (python-ldap and its
/// libldap-2.5-0, which git had pulled in as a dependency before the packages step asked for
/// it: marked as installed on purpose, as LOCI's `apt-get install` marks it, so the cleanup's
/// purge of git with --auto-remove cannot take it); and nothing of the build is left.
#[test]
#[ignore = "needs docker: run tests/run.sh"]
fn loci_masters_keystone_job_builds_from_its_requirements_image_in_a_registry() {
    e2e::require_docker();
    let _guard = e2e::lock();
    let vars = render_vars("vars_2025.1_noble.yaml");
    let mut argv = command(&vars, &vars["keystone_image"]);
    let keystone = job("keystone", &argv);
    let given = |k: &str| {
        keystone
            .args
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("the job passes no {k}"))
    };

    // The intermediate registry, with the job's base and requirements images.
    let registry = e2e::registry();
    let host = format!("127.0.0.1:{}", registry.port);
    let moved = |image: &str| {
        let path = image
            .strip_prefix("quay.io/")
            .unwrap_or_else(|| panic!("{image}: the job's registry is quay.io"));
        format!("{host}/{path}")
    };
    let (from, wheels) = (moved(&given("FROM")), moved(&given("WHEELS")));
    let requirements = e2e::requirements_image();
    for (local, remote) in [(e2e::base_image(), &from), (requirements, &wheels)] {
        e2e::check(e2e::docker().args(["tag", &local, remote]));
        e2e::check(e2e::docker().args(["push", remote]));
        // Only in the registry now: BuildKit pulls them, as on a Zuul node.
        e2e::check(e2e::docker().args(["rmi", remote]));
    }

    // The source, at the job's PROJECT_REF.
    let repos = tempfile::tempdir().unwrap();
    let (repo, tag) = e2e::keystone_repo(repos.path());
    e2e::git(&repo, &["branch", &given("PROJECT_REF"), &tag]);
    let commit = e2e::rev_parse(&repo, &tag);
    let daemon = e2e::git_daemon(repos.path());

    for a in argv.iter_mut() {
        for (k, v) in [("FROM", &from), ("WHEELS", &wheels)] {
            if a.starts_with(&format!("{k}=")) {
                *a = format!("{k}={v}");
            }
        }
    }
    argv.extend(e2e::build_args(&[
        (
            "PROJECT_REPO",
            &format!("git://127.0.0.1:{}/keystone", daemon.port),
        ),
        ("LOCI_IMAGE", &e2e::loci_image()),
    ]));
    let tags: Vec<String> = argv
        .windows(2)
        .filter(|w| w[0] == "--tag")
        .map(|w| w[1].clone())
        .collect();
    let image = tags[0].clone();
    // `docker build .` in the repository, as the role's task runs it (chdir: the context).
    assert_eq!(argv[..3], ["docker", "build", "."], "{argv:?}");
    let took = e2e::docker_build("keystone-loci-job", &argv[3..], &root());
    e2e::record(&format!(
        "E2E-KEYSTONE LOCI master's keystone job, WHEELS from a registry: built in {:.1}s",
        took.as_secs_f64()
    ));
    drop(daemon);

    let log = std::fs::read_to_string(e2e::work_dir().join("logs/keystone-loci-job.log")).unwrap();
    for want in [
        "ignored: PROFILES=\"stable/2025.1\"".to_string(),
        format!("ignored: APT_MIRROR={:?}", given("APT_MIRROR")),
    ] {
        assert!(log.contains(&want), "the build log says no {want}");
    }
    let info = e2e::sh_in(
        &image,
        "cat /etc/image_info/project.txt /etc/image_info/image_info.json",
    );
    assert!(info.contains(&commit), "{info}");
    assert!(
        info.contains("\"mounted\""),
        "the wheels were not mounted:\n{info}"
    );
    let out = e2e::sh_in(
        &image,
        "apt-mark showmanual libldap-2.5-0; /var/lib/openstack/bin/python -c 'import ldap, ldappool, fluent; print(ldap.__version__)'; \
         /var/lib/openstack/bin/openstack --version",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"libldap-2.5-0"),
        "libldap-2.5-0 is not marked as installed on purpose:\n{out}"
    );
    assert!(
        lines.get(2).is_some_and(|l| l.starts_with("openstack ")),
        "{out}"
    );

    e2e::assert_issues_tokens(&image);
    // apache2 (the apache profile) depends on perl: it stays for that, and only for that.
    e2e::assert_clean(&image);
    for t in &tags {
        let _ = e2e::docker().args(["rmi", t]).output();
    }
}
