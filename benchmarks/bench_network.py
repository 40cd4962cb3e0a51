"""Network benchmarks on the router lab (no timed assertions: numbers and ratios only).

1. A 50-line change per router: plan (read + diff, what check mode does) and apply (push,
   save, re-read), timed through net_config's own code path (platform + netmiko session).
2. Compliance of every lab router: one ansible-playbook run over all routers (forks) against
   the sum of one run per router, measured in the same run.

Needs the router lab (scripts/lab/routers.sh up) and the router NetBox lab (.lab/nb-routers,
started here if missing). Run: .venv/bin/python benchmarks/bench_network.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import ansible.module_utils

ROOT = Path(__file__).resolve().parents[1]
ansible.module_utils.__path__.append(str(ROOT / "plugins" / "module_utils"))

from ansible.module_utils.netcfg.connection import connect  # noqa: E402
from ansible.module_utils.netcfg.platforms import get_platform  # noqa: E402

from sop_runner import lab  # noqa: E402
from sop_runner.lab import seed_network  # noqa: E402
from sop_runner.lab.paths import LabPaths  # noqa: E402

ROUTERS = {"rtr-edge-01": "127.0.100.11", "rtr-core-01": "127.0.100.12", "rtr-isp": "127.0.100.13",
           "rtr-edge-02": "127.0.100.14"}
PORT = int(os.environ.get("SOP_ROUTER_SSH_PORT", "2222"))
LINES = 50


def fifty_lines() -> str:
    # A prefix-list has no effect on forwarding: safe to add and remove on a live router.
    return "".join(f"ip prefix-list BENCH seq {5 * (i + 1)} permit 10.250.{i}.0/24\n" for i in range(LINES))


def timed_change(name: str, host: str, password: str) -> tuple[float, float, float]:
    frr = get_platform("frr")
    config = fifty_lines()
    t0 = time.perf_counter()
    conn = connect(frr, name, host, PORT, "sopnet", password)
    running = conn.send_command(frr.show_running, read_timeout=30)
    plan = frr.plan(running, config)
    t_plan = time.perf_counter() - t0
    assert len(plan.commands) == LINES, plan.commands[:3]
    t1 = time.perf_counter()
    out = conn.send_config_set(plan.commands, read_timeout=60, cmd_verify=True)
    assert not frr.rejected_lines(out)
    conn.save_config()
    after = conn.send_command(frr.show_running, read_timeout=30)
    assert not frr.plan(after, config).changed
    t_apply = time.perf_counter() - t1
    # clean up (timed too: a 50-line removal)
    t2 = time.perf_counter()
    removal = frr.plan(after, config, state="absent")
    conn.send_config_set(removal.commands, read_timeout=60, cmd_verify=True)
    conn.save_config()
    t_remove = time.perf_counter() - t2
    conn.disconnect()
    return t_plan, t_apply, t_remove


def playbook(env: dict[str, str], limit: str | None = None) -> float:
    argv = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(ROOT / "inventory/routers/hosts.yml"),
            str(ROOT / "playbooks/config_compliance.yml"), "--check"]
    if limit:
        argv += ["--limit", limit]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"compliance run failed:\n{proc.stdout[-2000:]}")
    return elapsed


def main() -> int:
    password_file = ROOT / ".lab/routers/password"
    if not password_file.exists():
        print("router lab is down: bash scripts/lab/routers.sh up")
        return 1
    password = password_file.read_text().strip()

    print(f"== {LINES}-line change per router (net_config code path: SSH + vtysh)")
    print(f"{'router':<13} {'plan s':>8} {'apply s':>8} {'remove s':>9} {'ms/line':>8}")
    for name, host in ROUTERS.items():
        t_plan, t_apply, t_remove = timed_change(name, host, password)
        print(f"{name:<13} {t_plan:8.2f} {t_apply:8.2f} {t_remove:9.2f} {1000 * t_apply / LINES:8.1f}")

    paths = LabPaths(root=ROOT / ".lab" / "nb-routers", cache=LabPaths.default().cache)
    status = lab.up(paths)
    seed_network.seed(__import__("pynetbox").api(status.netbox_url, token=status.netbox_token))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), NETBOX_URL=status.netbox_url,
               NETBOX_TOKEN=status.netbox_token)
    print("\n== compliance of all lab routers (ansible-playbook --check)")
    total = playbook(env)
    serial = {name: playbook(env, limit=name) for name in ROUTERS}
    for name, t in serial.items():
        print(f"  serial run {name:<13} {t:6.2f} s")
    s = sum(serial.values())
    print(f"  all routers, one run    {total:6.2f} s")
    print(f"  sum of serial runs      {s:6.2f} s")
    print(f"  ratio one-run / serial  {total / s:6.2f}  (speed-up x{s / total:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
