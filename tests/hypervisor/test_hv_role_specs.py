"""Static contract of the hypervisor/data-centre roles: argument_specs mirror defaults, SOP bindings fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ["vps", "dc_assets", "os_install"]


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_keys_equal_defaults_keys(role: str) -> None:
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    assert set(specs["argument_specs"]["main"]["options"]) == set(defaults)
    assert all(k.startswith(f"{role}_") for k in defaults)


@pytest.mark.parametrize(("sop", "step", "playbook", "role"), [
    ("wonosobo/20-pembuatan-vps.yml", 6, "playbooks/sop20_vps_create.yml", "vps"),
    ("wonosobo/21-penghapusan-vps.yml", 6, "playbooks/sop21_vps_delete.yml", "vps"),
    ("wonosobo/22-penambahan-sumberdaya-vps.yml", 4, "playbooks/sop22_vps_resize.yml", "vps"),
    ("wonosobo/07-penambahan-rak-server.yml", 5, "playbooks/sop07_rack_add.yml", "dc_assets"),
    ("wonosobo/08-pemasangan-server.yml", 7, "playbooks/sop08_server_install.yml", "dc_assets"),
    ("wonosobo/09-pengambilan-server.yml", 6, "playbooks/sop09_server_remove.yml", "dc_assets"),
    ("wonosobo/10-pemasangan-storage.yml", 7, "playbooks/sop10_storage_install.yml", "dc_assets"),
    ("wonosobo/11-penambahan-kapasitas-storage.yml", 9, "playbooks/sop11_storage_capacity_add.yml", "dc_assets"),
    ("wonosobo/14-pemindahan-perangkat-data-center.yml", 8, "playbooks/sop14_device_relocate.yml", "dc_assets"),
    ("kaltim/kolokasi-hosting.yml", 8, "playbooks/colocation_install.yml", "dc_assets"),
    ("wonosobo/23-instalasi-os-server.yml", 3, "playbooks/sop23_os_install.yml", "os_install"),
    ("tanah-bumbu/aset-2-pemindahtempaan.yml", 5, "playbooks/sop14_device_relocate.yml", "dc_assets"),
    ("tanah-bumbu/aset-3-penggunaan-pemanfaatan.yml", 2, "playbooks/asset_lifecycle.yml", "dc_assets"),
    ("tanah-bumbu/aset-4-perbaikan-pemeliharaan.yml", 5, "playbooks/asset_lifecycle.yml", "dc_assets"),
    ("tanah-bumbu/aset-5-penghapusan.yml", 5, "playbooks/asset_lifecycle.yml", "dc_assets"),
])
def test_bindings_are_approved_and_fit_the_role(sop: str, step: int, playbook: str, role: str) -> None:
    data = yaml.safe_load((ROOT / "sops" / sop).read_text())
    steps = {s["number"]: s for s in data["steps"]}
    auto = steps[step]["automation"]
    assert steps[step]["kind"] == "automated" and auto["playbook"] == playbook and auto["role"] == role
    assert (ROOT / playbook).is_file()
    approvers = [s for s in data["steps"] if s.get("approves_plan_of") == step]
    assert len(approvers) == 1 and approvers[0]["number"] < step
    options = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    assert set(auto["vars"]) <= set(options["argument_specs"]["main"]["options"])
