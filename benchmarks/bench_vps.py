"""VPS timings on the hypervisor lab: create-to-SSH, live resize, and the plan of a resize.

Prints figures, asserts nothing about time (a shared 2-core machine varies too much).
Needs the NetBox lab and the hypervisor lab (started here if they are not running).

    .venv/bin/python benchmarks/bench_vps.py [--keep]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sop_runner import lab
from sop_runner.config import repo_root
from sop_runner.lab import hypervisor


def _play(playbook: str, extravars: dict[str, Any], *, check: bool = False) -> tuple[float, dict[str, Any]]:
    root = repo_root()
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(root / "playbooks" / playbook),
           "-e", json.dumps(extravars), "--diff", *(["--check"] if check else [])]
    env = {**os.environ, "ANSIBLE_CONFIG": str(root / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
           "ANSIBLE_SHOW_CUSTOM_STATS": "true"}
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, check=False)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{playbook} failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    data = json.loads(proc.stdout)
    tasks = {t["task"]["name"]: t["hosts"].get("localhost", {}) for p in data["plays"] for t in p["tasks"]}
    return elapsed, tasks


def main(argv: list[str]) -> int:
    status = lab.up()
    os.environ["NETBOX_URL"], os.environ["NETBOX_TOKEN"] = status.netbox_url or "", status.netbox_token or ""
    hv = hypervisor.up()
    name = f"vps-bench-{uuid.uuid4().hex[:6]}"
    vm = {"vps_name": name, "vps_tenant": "dinkes", "vps_vcpus": 1, "vps_memory_mb": 384, "vps_disk_gb": 4}
    rows: list[tuple[str, float]] = []
    try:
        t, _ = _play("sop20_vps_create.yml", vm, check=True)
        rows.append(("plan of a create (check mode, capacity + NetBox)", t))
        t, tasks = _play("sop20_vps_create.yml", vm)
        boot = next(r.get("boot_seconds") for n, r in tasks.items() if "Define and start" in n)
        rows.append(("create, apply total (NetBox + define + boot + verify)", t))
        rows.append(("  of which start to SSH (TCG, 1 vCPU)", float(boot)))
        grow = {**vm, "vps_vcpus": 2, "vps_memory_mb": 512, "vps_disk_gb": 6}
        t, _ = _play("sop22_vps_resize.yml", grow, check=True)
        rows.append(("plan of a resize (check mode)", t))
        t, tasks = _play("sop22_vps_resize.yml", grow)
        rows.append(("resize live: 1->2 vCPU, 384->512 MB, 4->6 GB (apply + verify)", t))
        t, _ = _play("sop22_vps_resize.yml", grow)
        rows.append(("resize again (no change, idempotence)", t))
        t, _ = _play("sop21_vps_delete.yml", vm)
        rows.append(("delete (destroy, undefine, storage, NetBox)", t))
    finally:
        if "--keep" not in argv:
            subprocess.run(["virsh", "-c", hypervisor.URI, "destroy", name], capture_output=True, check=False)
            subprocess.run(["virsh", "-c", hypervisor.URI, "undefine", name], capture_output=True, check=False)
        if "libvirtd" in hv.started and "--keep" not in argv:
            hypervisor.down()
    width = max(len(r[0]) for r in rows)
    print(f"VPS benchmark on {os.cpu_count()} cores, {name}")
    for label, secs in rows:
        print(f"  {label:<{width}}  {secs:6.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
