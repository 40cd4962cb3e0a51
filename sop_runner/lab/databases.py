"""The three NetBox databases and their cached dumps.

``netbox_template`` holds the migrated schema plus the admin and its token; ``netbox_seeded``
adds the seed data; ``netbox`` is the working copy NetBox serves, recreated from
``netbox_seeded`` on reset. Both templates are cached as ``pg_dump -Fc`` files under the
machine cache so a new clone or CI run skips the ~5 minute migration and the seed load.
Completeness is recorded as a comment on each database, written only after it was built.
"""

from __future__ import annotations

from sop_runner.lab import netbox, postgres
from sop_runner.lab.paths import NETBOX_VERSION, LabPaths
from sop_runner.lab.secretstore import LabSecrets

TEMPLATE_DB = "netbox_template"
SEEDED_DB = "netbox_seeded"
WORKING_DB = netbox.WORKING_DB
_TEMPLATE_MARK = f"sop-lab netbox {NETBOX_VERSION} migrated"


def _seed_mark(seed_digest: str) -> str:
    return f"sop-lab netbox {NETBOX_VERSION} seed {seed_digest}"


def ensure_template(paths: LabPaths, port: int, secrets: LabSecrets) -> str:
    """Make ``netbox_template`` exist; returns how: 'present', 'restored' or 'migrated'."""
    if postgres.database_comment(port, TEMPLATE_DB) == _TEMPLATE_MARK and (
        postgres.has_netbox_schema(port, TEMPLATE_DB)
    ):
        return "present"
    if paths.template_dump.exists():
        postgres.restore(port, TEMPLATE_DB, paths.template_dump)
        postgres.set_database_comment(port, TEMPLATE_DB, _TEMPLATE_MARK)
        return "restored"
    postgres.drop_database(port, TEMPLATE_DB)
    postgres.create_database(port, TEMPLATE_DB)
    netbox.migrate(paths, TEMPLATE_DB)
    netbox.create_admin(paths, TEMPLATE_DB, secrets)
    postgres.set_database_comment(port, TEMPLATE_DB, _TEMPLATE_MARK)
    postgres.dump(port, TEMPLATE_DB, paths.template_dump)
    return "migrated"


def ensure_seeded_from_cache(paths: LabPaths, port: int, seed_digest: str) -> str | None:
    """Make ``netbox_seeded`` current without NetBox running: 'present', 'restored' or None.

    None means the seed must be loaded through the API and snapshotted.
    """
    mark = _seed_mark(seed_digest)
    if postgres.database_comment(port, SEEDED_DB) == mark:
        return "present"
    dump = paths.seeded_dump(seed_digest)
    if dump.exists():
        postgres.restore(port, SEEDED_DB, dump)
        postgres.set_database_comment(port, SEEDED_DB, mark)
        return "restored"
    return None


def snapshot_seeded(paths: LabPaths, port: int, seed_digest: str) -> None:
    """Copy the freshly seeded working database into ``netbox_seeded`` and cache its dump."""
    postgres.drop_database(port, SEEDED_DB)
    postgres.create_database(port, SEEDED_DB, template=WORKING_DB)
    postgres.set_database_comment(port, SEEDED_DB, _seed_mark(seed_digest))
    postgres.dump(port, SEEDED_DB, paths.seeded_dump(seed_digest))


def working_usable(port: int) -> bool:
    return postgres.has_netbox_schema(port, WORKING_DB)


def recreate_working(port: int, template: str = SEEDED_DB) -> None:
    """Replace the working database with a fresh copy of ``template`` (~0.5 s).

    The copy is made under another name and renamed into place, so NetBox's clients see
    "database does not exist" for milliseconds rather than for the whole copy.
    """
    staging = f"{WORKING_DB}_next"
    postgres.drop_database(port, staging)
    postgres.create_database(port, staging, template=template)
    postgres.drop_database(port, WORKING_DB)
    postgres.rename_database(port, staging, WORKING_DB)
