"""The gate's smoke test of one image, run inside it (as the service user, with no network) by
tools/gate.sh:

    python3 smoke.py [DISTRIBUTION...]

For the distributions installed from the build's own source trees (a direct_url.json naming a
file:///tmp/ tree: the project, EXTRA_PROJECTS) and those named on the command line (plugins
installed as PIP_PACKAGES):

- every console script they declare runs with --help (else --version) and exits 0;
- every entry point they declare (oslo.config opts, oslo.policy policies, stevedore plugins,
  console and wsgi scripts) loads: its module imports and has the attribute.

An entry point that fails to load is loaded again in a fresh interpreter, and then once more
after the project's versioned objects are registered (`PACKAGE.objects.register_all()`), as
its services do first: cinder's scheduler filters read `objects.Volume` at import. An `*.alembic_migrations` entry point is no Python object but
alembic's script location `package:directory` (neutron's migration command joins the two): it
passes when that directory holds alembic's env.py.

Every requirement the distribution declares (Requires-Dist, markers evaluated, no extras) must
be installed. A console script that stops on a module which is neither the distribution's own
nor installed nor the top level of any installed distribution, while every declared
requirement is installed, needs something its project does not declare (neutron's
ml2ovn-trace and click, listed only in neutron's tools/requirements.txt): it is listed as
undeclared, not as a failure.

An entry point whose import needs a module the image does not have at all, and which is not
part of the distribution itself, is a plugin for an optional dependency (a storage driver's
vendor library): it is counted as optional, not as a failure. An entry point a release
declares wrongly, or a console script a release ships broken (KNOWN_UPSTREAM: ironic 35.1.0's
`noop` switch driver, octavia 18.0.1's removed single_VIP_amphora distributor and its
amphora-health-checker, which has no --help, barbican 22.0.0's moved test plugin, blazar
17.0.0's removed blazar-rpc-zmq-receiver, swift 2.37.4's swift-form-signature, tacker 15.0.0's
stale plugins, trove 25.1.0's scripts that need a Docker host or a database at import: each
checked against the release's sdist), is listed as a known upstream defect while it
fails as recorded. A missing module of the
distribution itself, or any other error, is a failure. The exit status is 1 when anything
failed; the output ends with one summary line.
"""

import concurrent.futures
import importlib
import importlib.metadata as md
import importlib.resources
import importlib.util
import json
import os
import re
import subprocess
import sys

VENV = "/var/lib/openstack"
TIMEOUT = 60

# Entry points a released distribution declares wrongly, by (distribution, version, group,
# name): (the error they fail with, why). Listed as known upstream defects, not failures; one
# that loads, or fails otherwise, is a failure (the entry is stale: drop it). A new release is
# checked afresh.
KNOWN_UPSTREAM = {
    ("ironic", "35.1.0", "ironic.networking.switch_drivers", "noop"): (
        "has no attribute 'NoOpSwitchDriver'",
        "ironic 35.1.0 points `noop` at ironic.drivers.modules.switch, whose __init__.py is "
        "empty: the class is in ironic.drivers.modules.switch.base (the option "
        "enabled_switch_drivers is empty by default, so no service loads it unasked)",
    ),
    ("octavia", "18.0.1", "octavia.distributor.drivers", "single_VIP_amphora"): (
        "No module named 'octavia.distributor.drivers.single_VIP_amphora'",
        "octavia 18.0.1 still declares the distributor driver whose package it removed: its "
        "sdist has only distributor/drivers/noop_driver",
    ),
    ("octavia", "18.0.1", "console_scripts", "amphora-health-checker"): (
        "IndexError: list index out of range",
        "haproxy's external check inside the amphora: it pops its arguments unchecked and has "
        "no --help; its module loads with the entry points",
    ),
    ("barbican", "22.0.0", "barbican.test.crypto.plugin", "test_crypto"): (
        "No module named 'barbican.tests.crypto'",
        "a test plugin at a path barbican 22.0.0 no longer has: its sdist holds "
        "barbican/tests/plugin/crypto",
    ),
    ("blazar", "17.0.0", "console_scripts", "blazar-rpc-zmq-receiver"): (
        "No module named 'blazar.cmd.rpc_zmq_receiver'",
        "blazar 17.0.0 declares the script, but its sdist has no blazar/cmd/rpc_zmq_receiver.py",
    ),
    ("magnum", "22.0.0", "oslo.config.opts", "magnum"): (
        "No module named 'magnum.opts'",
        "magnum 22.0.0 declares magnum.opts:list_opts, but its sdist has no magnum/opts.py "
        "(its options are listed by magnum.conf)",
    ),
    ("swift", "2.37.4", "console_scripts", "swift-form-signature"): (
        "main() missing 1 required positional argument: 'argv'",
        "swift 2.37.4's setup.cfg points the script at swift.cli.form_signature:main, which "
        "takes argv with no default: the generated script calls main() and cannot run anywhere",
    ),
    ("swift", "2.37.4", "console_scripts", "swift-recon-cron"): (
        "Unable to read config from",
        "a cron job that reads its first argument as its config file before any option: "
        "--help and --version are read as paths (it runs given /etc/swift/object-server.conf)",
    ),
    ("tacker", "15.0.0", "tacker.openstack.common.cache.backends", "memory"): (
        "No module named 'tacker.openstack'",
        "tacker 15.0.0 still declares the oslo-incubator cache backend: its sdist has no "
        "tacker/openstack/",
    ),
    ("tacker", "15.0.0", "tacker.service_plugins", "dummy"): (
        "No module named 'tacker.tests.unit.dummy_plugin'",
        "a test plugin at a path tacker 15.0.0's sdist does not have (no "
        "tacker/tests/unit/dummy_plugin.py among its 527 test files)",
    ),
    ("tacker", "15.0.0", "tacker.tacker.mgmt.drivers", "noop"): (
        "No module named 'tacker.vnfm.mgmt_drivers.noop'",
        "tacker 15.0.0's sdist has no tacker/vnfm/mgmt_drivers/ (its drivers moved to "
        "tacker/sol_refactored/mgmt_drivers)",
    ),
    ("trove", "25.1.0", "console_scripts", "trove-docker-plugin"): (
        "No such file or directory: '/etc/docker/hostnic.json'",
        "the docker network plugin of trove's guest hosts: importing trove.cmd.network_driver "
        "writes /etc/docker/hostnic.json, which exists only on a host running Docker",
    ),
    ("trove", "25.1.0", "wsgi_scripts", "trove-wsgi"): (
        "NoSuchTableError",
        "trove.cmd.app_wsgi builds its application when imported, which reads the database "
        "(table instances): it loads only against trove's migrated database",
    ),
}


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
    """(name, how it ran, error, the module it stopped on): `--help`, else `--version`, must
    exit 0; a script that refuses both with a message of its own and no Python traceback
    (keystone-status without its fernet keys) ran, and so did one still running without a
    traceback after TIMEOUT (a server that takes no options): its imports are checked with
    the entry points."""
    path = os.path.join(VENV, "bin", name)
    tried = []
    refused = None
    missing = None
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
        except subprocess.TimeoutExpired as e:
            # A server that takes no options (octavia's prometheus-proxy) started serving:
            # it imported everything it needs. Still running with a traceback: a failure.
            out = (e.output or b"").decode(errors="replace")
            if "Traceback (most recent call last)" not in out:
                return name, f"{flag} (still running after {TIMEOUT}s, no traceback: killed)", \
                    None, None
            tried.append(f"{flag}: no exit within {TIMEOUT}s")
            continue
        except OSError as e:
            tried.append(f"{flag}: {e}")
            break
        if p.returncode == 0:
            return name, flag, None, None
        out = p.stdout.decode(errors="replace")
        m = re.search(r"ModuleNotFoundError: No module named '([^']+)'", out)
        missing = m.group(1) if m else None
        tail = out.strip().splitlines()[-3:]
        tried.append(f"{flag}: exit {p.returncode}: " + " | ".join(tail))
        if "Traceback (most recent call last)" not in out and refused is None:
            refused = f"{flag} (exit {p.returncode}: " + " | ".join(tail[-1:]) + ")"
    if refused:
        return name, refused, None, None
    return name, None, "; ".join(tried), missing


def register_objects(tops):
    """Registers the versioned objects of the packages `tops` that have them, as the project's
    services do before they load a plugin (cinder's and nova's commands call
    `objects.register_all()` first). Raises what registering raises."""
    for top in sorted(tops):
        try:
            found = importlib.util.find_spec(top) and importlib.util.find_spec(top + ".objects")
        except (ImportError, ValueError):
            found = None
        if found:
            register_all = getattr(importlib.import_module(top + ".objects"), "register_all", None)
            if callable(register_all):
                register_all()


def alembic_location(ep):
    """None when the alembic script location `package:directory` holds env.py, else the
    reason."""
    try:
        where = importlib.resources.files(ep.module).joinpath(ep.attr or "")
        if where.joinpath("env.py").is_file():
            return None
        return f"{ep.module}:{ep.attr} is no alembic directory (no env.py)"
    except BaseException as e:  # noqa: B902
        return f"{type(e).__name__}: {e}"


def load(ep, own_tops):
    """None when the entry point loads, else ("optional" | "failed", reason)."""
    if ep.group.endswith("alembic_migrations"):
        reason = alembic_location(ep)
        return None if reason is None else ("failed", reason)
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


def load_alone(ep, own_tops, register):
    """Loads one entry point in a fresh interpreter: an error that only shows after other
    plugins were loaded (options registered twice) is not the plugin's. With `register`, the
    project's versioned objects are registered first, as its services do (not always: ironic's
    register_all selects eventlet, and its threading commands then refuse to load)."""
    code = "import importlib.metadata as md, sys\n" \
        "sys.path.insert(0, sys.argv[5])\nimport smoke\n" \
        "smoke.register_objects(sys.argv[4].split())\n" \
        "ep = md.EntryPoint(sys.argv[1], sys.argv[2], sys.argv[3])\nep.load()\n"
    p = subprocess.run(
        [sys.executable, "-c", code, ep.name, ep.value, ep.group,
         " ".join(sorted(own_tops)) if register else "",
         os.path.dirname(os.path.abspath(__file__))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=TIMEOUT,
        cwd="/tmp",
    )
    return p.returncode == 0, p.stdout.decode(errors="replace").strip().splitlines()[-1:]


def undeclared_requirements(dist):
    """The requirements `dist` declares (markers evaluated, without extras) that are not
    installed."""
    try:
        from packaging.requirements import Requirement
    except ImportError:
        Requirement = None
    missing = []
    for line in dist.requires or []:
        if Requirement is not None:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            name = req.name
        else:
            if ";" in line:
                continue
            name = re.split(r"[\s\[<>=!~(]", line.strip(), maxsplit=1)[0]
        try:
            md.distribution(name)
        except md.PackageNotFoundError:
            missing.append(line)
    return missing


def installed_top_levels():
    """The top-level names of every installed distribution."""
    tops = set()
    for d in md.distributions():
        tops |= top_levels(d)
    return tops


def main(argv):
    dists, missing = own_distributions(argv)
    failures = []
    for name in missing:
        failures.append(f"distribution {name}: not installed")
    if not dists:
        failures.append("no distribution installed from a source tree (file:///tmp/...)")
    scripts, loaded, optional, undeclared, upstream = [], 0, [], [], []
    all_tops = None
    for d in dists:
        label = f"{d.metadata['Name']} {d.version}"
        own_tops = top_levels(d)
        not_installed = undeclared_requirements(d)
        for req in not_installed:
            failures.append(f"{label}: declared requirement {req}: not installed")
        eps = sorted(set(d.entry_points), key=lambda e: (e.group, e.name))
        names = [e.name for e in eps if e.group == "console_scripts"]
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for name, flag, error, needs in pool.map(run_script, names):
                known = KNOWN_UPSTREAM.get((normalize(d.metadata["Name"]), d.version,
                                            "console_scripts", name))
                if not error:
                    scripts.append((name, flag))
                    if known:
                        failures.append(f"{label}: script {name} runs: drop it from "
                                        "smoke.py's KNOWN_UPSTREAM")
                    continue
                if known and known[0] in error:
                    upstream.append(f"{label}: script {name}: {error} ({known[1]})")
                    continue
                top = (needs or "").split(".")[0]
                if top and not not_installed and top not in own_tops \
                        and importlib.util.find_spec(top) is None:
                    if all_tops is None:
                        all_tops = installed_top_levels()
                    if top not in all_tops:
                        undeclared.append(f"{label}: script {name} needs {top}, "
                                          "which no requirement of it declares")
                        continue
                failures.append(f"{label}: script {name}: {error}")
        for ep in eps:
            known = KNOWN_UPSTREAM.get((normalize(d.metadata["Name"]), d.version, ep.group, ep.name))
            # (a known broken script may still load: its staleness shows when it runs)
            stale = (f"{label}: entry point {ep.group}:{ep.name} loads: drop it from smoke.py's "
                     "KNOWN_UPSTREAM") if known and ep.group != "console_scripts" else None
            outcome = load(ep, own_tops)
            if outcome is None:
                loaded += 1
                if stale:
                    failures.append(stale)
                continue
            kind, reason = outcome
            if kind == "optional":
                optional.append(f"{ep.group}:{ep.name} ({reason})")
                continue
            ok, last = load_alone(ep, own_tops, False)
            if not ok:
                ok, last = load_alone(ep, own_tops, True)
            if ok:
                loaded += 1
                if stale:
                    failures.append(stale)
            elif known and known[0] in reason:
                upstream.append(f"{label}: entry point {ep.group}:{ep.name} = {ep.value}: "
                                f"{reason} ({known[1]})")
            else:
                failures.append(f"{label}: entry point {ep.group}:{ep.name} = {ep.value}: {reason}")
        print(f"{label}: {len(names)} console scripts, {len(eps)} entry points")
    for f in failures:
        print("FAILED", f)
    for o in optional:
        print("optional (not loaded):", o)
    for u in undeclared:
        print("undeclared (not run):", u)
    for u in upstream:
        print("known upstream defect:", u)
    helps = sum(1 for _, how in scripts if how == "--help")
    versions = sum(1 for _, how in scripts if how == "--version")
    for name, how in scripts:
        if how not in ("--help", "--version"):
            print(f"script {name} refused {how} without a traceback")
    print(
        f"SMOKE {len(scripts)} scripts ok ({helps} --help, {versions} --version, "
        f"{len(scripts) - helps - versions} refused cleanly), "
        f"{len(undeclared)} needing an undeclared module, "
        f"{loaded} entry points loaded, {len(optional)} optional, "
        f"{len(upstream)} known upstream defects, {len(failures)} failed"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
