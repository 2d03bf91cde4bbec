"""The gate's smoke test of one image, run inside it (as the service user, with no network) by
tools/gate.sh:

    python3 smoke.py [DISTRIBUTION...]

For the distributions installed from the build's own source trees (a direct_url.json naming a
file:///tmp/ tree: the project, EXTRA_PROJECTS) and those named on the command line (plugins
installed as PIP_PACKAGES):

- every console script they declare runs with --help (else --version) and exits 0;
- every entry point they declare (oslo.config opts, oslo.policy policies, stevedore plugins,
  console and wsgi scripts) loads: its module imports and has the attribute.

An entry point whose import needs a module the image does not have at all, and which is not
part of the distribution itself, is a plugin for an optional dependency (a storage driver's
vendor library): it is counted as optional, not as a failure. A missing module of the
distribution itself, or any other error, is a failure. The exit status is 1 when anything
failed; the output ends with one summary line.
"""

import concurrent.futures
import importlib.metadata as md
import importlib.util
import json
import os
import re
import subprocess
import sys

VENV = "/var/lib/openstack"
TIMEOUT = 120


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def own_distributions(extra):
    wanted = {normalize(n) for n in extra}
    found = {}
    for d in md.distributions():
        path = str(getattr(d, "_path", ""))
        if not path.startswith(VENV + "/"):
            continue
        name = normalize(d.metadata["Name"])
        url = ""
        try:
            url = json.loads(d.read_text("direct_url.json") or "{}").get("url", "")
        except ValueError:
            pass
        own_tree = url.startswith("file:///tmp/") and not url.endswith(".whl")
        if own_tree or name in wanted:
            found[name] = d
    missing = wanted - set(found)
    return list(found.values()), sorted(missing)


def top_levels(dist):
    text = dist.read_text("top_level.txt")
    if text:
        return {t.strip().split(".")[0] for t in text.split() if t.strip()}
    tops = set()
    for f in dist.files or []:
        first = f.parts[0]
        if first.endswith((".dist-info", ".data")) or first == "..":
            continue
        tops.add(first[:-3] if first.endswith(".py") else first)
    return tops


def run_script(name):
    """(name, how it ran, error): `--help`, else `--version`, must exit 0; a script that
    refuses both with a message of its own and no Python traceback (keystone-status without
    its fernet keys) ran: its imports are checked with the entry points."""
    path = os.path.join(VENV, "bin", name)
    tried = []
    refused = None
    for flag in ("--help", "--version"):
        try:
            p = subprocess.run(
                [path, flag],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT,
                cwd="/tmp",
            )
        except subprocess.TimeoutExpired:
            tried.append(f"{flag}: no exit within {TIMEOUT}s")
            continue
        except OSError as e:
            tried.append(f"{flag}: {e}")
            break
        if p.returncode == 0:
            return name, flag, None
        out = p.stdout.decode(errors="replace")
        tail = out.strip().splitlines()[-3:]
        tried.append(f"{flag}: exit {p.returncode}: " + " | ".join(tail))
        if "Traceback (most recent call last)" not in out and refused is None:
            refused = f"{flag} (exit {p.returncode}: " + " | ".join(tail[-1:]) + ")"
    if refused:
        return name, refused, None
    return name, None, "; ".join(tried)


def load(ep, own_tops):
    """None when the entry point loads, else ("optional" | "failed", reason)."""
    try:
        ep.load()
        return None
    except ModuleNotFoundError as e:
        missing = (e.name or "").split(".")[0]
        if missing and missing not in own_tops and importlib.util.find_spec(missing) is None:
            return "optional", f"needs {missing}"
        return "failed", f"{type(e).__name__}: {e}"
    except BaseException as e:  # noqa: B902 (SystemExit from an import is a failure too)
        return "failed", f"{type(e).__name__}: {e}"


def load_alone(ep):
    """Loads one entry point in a fresh interpreter: an error that only shows after other
    plugins were loaded (options registered twice) is not the plugin's."""
    code = "import importlib.metadata as md, sys\n" \
        "ep = md.EntryPoint(sys.argv[1], sys.argv[2], sys.argv[3])\nep.load()\n"
    p = subprocess.run(
        [sys.executable, "-c", code, ep.name, ep.value, ep.group],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=TIMEOUT,
        cwd="/tmp",
    )
    return p.returncode == 0, p.stdout.decode(errors="replace").strip().splitlines()[-1:]


def main(argv):
    dists, missing = own_distributions(argv)
    failures = []
    for name in missing:
        failures.append(f"distribution {name}: not installed")
    if not dists:
        failures.append("no distribution installed from a source tree (file:///tmp/...)")
    scripts, loaded, optional = [], 0, []
    for d in dists:
        label = f"{d.metadata['Name']} {d.version}"
        own_tops = top_levels(d)
        eps = sorted(set(d.entry_points), key=lambda e: (e.group, e.name))
        names = [e.name for e in eps if e.group == "console_scripts"]
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for name, flag, error in pool.map(run_script, names):
                if error:
                    failures.append(f"{label}: script {name}: {error}")
                else:
                    scripts.append((name, flag))
        for ep in eps:
            outcome = load(ep, own_tops)
            if outcome is None:
                loaded += 1
                continue
            kind, reason = outcome
            if kind == "optional":
                optional.append(f"{ep.group}:{ep.name} ({reason})")
                continue
            ok, last = load_alone(ep)
            if ok:
                loaded += 1
            else:
                failures.append(f"{label}: entry point {ep.group}:{ep.name} = {ep.value}: {reason}")
        print(f"{label}: {len(names)} console scripts, {len(eps)} entry points")
    for f in failures:
        print("FAILED", f)
    for o in optional:
        print("optional (not loaded):", o)
    helps = sum(1 for _, how in scripts if how == "--help")
    versions = sum(1 for _, how in scripts if how == "--version")
    for name, how in scripts:
        if how not in ("--help", "--version"):
            print(f"script {name} refused {how} without a traceback")
    print(
        f"SMOKE {len(scripts)} scripts ok ({helps} --help, {versions} --version, "
        f"{len(scripts) - helps - versions} refused cleanly), "
        f"{loaded} entry points loaded, {len(optional)} optional, {len(failures)} failed"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
