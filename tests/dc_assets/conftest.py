"""The lab NetBox in the environment the dc_assets playbooks inherit."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def netbox_env(netbox_lab: tuple[str, str]) -> Iterator[None]:
    """NETBOX_URL/NETBOX_TOKEN for the playbooks (restored afterwards)."""
    url, token = netbox_lab
    old = {k: os.environ.get(k) for k in ("NETBOX_URL", "NETBOX_TOKEN")}
    os.environ["NETBOX_URL"], os.environ["NETBOX_TOKEN"] = url, token
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
