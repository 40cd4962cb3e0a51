"""The NetBox lab: PostgreSQL, Redis and NetBox 4.7.3 for this clone, with seed data.

Public API, used by ``sop lab`` and by the test fixtures::

    up() -> LabStatus            start what is missing (idempotent)
    down() -> list[str]          stop what the lab started, by pid file
    status() -> LabStatus        what runs, where
    reset() -> float             back to the seed state in seconds
    netbox_credentials() -> (url, token)
    postgres_admin_url(dbname) -> str
"""

from sop_runner.lab.lifecycle import down, postgres_admin_url, reset, status, up
from sop_runner.lab.paths import NETBOX_VERSION, LabPaths
from sop_runner.lab.state import ComponentStatus, LabStatus, netbox_credentials

__all__ = [
    "NETBOX_VERSION",
    "ComponentStatus",
    "LabPaths",
    "LabStatus",
    "down",
    "netbox_credentials",
    "postgres_admin_url",
    "reset",
    "status",
    "up",
]
