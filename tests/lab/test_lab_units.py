"""Unit tests for the lab's pure helpers (no services needed)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from sop_runner.errors import EnvironmentProblemError, InvalidInputError
from sop_runner.lab import ports, seed
from sop_runner.lab.paths import LabPaths
from sop_runner.lab.seed_specs import SPECS, Ref
from sop_runner.lab.state import netbox_credentials, read_env_file


class FakeResolver:
    """Resolves every reference to a stable fake id and records what was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def resolve(self, ref: Ref, key: str) -> int:
        self.asked.append((ref.endpoint, key))
        return 1000 + len(self.asked)


def test_port_is_free_sees_a_listening_socket() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not ports.port_is_free(port)
        with pytest.raises(EnvironmentProblemError) as err:
            ports.require_free("NetBox", port, "SOP_LAB_NETBOX_PORT")
    assert f"127.0.0.1:{port} is already in use" in str(err.value)
    assert "SOP_LAB_NETBOX_PORT" in err.value.hint


def test_choose_port_prefers_the_forced_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOP_LAB_NETBOX_PORT", "18123")
    assert ports.choose_port("SOP_LAB_NETBOX_PORT", 9999) == 18123
    monkeypatch.delenv("SOP_LAB_NETBOX_PORT")
    free = ports.free_port()
    assert ports.choose_port("SOP_LAB_NETBOX_PORT", free) == free


@pytest.mark.parametrize("raw", ["http", "0", "70000", "-1"])
def test_a_malformed_forced_port_is_rejected(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("SOP_LAB_PG_PORT", raw)
    with pytest.raises(EnvironmentProblemError, match="SOP_LAB_PG_PORT"):
        ports.env_port("SOP_LAB_PG_PORT")


def test_read_env_file_ignores_comments_and_quotes(tmp_path: Path) -> None:
    env = tmp_path / "netbox.env"
    env.write_text("# lab\nNETBOX_URL='http://127.0.0.1:1'\n\nNETBOX_TOKEN=nbt_a.b\n")
    assert read_env_file(env) == {"NETBOX_URL": "http://127.0.0.1:1", "NETBOX_TOKEN": "nbt_a.b"}


def test_credentials_prefer_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = LabPaths(root=tmp_path, cache=tmp_path / "cache")
    paths.netbox_env.write_text("NETBOX_URL=http://file:1\nNETBOX_TOKEN=from-file\n")
    monkeypatch.setenv("NETBOX_URL", "http://env:2/")
    monkeypatch.setenv("NETBOX_TOKEN", "from-env")
    assert netbox_credentials(paths) == ("http://env:2", "from-env")
    monkeypatch.delenv("NETBOX_URL")
    monkeypatch.delenv("NETBOX_TOKEN")
    assert netbox_credentials(paths) == ("http://file:1", "from-file")


def test_credentials_missing_say_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NETBOX_URL", raising=False)
    monkeypatch.delenv("NETBOX_TOKEN", raising=False)
    with pytest.raises(EnvironmentProblemError) as err:
        netbox_credentials(LabPaths(root=tmp_path, cache=tmp_path))
    assert "sop lab up" in err.value.hint


def test_the_seeded_dump_is_keyed_by_the_seed_digest(tmp_path: Path) -> None:
    paths = LabPaths(root=tmp_path, cache=tmp_path)
    assert paths.seeded_dump("abc").name == "seeded-abc.dump"
    assert seed.digest() == seed.digest()
    assert len(seed.digest()) == 12


def test_the_digest_changes_with_the_seed(tmp_path: Path) -> None:
    (tmp_path / "10-a.yml").write_text("[]\n")
    before = seed.digest(tmp_path)
    (tmp_path / "10-a.yml").write_text("- {endpoint: extras.tags, objects: []}\n")
    assert seed.digest(tmp_path) != before


def test_references_become_ids_and_shorthands_expand() -> None:
    resolver = FakeResolver()
    spec = SPECS["ipam.ip_addresses"]
    payload: dict[str, Any] = {}
    for key, value in {
        "address": "10.30.0.2/24",
        "interface": "rtr-edge-01:mgmt0",
        "tenant": "diskominfo",
        "role": "secondary",
    }.items():
        payload.update(spec.encode(key, value, resolver))
    assert payload["assigned_object_type"] == "dcim.interface"
    assert isinstance(payload["assigned_object_id"], int)
    assert isinstance(payload["tenant"], int)
    # `role` of an IP address is a choice, not a device role reference.
    assert payload["role"] == "secondary"
    assert spec.lookup_filter(payload) == {"address": "10.30.0.2"}


def test_lookup_filters_use_ids_for_references() -> None:
    assert SPECS["dcim.interfaces"].lookup_filter({"device": 7, "name": "eth0"}) == {
        "device_id": 7,
        "name": "eth0",
    }
    assert SPECS["ipam.vlans"].lookup_filter({"group": 3, "vid": 20, "name": "DMZ"}) == {
        "group_id": 3,
        "vid": 20,
    }


def test_differences_ignore_equal_values_in_other_shapes() -> None:
    current = {"u_height": 1.0, "tags": [3, 1], "custom_fields": {"sop_ip_pool": "sop57", "x": 1}}
    payload = {"u_height": 1, "tags": [1, 3], "custom_fields": {"sop_ip_pool": "sop57"}}
    assert seed._differences(current, payload) == {}
    assert seed._differences(current, {"u_height": 2}) == {"u_height": 2}


def test_every_seed_file_is_valid_and_uses_known_endpoints() -> None:
    sections = seed.read_sections()
    endpoints = {s.endpoint for s in sections}
    assert {"dcim.devices", "ipam.prefixes", "tenancy.tenants"} <= endpoints


def test_an_unknown_endpoint_is_refused_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "10-bad.yml").write_text("- {endpoint: dcim.nonsense, objects: []}\n")
    with pytest.raises(InvalidInputError) as err:
        seed.read_sections(tmp_path)
    assert "seed_specs.py" in err.value.hint


def _names(endpoint: str, key: str = "name") -> set[str]:
    return {
        str(obj[key])
        for section in seed.read_sections()
        if section.endpoint == endpoint
        for obj in section.objects
        if key in obj
    }


def test_the_seed_holds_the_names_other_code_relies_on() -> None:
    devices = _names("dcim.devices")
    assert {"rtr-edge-01", "rtr-edge-02", "rtr-core-01", "rtr-isp"} <= devices
    assert {"srv-dmz-dinkes-01", "srv-dmz-bkd-01", "srv-dmz-bappeda-01"} <= devices
    assert {"dinkes", "bkd", "bappeda", "disdukcapil", "disdik", "diskominfo"} <= _names(
        "tenancy.tenants", "slug"
    )
    assert {"frr", "debian", "routeros", "ios"} <= _names("dcim.platforms", "slug")
    assert "203.0.113.0/24" in _names("ipam.prefixes", "prefix")


def test_device_references_point_at_seeded_objects() -> None:
    racks = _names("dcim.racks")
    types = _names("dcim.device_types", "slug")
    roles = _names("dcim.device_roles", "slug")
    for section in seed.read_sections():
        if section.endpoint != "dcim.devices":
            continue
        for obj in section.objects:
            if "device_type" in obj:
                assert obj["device_type"] in types, obj["name"]
                assert obj["role"] in roles, obj["name"]
            if "rack" in obj:
                assert obj["rack"] in racks, obj["name"]


def test_down_refuses_while_a_test_session_holds_the_lab(tmp_path: Path) -> None:
    from sop_runner.errors import ConflictError
    from sop_runner.lab import lifecycle
    from sop_runner.lab.lock import session_holder, session_lock

    paths = LabPaths(root=tmp_path, cache=tmp_path / "cache")
    assert session_holder(paths) is None
    with session_lock(paths, timeout=1):
        assert "pid" in (session_holder(paths) or "")
        with pytest.raises(ConflictError) as err:
            lifecycle.down(paths)
        assert "--force" in err.value.hint
        assert lifecycle.down(paths, force=True) == []
    assert session_holder(paths) is None
