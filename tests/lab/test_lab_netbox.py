"""The real lab NetBox: API writes, race-safe allocation, reset, seed idempotence."""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pynetbox
import pytest

from sop_runner import lab
from sop_runner.cli.main import main
from sop_runner.lab import seed

pytestmark = [pytest.mark.netbox, pytest.mark.usefixtures("netbox_reset")]

PUBLIC_POOL = "203.0.113.0/24"


def test_up_again_is_quick_and_says_so(netbox_lab: tuple[str, str]) -> None:
    began = time.monotonic()
    status = lab.up()
    assert status.already_running
    assert status.netbox_url == netbox_lab[0]
    assert time.monotonic() - began < 60


def test_status_reports_every_component_as_json(
    netbox_lab: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--json", "lab", "status"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["running"] is True
    assert {c["name"] for c in data["components"]} == {"postgres", "redis", "netbox"}
    assert data["netbox_version"] == lab.NETBOX_VERSION


def test_credentials_file_matches_the_running_lab(
    netbox_lab: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NETBOX_URL", raising=False)
    monkeypatch.delenv("NETBOX_TOKEN", raising=False)
    assert lab.netbox_credentials() == netbox_lab
    assert netbox_lab[1].startswith("nbt_")


def test_objects_can_be_created_over_the_api(netbox_api: Any) -> None:
    suffix = uuid.uuid4().hex[:8]
    tenant = netbox_api.tenancy.tenants.create(
        name=f"Test {suffix}", slug=f"test-{suffix}", group={"slug": "skpd"}
    )
    site = netbox_api.dcim.sites.get(slug="dc-wonosobo")
    prefix = netbox_api.ipam.prefixes.create(
        prefix="10.30.200.0/24", tenant=tenant.id, scope_type="dcim.site", scope_id=site.id
    )
    assert netbox_api.ipam.prefixes.get(prefix.id).tenant.slug == f"test-{suffix}"


def test_concurrent_allocations_get_different_addresses(netbox_lab: tuple[str, str]) -> None:
    url, token = netbox_lab

    def allocate(label: str) -> str:
        # One API object per thread: a requests.Session is not meant to be shared by threads.
        api = pynetbox.api(url, token=token)
        pool = api.ipam.prefixes.get(prefix=PUBLIC_POOL)
        created = pool.available_ips.create({"description": f"concurrency test {label}"})
        return str(created["address"] if isinstance(created, dict) else created.address)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(allocate, ["a", "b"])
    assert first != second
    network = ipaddress.ip_network(PUBLIC_POOL)
    used = {"203.0.113.1", "203.0.113.2", "203.0.113.10"}
    for address in (first, second):
        host = ipaddress.ip_interface(address)
        assert host.ip in network
        assert str(host.ip) not in used


def test_reset_brings_back_the_seed_state(netbox_api: Any) -> None:
    netbox_api.tenancy.tenants.create(name="Before Reset", slug="before-reset")
    netbox_api.dcim.devices.get(name="rtr-edge-02").update({"status": "active"})

    seconds = lab.reset()

    assert seconds < 5
    assert netbox_api.tenancy.tenants.get(slug="before-reset") is None
    assert netbox_api.dcim.devices.get(name="rtr-edge-02").status.value == "inventory"
    assert netbox_api.dcim.sites.get(slug="dc-wonosobo") is not None
    pool = netbox_api.ipam.prefixes.get(prefix=PUBLIC_POOL)
    assert pool.custom_fields["sop_ip_pool"] == "sop57"
    assert [t.slug for t in pool.tags] == ["sop57-public-pool"]


def test_seed_load_is_idempotent(netbox_api: Any) -> None:
    """Loading twice creates nothing and touches the same objects.

    Counts are taken over the objects the seed names (and over whole endpoints for the
    endpoints nobody else writes to) because other sessions may add objects to the
    shared lab while this runs.
    """
    first = seed.load(netbox_api)
    second = seed.load(netbox_api)
    assert first.total_created == 0
    assert second.total_created == 0
    assert second.total_updated == 0, second.updated
    assert second.ids == first.ids
    per_endpoint = {e: len(ids) for e, ids in second.ids.items()}
    assert per_endpoint == _seed_object_counts()
    quiet = ["dcim.racks", "dcim.power_feeds", "dcim.regions", "tenancy.tenant_groups"]
    assert seed.counts(netbox_api, quiet) == {e: per_endpoint[e] for e in quiet}


def _seed_object_counts() -> dict[str, int]:
    keys: dict[str, set[str]] = {}
    for section in seed.read_sections():
        spec = seed.SPECS[section.endpoint]
        for obj in section.objects:
            key = "|".join(str(obj.get(k, "")) for k in spec.key)
            keys.setdefault(section.endpoint, set()).add(key)
    return {e: len(k) for e, k in keys.items()}


def test_the_seed_models_the_wonosobo_data_centre(netbox_api: Any) -> None:
    site = netbox_api.dcim.sites.get(slug="dc-wonosobo")
    assert site.tenant.slug == "diskominfo"
    assert netbox_api.dcim.racks.count(site_id=site.id) == 4
    assert netbox_api.dcim.power_feeds.count(site_id=site.id) == 8
    edge = netbox_api.dcim.devices.get(name="rtr-edge-01")
    assert edge.platform.slug == "frr"
    assert str(edge.primary_ip4) == "10.30.0.2/24"
    cluster = netbox_api.virtualization.clusters.get(name="clu-wonosobo-01")
    assert cluster.scope_type == "dcim.site"
    assert cluster.scope_id == site.id
    assert netbox_api.virtualization.virtual_machines.count(cluster_id=cluster.id) == 3
    skpd = netbox_api.tenancy.tenants.filter(group="skpd")
    assert {t.slug for t in skpd} == {
        "diskominfo", "dinkes", "bkd", "bappeda", "disdukcapil", "disdik"
    }
    candidates = netbox_api.dcim.devices.filter(tag="dmz-public-candidate")
    assert len(list(candidates)) == 5


def test_postgres_admin_url_allows_scratch_databases(netbox_lab: tuple[str, str]) -> None:
    import psycopg

    name = f"scratch_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(lab.postgres_admin_url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(lab.postgres_admin_url(name)) as conn:
            row = conn.execute("SELECT current_database()").fetchone()
        assert row == (name,)
    finally:
        with psycopg.connect(lab.postgres_admin_url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
