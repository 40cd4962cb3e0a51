"""Fixtures for the server SOP tests: lab hosts registered in the lab NetBox.

The hosts are fresh containers per module (the tests break them on purpose) and are removed
afterwards; NetBox is reset to the seed first, then the hosts and their services are added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sop_runner.lab import servers
from sop_runner.service.runs import RunService


@contextmanager
def _running(count: int, netbox_lab: tuple[str, str], netbox_api: Any) -> Iterator[list[servers.Server]]:
    """``count`` fresh lab hosts registered in NetBox, with NETBOX_* exported; removed after."""
    url, token = netbox_lab
    servers.down()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NETBOX_URL", url)
        mp.setenv("NETBOX_API", url)
        mp.setenv("NETBOX_TOKEN", token)
        running = servers.up(count)
        changes = servers.register(netbox_api, running)
        assert any("service ssh" in c for c in changes), changes
        assert not servers.register(netbox_api, running), "registration is not idempotent"
        yield running
    servers.down()


@pytest.fixture(scope="module")
def lab_servers(netbox_lab: tuple[str, str], netbox_api: Any, netbox_reset: float) -> Iterator[list[str]]:
    """Two running lab hosts, registered in NetBox with their services; NETBOX_* exported."""
    del netbox_reset
    with _running(2, netbox_lab, netbox_api) as running:
        yield [s.host for s in running]


@pytest.fixture
def server_runner(lab_servers: list[str], catalogue_runner: Callable[..., RunService]) -> RunService:
    """A runner over the real catalogue with the lab personas."""
    del lab_servers
    return catalogue_runner()


@pytest.fixture(scope="module")
def lab_server(netbox_lab: tuple[str, str], netbox_api: Any, netbox_reset: float) -> Iterator[str]:
    """One running lab host (srv-lab-01), registered in NetBox with its services; NETBOX_* exported.

    For tests that change a host for minutes (SOP 25's release upgrade): one host keeps the
    suite's time budget.
    """
    del netbox_reset
    with _running(1, netbox_lab, netbox_api) as running:
        yield running[0].host


@pytest.fixture
def one_server_runner(lab_server: str, catalogue_runner: Callable[..., RunService]) -> RunService:
    """A runner over the real catalogue with the lab personas, for the one-host tests."""
    del lab_server
    return catalogue_runner()
