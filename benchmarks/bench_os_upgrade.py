"""Wall time of SOP 24 (os_upgrade) on 1, 4 and 8 podman instances at once, and the scaling.

For each size N: start N systemd containers from the test image, put each in the state the
Molecule scenario starts from (an older tzdata pinned, sshd stopped; molecule/os_upgrade/
prepare.yml), then time one `ansible-playbook playbooks/sop24_os_upgrade.yml` over all N with
serial N and N forks. Prints a table and the ratios t(N)/t(1); asserts nothing about time.
Containers are removed afterwards, also on failure or Ctrl-C.

Usage: .venv/bin/python benchmarks/bench_os_upgrade.py [--sizes 1,4,8] [--keep-logs]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = "localhost/debian-systemd:bookworm"
VENV_BIN = REPO / ".venv" / "bin"


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)  # type: ignore[call-overload]


def start_instances(names: list[str]) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = min(hard if hard != resource.RLIM_INFINITY else 65536, 65536)
    for name in names:
        run(
            [
                "podman",
                "run",
                "-d",
                "--name",
                name,
                "--hostname",
                name,
                "--runtime=runc",
                "--systemd=always",
                "--cap-add",
                "NET_ADMIN",
                "--cap-add",
                "NET_RAW",
                "--ulimit",
                f"nofile={nofile}:{nofile}",
                "--ulimit",
                "nproc=32768:32768",
                "--label",
                "owner=sop-bench",
                IMAGE,
                "/sbin/init",
            ]
        )


def remove_instances(names: list[str]) -> None:
    for name in names:
        subprocess.run(["podman", "rm", "-f", "-t", "2", name], capture_output=True, check=False)


def inventory(names: list[str], workdir: Path) -> Path:
    inv = {
        "all": {
            "children": {"sop24_targets": {"hosts": {n: {} for n in names}}},
            "vars": {
                "ansible_connection": "containers.podman.podman",
                "ansible_python_interpreter": "/usr/bin/python3",
                # podman exec is root already; the images carry no sudo.
                "ansible_become": False,
                "os_upgrade_mode": "security",
                "os_upgrade_required_services": [{"name": "ssh", "ports": [22]}],
                "os_upgrade_report_path": str(workdir / "reports" / "{{ inventory_hostname }}"),
                "os_upgrade_test_package": "tzdata",
            },
        }
    }
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "inventory.json"
    path.write_text(json.dumps(inv), encoding="utf-8")
    return path


def playbook(args: list[str], forks: int, log: Path) -> float:
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_NOCOLOR": "1",
    }
    t0 = time.monotonic()
    with log.open("a", encoding="utf-8") as fh:
        rc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), *args],
            cwd=REPO,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    wall = time.monotonic() - t0
    if rc != 0:
        raise RuntimeError(f"ansible-playbook {' '.join(args)} failed (rc {rc}); log {log}")
    return wall


def bench(size: int, workdir: Path) -> dict[str, float]:
    run_id = secrets.token_hex(3)
    names = [f"sop-bench-{run_id}-{i}" for i in range(size)]
    log = workdir / f"n{size}.log"
    try:
        t0 = time.monotonic()
        start_instances(names)
        inv = inventory(names, workdir / f"n{size}")
        time.sleep(3)  # systemd boots; sshd must be up before prepare stops it
        playbook(["-i", str(inv), "molecule/os_upgrade/prepare.yml"], size, log)
        setup = time.monotonic() - t0
        wall = playbook(["-i", str(inv), "-e", f"sop24_serial={size}", "playbooks/sop24_os_upgrade.yml"], size, log)
    finally:
        remove_instances(names)
    return {"size": size, "setup_s": setup, "upgrade_s": wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,4,8", help="comma-separated instance counts")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    subprocess.run(["bash", str(REPO / "scripts" / "build_image.sh")], check=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="sop-bench-") as tmp:
        for size in sizes:
            r = bench(size, Path(tmp))
            results.append(r)
            print(f"n={size}: setup {r['setup_s']:.1f} s, os_upgrade {r['upgrade_s']:.1f} s", flush=True)
    base = results[0]["upgrade_s"]
    print(f"\n{'instances':>9} {'wall (s)':>9} {'t(N)/t(1)':>10} {'per host (s)':>13}")
    for r in results:
        print(
            f"{r['size']:>9} {r['upgrade_s']:>9.1f} {r['upgrade_s'] / base:>10.2f} {r['upgrade_s'] / r['size']:>13.1f}"
        )
    print(f"\n(cores: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
