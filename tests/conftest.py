"""Shared fixtures: the lab NetBox (started on demand, never skipped) and its API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sop_runner import lab
from sop_runner.errors import SopError
from sop_runner.lab.lock import session_lock

# How long a session waits for another session on the same clone to finish with the lab.
_LAB_WAIT_S = 1800.0


@pytest.fixture(scope="session")
def netbox_lab() -> Iterator[tuple[str, str]]:
    """(url, token) of the lab NetBox, started if needed and left running afterwards.

    A lab that cannot start fails the tests that need it, with the reason: a skip would let
    a broken environment pass as green. The session holds the lab alone (other sessions on
    this clone wait), because tests reset it and assert on exact objects.
    """
    try:
        with session_lock(lab.LabPaths.default(), timeout=_LAB_WAIT_S):
            status = lab.up()
            if not (status.netbox_url and status.netbox_token):
                pytest.fail(f"the NetBox lab reports no URL/token: {status}", pytrace=False)
            yield status.netbox_url, status.netbox_token
    except SopError as exc:
        pytest.fail(f"the NetBox lab could not start: {exc}\n  fix: {exc.hint}", pytrace=False)


@pytest.fixture(scope="session")
def netbox_api(netbox_lab: tuple[str, str]) -> Any:
    """A pynetbox API on the lab NetBox (admin v2 token)."""
    import pynetbox

    url, token = netbox_lab
    return pynetbox.api(url, token=token)


@pytest.fixture(scope="module")
def netbox_reset(netbox_lab: tuple[str, str]) -> float:
    """Reset the lab to the seed state once for the module; returns the seconds it took.

    Use it with ``pytestmark = pytest.mark.usefixtures("netbox_reset")`` so each module starts
    from the same data no matter what earlier modules created.
    """
    return lab.reset()
