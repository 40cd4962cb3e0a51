"""Fixtures for the router lab tests: the FRR lab and a private NetBox (see netlab.py).

The router tests get their own NetBox lab instance (.lab/nb-routers): router replacement moves
devices and addresses, which must not disturb suites sharing the default lab NetBox, and their
resets must not pull the data from under a running replacement.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from netlab import ROOT, ROUTER_LAB, NetboxLab, lab_down, lab_up

from sop_runner import lab
from sop_runner.errors import SopError
from sop_runner.lab import seed_network
from sop_runner.lab.paths import LabPaths


@pytest.fixture(scope="session")
def router_lab() -> Iterator[Path]:
    """The router lab, started fresh for the session and taken down at the end."""
    lab_down()
    lab_up()
    yield ROUTER_LAB
    lab_down()


@pytest.fixture
def fresh_router_lab(router_lab: Path) -> Path:
    """A lab rebuilt to its baseline (cables on rtr-edge-01, baseline configs)."""
    lab_down()
    lab_up()
    return router_lab


@pytest.fixture(scope="session")
def router_netbox() -> Iterator[NetboxLab]:
    """A private NetBox lab for the router tests (own postgres/redis/gunicorn)."""
    paths = LabPaths(root=ROOT / ".lab" / "nb-routers", cache=LabPaths.default().cache)
    try:
        status = lab.up(paths)
    except SopError as exc:
        pytest.fail(f"the router NetBox lab could not start: {exc}\n  fix: {exc.hint}", pytrace=False)
    assert status.netbox_url and status.netbox_token
    yield NetboxLab(status.netbox_url, status.netbox_token, paths)
    lab.down(paths)


@pytest.fixture(scope="module")
def network_netbox(router_netbox: NetboxLab) -> NetboxLab:
    """NetBox reset to the organisation seed plus the network seed, once per test module."""
    lab.reset(router_netbox.paths)
    report = seed_network.seed(router_netbox.api)
    assert report.changes, "the network seed should have created objects on a reset NetBox"
    assert not seed_network.seed(router_netbox.api).changes, "network seed is not idempotent"
    return router_netbox


