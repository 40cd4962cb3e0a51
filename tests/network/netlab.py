"""Helpers for the router lab tests: lab control, vtysh probes, a playbook runner.

The router tests get their own NetBox lab instance (SOP_LAB_DIR=.lab/nb-routers): router
replacement moves devices and addresses, which must not disturb other suites that share the
default lab NetBox, and their resets must not pull the data from under a running replacement.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pynetbox
import pytest

from sop_runner.lab.paths import LabPaths, repo_root

ROOT = repo_root()
LAB_SCRIPT = ROOT / "scripts" / "lab" / "routers.sh"
INVENTORY = ROOT / "inventory" / "routers" / "hosts.yml"
ROUTER_LAB = ROOT / ".lab" / "routers"


def sh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=timeout)


def vtysh(router: str, *commands: str) -> str:
    argv = ["vtysh", "--vty_socket", str(ROUTER_LAB / router / "run")]
    for c in commands:
        argv += ["-c", c]
    return sh(*argv).stdout


def vtysh_json(router: str, command: str) -> Any:
    return json.loads(vtysh(router, command))


def in_ns(node: str, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", f"sop-{node}", *argv, check=False, timeout=timeout)


def core_reaches_upstream() -> bool:
    return in_ns("rtr-core-01", "ping", "-c", "1", "-W", "1", "192.0.2.1").returncode == 0


def wait_converged(edge: str = "rtr-edge-01", timeout: float = 60) -> None:
    """OSPF Full core<->edge, BGP Established edge<->isp, and the core reaches the upstream."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            peers = vtysh_json(edge, "show bgp summary json")["ipv4Unicast"]["peers"]
            bgp = all(p["state"] == "Established" for p in peers.values())
        except (KeyError, ValueError, subprocess.CalledProcessError):
            bgp = False
        if bgp and core_reaches_upstream():
            return
        time.sleep(1)
    pytest.fail(f"router lab did not converge within {timeout} s", pytrace=False)


def lab_up() -> None:
    sh("bash", str(LAB_SCRIPT), "up", timeout=120)
    wait_converged()


def lab_down() -> None:
    sh("bash", str(LAB_SCRIPT), "down", check=False, timeout=120)


@dataclass(frozen=True)
class NetboxLab:
    url: str
    token: str
    paths: LabPaths

    @property
    def api(self) -> Any:
        return pynetbox.api(self.url, token=self.token)


@dataclass
class PlaybookResult:
    rc: int
    output: str

    def recap(self, host: str) -> dict[str, int]:
        m = re.search(rf"^{re.escape(host)}\s+: (.*)$", self.output, re.M)
        assert m, f"no recap for {host}:\n{self.output[-3000:]}"
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}

    @property
    def text(self) -> str:
        """The output with whitespace collapsed: long messages are wrapped by the callback."""
        return " ".join(self.output.split())

    def changed(self, host: str) -> int:
        return self.recap(host)["changed"]


def run_playbook(
    playbook: str | Path,
    extra_vars: dict[str, Any] | None = None,
    *,
    netbox: NetboxLab | None = None,
    check: bool = False,
    limit: str | None = None,
    timeout: float = 600,
) -> PlaybookResult:
    """ansible-playbook with the project's ansible.cfg and the router lab inventory."""
    path = Path(playbook)
    if not path.is_absolute():
        path = ROOT / "playbooks" / path
    argv = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(INVENTORY), str(path), "--diff"]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    if check:
        argv.append("--check")
    if limit:
        argv += ["--limit", limit]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    if netbox is not None:
        env.update(NETBOX_URL=netbox.url, NETBOX_TOKEN=netbox.token)
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)
    return PlaybookResult(proc.returncode, proc.stdout + proc.stderr)
