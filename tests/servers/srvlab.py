"""Helpers for the server SOP tests: lab hosts (sop_runner.lab.servers), package versions."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

from sop_runner.lab import servers

# Older versions of it stay on Debian's mirror while a newer one is in bookworm-security
# (as in molecule/os_upgrade), so there is always a real security update to install.
TEST_PACKAGE = "tzdata"


def sh(host: str, script: str, *, check: bool = True, timeout: float = 600.0) -> str:
    """Run a bash script inside a lab host; its stdout."""
    out = servers.exec_in(host, "bash", "-c", script, check=False, timeout=timeout)
    if check and out.returncode != 0:
        msg = f"{host}: {script!r} failed (rc {out.returncode}): {out.stderr[-2000:]}"
        raise AssertionError(msg)
    return out.stdout


def installed_version(host: str, package: str = TEST_PACKAGE) -> str:
    """The version dpkg has installed on the host."""
    return sh(host, f"dpkg-query -W -f='${{Version}}' {package}").strip()


def make_outdated(host: str, package: str = TEST_PACKAGE) -> str:
    """Install the oldest version of ``package`` the mirror offers; returns it."""
    script = f"""set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get -qq update
old=$(apt-cache madison {package} | awk -F'|' '{{gsub(/ /, "", $2); print $2}}' | sort -u | sort -V | head -1)
apt-get -qq -y --allow-downgrades install "{package}=$old" >/dev/null
dpkg-query -W -f='${{Version}}' {package}
"""
    return sh(host, script).strip()


def on_all(hosts: list[str], fn: object) -> dict[str, str]:
    """Run ``fn(host)`` on every host at once; host -> result."""
    assert callable(fn)
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        return dict(zip(hosts, pool.map(fn, hosts), strict=True))


def version_gt(a: str, b: str) -> bool:
    """Debian version order (dpkg --compare-versions on the controller's own dpkg)."""
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b], check=False).returncode == 0
