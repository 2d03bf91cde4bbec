#!/usr/bin/env python3
"""The matrix of `loci plan` runs bench/plan-compare.sh compares between two loci binaries.

Prints one case a line as JSON: {"name", "env", "distro", "stage", "json", "loci_dir"}. Every image of
compose.yaml (LOCI master's 30 services with their PROFILES, PIP_PACKAGES, DIST_PACKAGES,
PIP_ARGS, KEEP_ALL_WHEELS, and the requirements image) plus PROJECT=infra, on every distro of
tests/fixtures/os-release, at every stage that fits the build, with the installer and the form
of WHEELS taking turns; then keystone at every installer × WHEELS form × stage × distro; then
one case per build argument that changes a plan (and the refusals of bad values); then a share
of all of it again as --json.

Usage:
    plan_cases.py REPO WORKDIR list           the cases, one JSON object a line
    plan_cases.py REPO WORKDIR run LOCI OUT   runs `LOCI plan` for every case, writing the exit
                                              code, stdout and stderr of each to OUT/NAME
WORKDIR holds the wheels directory, mount points and loci dirs the cases name (made here).
"""

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys

repo, work = sys.argv[1], os.path.abspath(sys.argv[2])
fixtures = os.path.join(repo, "tests/fixtures/os-release")
DISTROS = sorted(os.listdir(fixtures))
INSTALLERS = ["pip", "uv"]


def compose_images(path):
    """Each build of compose.yaml as (name, args), `${VAR:-default}` resolved to its default."""
    images, name, in_args = [], None, False
    text = open(path).read()
    services = text[text.index("\nservices:") :]
    common = {}
    block = re.search(r"^x-args: &args\n((?:  .*\n)+)", text, re.M)
    for line in block.group(1).splitlines():
        m = re.match(r"  ([A-Z_]+): (.*)$", line)
        if m:
            common[m.group(1)] = m.group(2)
    args = {}
    for line in services.splitlines():
        m = re.match(r"^  ([a-z][a-z0-9-]*):\s*$", line)
        if m:
            if name and "PROJECT" in args:
                images.append((name, args))
            name, args, in_args = m.group(1), dict(common), False
            continue
        if re.match(r"^      args:", line):
            in_args = True
            continue
        m = re.match(r"^        ([A-Z_]+): (.*)$", line)
        if in_args and m:
            args[m.group(1)] = m.group(2)
    if name and "PROJECT" in args:
        images.append((name, args))
    out = []
    for name, args in images:
        resolved = {}
        for k, v in args.items():
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            v = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", v)
            v = re.sub(r"\$\{[A-Z_]+\}", "", v)
            resolved[k] = v
        # The gate's images run the loci binary and base named there; neither is a plan input.
        resolved.pop("LOCI_IMAGE", None)
        out.append((name, resolved))
    return out


def wheels_env(mode):
    """The build arguments of one form of WHEELS."""
    return {
        "image": {"WHEELS": "loci/requirements:2026.1"},
        "mounted": {"WHEELS": "loci/requirements:2026.1", "WHEELS_PATH": f"{work}/mount"},
        "url": {"WHEELS": "https://wheels.example/requirements-2026.1.tar.gz"},
        "path": {"WHEELS": "/tmp/requirements.tar.zst"},
        "dir": {"WHEELS": f"{work}/wheels-dir"},
        "empty": {"WHEELS": "", "UPPER_CONSTRAINTS": "https://constraints.example/upper-2026.1"},
    }[mode]


WHEELS_MODES = ["image", "mounted", "url", "path", "dir", "empty"]
cases = []


def case(name, env, distro, stage, as_json=False):
    loci_dir = env.pop("@loci-dir", "plain")
    cases.append({"name": name, "env": env, "distro": distro, "stage": stage, "json": as_json, "loci_dir": loci_dir})


images = compose_images(os.path.join(repo, "compose.yaml"))
images.append(("infra", {"PROJECT": "infra", "PROFILES": "fluent"}))
turn = 0
for image, image_env in images:
    kind = image_env["PROJECT"]
    stages = {"requirements": ["requirements", "project"], "infra": ["project"]}.get(
        kind, ["project", "builder", "runtime"]
    )
    for distro in DISTROS:
        for stage in stages:
            installer = INSTALLERS[turn % 2]
            mode = WHEELS_MODES[(turn // 2) % len(WHEELS_MODES)]
            turn += 1
            env = dict(image_env)
            env["INSTALLER"] = installer
            if kind != "requirements":
                env.update(wheels_env(mode))
            case(f"{image}.{distro}.{stage}.{installer}.{mode}", env, distro, stage)

for distro in DISTROS:
    for stage in ["project", "builder", "runtime"]:
        for installer in INSTALLERS:
            for mode in WHEELS_MODES:
                env = {"PROJECT": "keystone", "PROJECT_RELEASE": "2026.1", "INSTALLER": installer}
                env.update(wheels_env(mode))
                case(f"keystone-matrix.{distro}.{stage}.{installer}.{mode}", env, distro, stage)

# One build argument at a time, on keystone (a service), nova and horizon and skyline (hooks)
# and requirements; on bookworm and rocky (apt and dnf).
ONE_AT_A_TIME = [
    ("plugin", {"PLUGIN": "yes"}),
    ("epoch", {"SOURCE_DATE_EPOCH": "1700000000"}),
    ("epoch-uv", {"SOURCE_DATE_EPOCH": "1700000000", "INSTALLER": "uv"}),
    ("cache", {"LOCI_CACHE_DIR": f"{work}/cache"}),
    ("cache-off", {"LOCI_CACHE_DIR": f"{work}/cache", "PACKAGE_CACHE": "False"}),
    ("extra-projects", {"EXTRA_PROJECTS": "one two"}),
    ("extras", {"PROJECT_PIP_EXTRAS": "ldap,oauth1"}),
    ("profiles", {"PROFILES": "apache ldap fluent"}),
    ("dist-packages", {"DIST_PACKAGES": "curl jq"}),
    ("pip-packages", {"PIP_PACKAGES": "python-memcached pymemcache"}),
    ("pip-args", {"PIP_ARGS": "--only-binary :none: --no-cache-dir"}),
    ("pip-wheel-args", {"PIP_WHEEL_ARGS": "--no-build-isolation"}),
    ("keep-all", {"KEEP_ALL_WHEELS": "True"}),
    ("copy-config", {"COPY_DEFAULT_CONFIG_FILES": "yes"}),
    ("venv-tools", {"VENV_TOOLS": "bindep pkginfo uv"}),
    ("venv-tools-none", {"VENV_TOOLS": ""}),
    ("setuptools-none", {"SETUPTOOL_CONSTRAINT": ""}),
    ("setuptools-old-name", {"SETUPTOOLS_CONSTRAINT": "<70"}),
    ("pip-constraint", {"PIP_VERSION_CONSTRAINT": "<25", "WHEEL_CONSTRAINT": "<0.46"}),
    ("pip-constraint-old", {"PIP_CONSTRAINT": "<24"}),
    ("uid", {"UID": "1000", "GID": "1001"}),
    ("sources-dir", {"SOURCES_DIR": "/src"}),
    ("repo-ref", {"PROJECT_REPO": "https://git.example/keystone.git", "PROJECT_REF": "refs/changes/12/345678/9"}),
    ("wheels-dest", {"WHEELS_DEST": "/tmp/w2", "WHEELS": "https://wheels.example/w.tar.gz"}),
    ("distro", {"DISTRO": "ubuntu"}),
    ("nova-consoles", {"NOVNC_REPO": "git://127.0.0.1/novnc", "NOVNC_REF": "v1.4.0", "SPICE_REF": "x", "NOVA_TSS_USER": "swtpm", "NOVA_TSS_UID": "500", "NOVA_TSS_GID": "501"}),
    ("horizon-panels", {"HORIZON_EXTRA_PANELS": "heat_dashboard manila_ui"}),
    ("oauth2", {"PROFILES": "mod_oauth2", "MOD_OAUTH2_URL": "https://x.example/mod-{codename}.deb", "LIBOAUTH2_URL": "https://x.example/lib-{codename}.deb"}),
    ("skyline-git", {"SKYLINE_CONSOLE_REPO": "https://git.example/skyline-console", "SKYLINE_CONSOLE_REF": "stable/2026.1"}),
    ("skyline-pypi", {"SKYLINE_CONSOLE_REPO": "pypi", "SKYLINE_CONSOLE_REF": "==8.*"}),
    ("skyline-pypi-master", {"SKYLINE_CONSOLE_REPO": "pypi"}),
    ("prefetch-off", {"REQUIREMENTS_PREFETCH": "False"}),
    ("only", {"REQUIREMENTS_ONLY": "six pbr", "REQUIREMENTS_JOBS": "3"}),
    ("only-file", {"REQUIREMENTS_ONLY_FILE": f"{work}/closure.txt"}),
    ("from", {"FROM": "debian@sha256:" + "a" * 64, "IMAGE_CREATED": "2026-01-01", "IMAGE_REVISION": "abc"}),
    ("registry", {"REGISTRY_PROTOCOL": "https", "REGISTRY_INSECURE": "yes", "REGISTRY_AUTH_FILE": "/run/auth.json"}),
    ("tls", {"SSL_CERT_FILE": "/etc/ssl/extra.pem", "LOCI_HTTP_CONNECT_TIMEOUT": "3", "LOCI_HTTP_READ_TIMEOUT": "4.5"}),
    ("proxy", {"http_proxy": "http://127.0.0.1:3128", "NO_PROXY": "localhost"}),
    ("loci-version", {"LOCI_VERSION": "0.1.0"}),
    ("extra-bindep", {"EXTRA_BINDEP": "bindep-extra.txt", "EXTRA_PYDEP": "pydep-extra.txt", "@loci-dir": "extra"}),
    # Refused values: the error (and its exit code) must stay the same too.
    ("bad-bool", {"PLUGIN": "maybe"}),
    ("bad-uid", {"UID": "root"}),
    ("bad-installer", {"INSTALLER": "conda"}),
    ("bad-wheels", {"WHEELS": "ftp://x/y.tgz"}),
    ("bad-wheels-ref", {"WHEELS": "image@sha256:xyz"}),
    ("bad-protocol", {"REGISTRY_PROTOCOL": "gopher"}),
    ("bad-epoch", {"SOURCE_DATE_EPOCH": "yesterday"}),
    ("bad-jobs", {"REQUIREMENTS_JOBS": "0"}),
    ("bad-timeout", {"LOCI_HTTP_READ_TIMEOUT": "9999"}),
    ("bad-project", {"PROJECT": "-rf"}),
    ("bad-profile", {"PROFILES": "../x"}),
    ("bad-sources-dir", {"SOURCES_DIR": "tmp/../x"}),
    ("bad-upper", {"WHEELS": "", "UPPER_CONSTRAINTS": "ftp://x"}),
    ("bad-skyline-ref", {"SKYLINE_CONSOLE_REPO": "pypi", "SKYLINE_CONSOLE_REF": "stable/x y"}),
    ("bad-version", {"LOCI_VERSION": "9.9.9"}),
    ("bad-dist-package", {"DIST_PACKAGES": "--force"}),
    ("no-project", {"PROJECT": ""}),
]
for project in ["keystone", "nova", "horizon", "skyline-apiserver", "requirements"]:
    for distro in ["debian-bookworm", "rocky-9"]:
        for label, extra in ONE_AT_A_TIME:
            env = {"PROJECT": project, "PROJECT_RELEASE": "2026.1"}
            if project != "requirements":
                env["WHEELS"] = "loci/requirements:2026.1"
            env.update(extra)
            stage = "requirements" if project == "requirements" else "project"
            case(f"arg-{label}.{project}.{distro}", env, distro, stage)
        # Stages that do not fit the build are refused.
        for stage in ["requirements", "builder", "runtime"]:
            if (project == "requirements") == (stage == "requirements"):
                continue
            env = {"PROJECT": project, "WHEELS": "loci/requirements:2026.1"}
            case(f"wrong-stage.{project}.{distro}.{stage}", env, distro, stage)

# A share of everything again as JSON.
for c in list(cases)[::7]:
    env = dict(c["env"])
    if c["loci_dir"] != "plain":
        env["@loci-dir"] = c["loci_dir"]
    case(c["name"] + ".json", env, c["distro"], c["stage"], True)



def prepare():
    """The directories and loci dirs the cases name, the same for both binaries."""
    for d in ["mount", "wheels-dir", "cache", "loci-plain", "loci-extra"]:
        os.makedirs(os.path.join(work, d), exist_ok=True)
    for d in ["loci-plain", "loci-extra"]:
        for f in ["bindep.txt", "pydep.txt"]:
            shutil.copy(os.path.join(repo, f), os.path.join(work, d, f))
    with open(os.path.join(work, "closure.txt"), "w") as f:
        f.write("six\npbr\nkeystone\n")
    with open(os.path.join(work, "loci-extra", "bindep-extra.txt"), "w") as f:
        f.write("jq [platform:dpkg]\nlibffi-devel [platform:rpm compile]\nldap-utils [ldap]\n")
    with open(os.path.join(work, "loci-extra", "pydep-extra.txt"), "w") as f:
        f.write("python3-ldap [ldap]\npython3-yaml\n")


def run_one(loci, out, c):
    argv = [
        loci, "plan",
        "--os-release", os.path.join(fixtures, c["distro"]),
        "--loci-dir", os.path.join(work, "loci-" + c["loci_dir"]),
        "--stage", c["stage"],
    ] + (["--json"] if c["json"] else [])
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(c["env"])
    p = subprocess.run(argv, env=env, capture_output=True, text=True)
    with open(os.path.join(out, c["name"]), "w") as f:
        f.write(f"exit {p.returncode}\n--- stdout\n{p.stdout}--- stderr\n{p.stderr}")


mode = sys.argv[3]
if mode == "list":
    for c in cases:
        print(json.dumps(c))
elif mode == "run":
    loci, out = os.path.abspath(sys.argv[4]), sys.argv[5]
    prepare()
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda c: run_one(loci, out, c), cases))
    print(len(cases))
else:
    sys.exit(f"unknown mode {mode}")
