"""Every Molecule scenario under molecule/ passes `molecule test` on real podman instances.

One test per scenario, through scripts/molecule.sh (which builds or imports the test image,
suffixes instance names per run and destroys the instance of a failed run). A missing podman
fails the test with the fix: a skip would let a broken environment pass as green. Wall times
land in var/molecule/<scenario>.log and in the test's output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))
# Each scenario's budget, generous for a loaded 2-core machine (measured: docs/server-roles.md).
TIMEOUT_S = {"os_migrate": 1500}
DEFAULT_TIMEOUT_S = 900

pytestmark = [pytest.mark.molecule, pytest.mark.slow]


def test_every_role_of_ours_has_a_scenario() -> None:
    assert {"os_upgrade", "os_migrate", "dmz_incident"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario_passes(scenario: str) -> None:
    if shutil.which("podman") is None:
        pytest.fail(
            "podman is not installed: run `bash scripts/bootstrap.sh` (scripts/packages/molecule.txt)", pytrace=False
        )
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"}
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "molecule.sh"), scenario],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S.get(scenario, DEFAULT_TIMEOUT_S),
        check=False,
    )
    wall = time.monotonic() - t0
    print(f"molecule test -s {scenario}: rc {proc.returncode} in {wall:.0f} s")
    assert proc.returncode == 0, (
        f"molecule test -s {scenario} failed (rc {proc.returncode}, {wall:.0f} s); "
        f"log: var/molecule/{scenario}.log\n{proc.stderr[-4000:]}"
    )
