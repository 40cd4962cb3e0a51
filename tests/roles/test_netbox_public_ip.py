"""SOP 57 step 5: the netbox_public_ip role (and its module) against the lab NetBox.

The playbook runs through ansible_runner.run, as the runner does: a plan with --check --diff,
then an apply with ``sop_approved_plan`` (the plan's ``sop_plan`` stats) as an extravar.

Seed facts these tests rely on (inventory/seed/): the pool 203.0.113.0/24 is tagged
sop57-public-pool; .1, .2 and .10 are used, so NetBox's allocator hands out .3 first;
srv-dmz-dinkes-01 (device, tenant dinkes) and vm-simpeg-bkd (VM, tenant bkd) have an eth0.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "netbox_public_ip"
PLAYBOOK = REPO / "playbooks" / "sop57_public_ip.yml"
MODULE = REPO / "plugins" / "modules" / "netbox_public_ip.py"
SOP57 = REPO / "sops" / "wonosobo" / "57-permohonan-ip-publik.yml"
VENV_BIN = Path(sys.executable).parent

CHANGE_TASK = "Change | SOP 57 step 5 | Allocate the public address in NetBox"
POOL = "203.0.113.0/24"
FIRST_FREE = "203.0.113.3/24"
SECOND_FREE = "203.0.113.4/24"
DINKES = {"netbox_public_ip_tenant": "dinkes", "netbox_public_ip_server": "srv-dmz-dinkes-01"}
PLAN_KEYS = {"address", "pool", "free_before", "free_after", "server", "interface", "tenant", "inside"}


# --- helpers -----------------------------------------------------------------------------


@dataclass
class PlaybookRun:
    """What the runner sees of one ansible-playbook run."""

    rc: int
    status: str
    change: dict[str, Any]  # the module's result (ok or failed)
    sop_plan: dict[str, Any] | None
    failed_tasks: list[str] = field(default_factory=list)
    stdout: str = ""

    @property
    def failed(self) -> bool:
        return self.rc != 0


def run_playbook(
    lab, tmp_path: Path, *, check: bool, name: str = "run", playbook: Path = PLAYBOOK, **extravars
) -> PlaybookRun:
    url, token = lab
    private = tmp_path / name
    private.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(playbook),
        cmdline="--check --diff" if check else "--diff",
        extravars=extravars,
        envvars={
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            # ansible-playbook of the venv running the tests (pytest may run without activation)
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "NETBOX_URL": url,
            "NETBOX_TOKEN": token,
        },
        quiet=True,
    )
    change: dict[str, Any] = {}
    sop_plan = None
    failed_tasks = []
    for event in result.events:
        data = event.get("event_data", {})
        if event["event"] in {"runner_on_ok", "runner_on_failed"} and data.get("task") == CHANGE_TASK:
            change = data["res"]
        if event["event"] == "runner_on_failed" and not data.get("ignore_errors"):
            failed_tasks.append(data.get("task", ""))
        if event["event"] == "playbook_on_stats":
            sop_plan = (data.get("artifact_data") or {}).get("sop_plan")
    return PlaybookRun(
        rc=result.rc,
        status=result.status,
        change=change,
        sop_plan=sop_plan,
        failed_tasks=failed_tasks,
        stdout=result.stdout.read(),
    )


def start_playbook(lab, **extravars) -> subprocess.Popen:
    """``ansible-playbook`` as an operator runs it from the repo root (apply, JSON output)."""
    url, token = lab
    env = {
        **os.environ,
        "NETBOX_URL": url,
        "NETBOX_TOKEN": token,
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_SHOW_CUSTOM_STATS": "true",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("ANSIBLE_CONFIG", None)  # ./ansible.cfg of the repo root
    return subprocess.Popen(
        [str(VENV_BIN / "ansible-playbook"), str(PLAYBOOK.relative_to(REPO)), "-e", json.dumps(extravars)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_playbook(process: subprocess.Popen) -> PlaybookRun:
    stdout, stderr = process.communicate(timeout=300)
    output = json.loads(stdout)
    results = {
        task["task"]["name"].split(" : ", 1)[-1]: task["hosts"].get("localhost", {})
        for play in output["plays"]
        for task in play["tasks"]
    }
    assert CHANGE_TASK in results, stdout + stderr
    change = results[CHANGE_TASK]
    return PlaybookRun(
        rc=process.returncode,
        status="successful" if process.returncode == 0 else "failed",
        change=change,
        sop_plan=output["global_custom_stats"].get("sop_plan"),
        stdout=stdout + stderr,
    )


def pool_addresses(api) -> set[str]:
    return {str(ip.address) for ip in api.ipam.ip_addresses.filter(parent=POOL)}


def on_interface(api, server: str, interface: str = "eth0") -> list:
    """IP addresses of the pool assigned to a device's or VM's interface."""
    if api.dcim.devices.get(name=server):
        found = api.ipam.ip_addresses.filter(device=server, interface=interface, parent=POOL)
    else:
        found = api.ipam.ip_addresses.filter(virtual_machine=server, vminterface=interface, parent=POOL)
    return list(found)


@pytest.fixture
def lab(netbox_lab):
    """(url, token) of the lab NetBox, reset to the seed before each test.

    Per test, not per module (the conftest's netbox_reset): every test here allocates from
    the same pool and asserts on the exact addresses NetBox hands out.
    """
    from sop_runner import lab as lab_control

    lab_control.reset()
    return netbox_lab


# --- without NetBox ------------------------------------------------------------------------


def test_argument_specs_keys_equal_defaults_keys():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    assert all(name.startswith("netbox_public_ip_") for name in defaults)


def test_sop57_passes_only_variables_the_role_declares():
    sop = yaml.safe_load(SOP57.read_text())
    step5 = next(step for step in sop["steps"] if step["number"] == 5)
    assert step5["automation"]["role"] == "netbox_public_ip"
    assert (REPO / step5["automation"]["playbook"]) == PLAYBOOK
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    assert set(step5["automation"]["vars"]) <= set(specs["argument_specs"]["main"]["options"])


def test_token_is_no_log_in_the_argument_specs():
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    assert specs["argument_specs"]["main"]["options"]["netbox_public_ip_netbox_token"]["no_log"]


# --- against the lab NetBox ----------------------------------------------------------------


@pytest.mark.netbox
def test_plan_reports_the_next_free_address_and_writes_nothing(lab, netbox_api, tmp_path):
    before = netbox_api.ipam.ip_addresses.count()

    plan = run_playbook(lab, tmp_path, check=True, **DINKES)

    assert not plan.failed, plan.stdout
    assert plan.change["changed"] is True
    assert plan.change["address"] == FIRST_FREE
    assert plan.change["diff"]["before"] == ""
    assert plan.change["diff"]["after"].strip() == f"{FIRST_FREE} → srv-dmz-dinkes-01:eth0 (dinkes)"
    assert plan.sop_plan == {
        "address": FIRST_FREE,
        "pool": POOL,
        "free_before": plan.change["free_before"],
        "free_after": plan.change["free_before"] - 1,
        "server": "srv-dmz-dinkes-01",
        "interface": "eth0",
        "tenant": "dinkes",
        "inside": "",
    }
    assert set(plan.sop_plan) == PLAN_KEYS
    assert netbox_api.ipam.ip_addresses.count() == before
    assert on_interface(netbox_api, "srv-dmz-dinkes-01") == []


@pytest.mark.netbox
def test_apply_allocates_the_planned_address_once(lab, netbox_api, tmp_path):
    before = netbox_api.ipam.ip_addresses.count()
    plan = run_playbook(lab, tmp_path, check=True, name="plan", **DINKES)
    assert not plan.failed, plan.stdout

    apply = run_playbook(
        lab,
        tmp_path,
        check=False,
        name="apply",
        sop_approved_plan=plan.sop_plan,
        netbox_public_ip_dns_name="simpus.wonosobokab.go.id",
        netbox_public_ip_description="SOP 57 run 1",
        **DINKES,
    )

    assert not apply.failed, apply.stdout
    assert apply.change["changed"] is True
    assert apply.change["address"] == plan.sop_plan["address"] == FIRST_FREE
    assert apply.sop_plan["free_after"] == plan.sop_plan["free_after"]
    assert netbox_api.ipam.ip_addresses.count() == before + 1
    [ip] = on_interface(netbox_api, "srv-dmz-dinkes-01")
    assert str(ip.address) == FIRST_FREE
    assert ip.id == apply.change["netbox_ip_id"]
    assert ip.tenant.slug == "dinkes"
    assert ip.status.value == "active"
    assert ip.assigned_object_type == "dcim.interface"
    assert ip.dns_name == "simpus.wonosobokab.go.id"
    assert ip.description == "SOP 57 run 1"

    # A resumed or repeated apply allocates nothing more.
    again = run_playbook(lab, tmp_path, check=False, name="again", sop_approved_plan=plan.sop_plan, **DINKES)
    assert not again.failed, again.stdout
    assert again.change["changed"] is False
    assert again.change["address"] == FIRST_FREE
    assert netbox_api.ipam.ip_addresses.count() == before + 1

    # And a plan made now says there is nothing to do.
    replan = run_playbook(lab, tmp_path, check=True, name="replan", **DINKES)
    assert not replan.failed, replan.stdout
    assert replan.change["changed"] is False
    assert replan.sop_plan["address"] == FIRST_FREE


@pytest.mark.netbox
def test_nat_inside_records_the_servers_private_address(lab, netbox_api, tmp_path):
    """SOP 57's setting: the new address also names its NAT inside (the router half reads it)."""
    nat = {**DINKES, "netbox_public_ip_nat_inside": True}
    plan = run_playbook(lab, tmp_path, check=True, name="plan", **nat)
    assert not plan.failed, plan.stdout
    assert plan.sop_plan is not None and plan.sop_plan["inside"] == "10.30.1.11"
    apply = run_playbook(lab, tmp_path, check=False, name="apply", sop_approved_plan=plan.sop_plan, **nat)
    assert not apply.failed, apply.stdout
    [ip] = on_interface(netbox_api, "srv-dmz-dinkes-01")
    assert str(ip.address) == FIRST_FREE
    assert ip.nat_inside is not None and str(ip.nat_inside.address) == "10.30.1.11/24"


@pytest.mark.netbox
def test_concurrent_applies_get_different_addresses(lab, netbox_api, tmp_path):
    before = pool_addresses(netbox_api)
    requests = [
        {"netbox_public_ip_tenant": "dinkes", "netbox_public_ip_server": "srv-dmz-dinkes-01"},
        {"netbox_public_ip_tenant": "bkd", "netbox_public_ip_server": "vm-simpeg-bkd"},
    ]

    # Two ansible-playbook processes from the repository root, started before either is waited
    # for (processes, not threads: ansible-runner's pty spawning is not thread-safe).
    started = [start_playbook(lab, **extravars) for extravars in requests]
    runs = [finish_playbook(process) for process in started]

    for run in runs:
        assert not run.failed, run.stdout
        assert run.change["changed"] is True
    addresses = {run.change["address"] for run in runs}
    assert addresses == {FIRST_FREE, SECOND_FREE}
    assert pool_addresses(netbox_api) == before | addresses
    [dinkes] = on_interface(netbox_api, "srv-dmz-dinkes-01")
    [bkd] = on_interface(netbox_api, "vm-simpeg-bkd")
    assert {str(dinkes.address), str(bkd.address)} == addresses
    assert bkd.assigned_object_type == "virtualization.vminterface"
    assert bkd.tenant.slug == "bkd"
    assert {run.sop_plan["address"] for run in runs} == addresses


@pytest.mark.netbox
def test_stale_plan_fails_and_leaves_no_extra_address(lab, netbox_api, tmp_path):
    plan = run_playbook(lab, tmp_path, check=True, name="plan", **DINKES)
    assert plan.sop_plan["address"] == FIRST_FREE
    # Someone takes the planned address between approval and apply.
    netbox_api.ipam.ip_addresses.create(address=FIRST_FREE, status="active", description="taken by hand")
    before = pool_addresses(netbox_api)

    apply = run_playbook(lab, tmp_path, check=False, name="apply", sop_approved_plan=plan.sop_plan, **DINKES)

    assert apply.failed
    assert apply.failed_tasks == [CHANGE_TASK]
    assert "plan is stale" in apply.change["msg"]
    assert FIRST_FREE in apply.change["msg"]
    assert "re-plan" in apply.change["msg"]
    assert pool_addresses(netbox_api) == before
    assert on_interface(netbox_api, "srv-dmz-dinkes-01") == []


@pytest.mark.netbox
def test_race_after_the_check_deletes_the_wrong_allocation(lab, netbox_api, monkeypatch):
    """The window between the module's own check and NetBox's allocator.

    The playbook cannot hit it on purpose, so the module runs in-process: its view of the
    free list is frozen at plan time while the planned address is already taken.
    """
    nb = _load_module()
    url, token = lab
    params = {
        "netbox_url": url,
        "netbox_token": token,
        "netbox_timeout": 30,
        "tenant": "dinkes",
        "server": "srv-dmz-dinkes-01",
        "interface": "eth0",
        "pool": "",
        "dns_name": "",
        "description": "",
        "state": "present",
        "expect": FIRST_FREE,
        "nat_inside": False,
    }
    api = nb.connect(url, token)
    target = nb.Target(api, params)
    stale_free = target.free()
    assert stale_free[0] == FIRST_FREE
    netbox_api.ipam.ip_addresses.create(address=FIRST_FREE, status="active")
    monkeypatch.setattr(target, "free", lambda: stale_free)
    before = pool_addresses(netbox_api)

    with pytest.raises(nb.NetBoxError, match="plan is stale") as raised:
        nb.present(_FakeModule(params), target)

    assert SECOND_FREE in str(raised.value)
    assert "deleted again" in str(raised.value)
    assert pool_addresses(netbox_api) == before
    assert on_interface(netbox_api, "srv-dmz-dinkes-01") == []


VERIFY_ONLY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Pretend the change task reported this address
      ansible.builtin.set_fact:
        __netbox_public_ip_result: "{{ pretend }}"
    - name: Run only the role's verification
      ansible.builtin.include_role:
        name: netbox_public_ip
        tasks_from: verify
"""


@pytest.mark.netbox
def test_verify_fails_when_netbox_disagrees(lab, netbox_api, tmp_path):
    """The verification reads NetBox itself: an address not on the interface fails it."""
    playbook = tmp_path / "verify_only.yml"
    playbook.write_text(VERIFY_ONLY)
    published = netbox_api.ipam.ip_addresses.get(address="203.0.113.10/24")  # NAT, no interface
    pretend = {"address": str(published.address), "netbox_ip_id": published.id, "server_type": "device"}

    run = run_playbook(lab, tmp_path, check=False, playbook=playbook, pretend=pretend, **DINKES)

    assert run.failed
    assert run.failed_tasks == ["Verify | SOP 57 step 5 | Assert the address is on the interface with the tenant"]
    assert "NetBox does not show 203.0.113.10/24" in run.stdout


@pytest.mark.netbox
def test_unknown_tenant_is_named_with_the_known_ones(lab, netbox_api, tmp_path):
    before = netbox_api.ipam.ip_addresses.count()

    run = run_playbook(
        lab,
        tmp_path,
        check=True,
        netbox_public_ip_tenant="dinas-tidak-ada",
        netbox_public_ip_server="srv-dmz-dinkes-01",
    )

    assert run.failed
    msg = run.change["msg"]
    assert "tenant='dinas-tidak-ada'" in msg
    assert "dinkes" in msg
    assert "bkd" in msg
    assert netbox_api.ipam.ip_addresses.count() == before


@pytest.mark.netbox
@pytest.mark.parametrize(
    ("extravars", "expected"),
    [
        ({"netbox_public_ip_server": "srv-tidak-ada"}, "server='srv-tidak-ada'"),
        ({"netbox_public_ip_interface": "eth9"}, "interface='eth9'"),
        ({"netbox_public_ip_pool": "192.0.2.0/24"}, "pool='192.0.2.0/24'"),
        ({"netbox_public_ip_server": "vm-simpeg-bkd"}, "belongs to tenant 'bkd'"),
    ],
)
def test_bad_input_is_named(lab, tmp_path, extravars, expected):
    run = run_playbook(lab, tmp_path, check=True, **{**DINKES, **extravars})

    assert run.failed
    assert expected in run.change["msg"], run.change["msg"]


@pytest.mark.netbox
def test_absent_releases_the_address(lab, netbox_api, tmp_path):
    before = pool_addresses(netbox_api)
    apply = run_playbook(lab, tmp_path, check=False, name="apply", **DINKES)
    assert not apply.failed, apply.stdout
    address = apply.change["address"]

    plan = run_playbook(lab, tmp_path, check=True, name="plan", netbox_public_ip_state="absent", **DINKES)
    assert not plan.failed, plan.stdout
    assert plan.change["changed"] is True
    assert plan.change["address"] == address
    assert plan.change["diff"]["after"] == ""
    assert address in pool_addresses(netbox_api)

    release = run_playbook(
        lab,
        tmp_path,
        check=False,
        name="release",
        netbox_public_ip_state="absent",
        sop_approved_plan=plan.sop_plan,
        **DINKES,
    )
    assert not release.failed, release.stdout
    assert release.change["changed"] is True
    assert release.change["address"] == address
    assert release.sop_plan["free_after"] == apply.sop_plan["free_before"]
    assert pool_addresses(netbox_api) == before
    assert on_interface(netbox_api, "srv-dmz-dinkes-01") == []

    again = run_playbook(lab, tmp_path, check=False, name="again", netbox_public_ip_state="absent", **DINKES)
    assert not again.failed, again.stdout
    assert again.change["changed"] is False


@pytest.mark.netbox
def test_full_pool_fails_clearly(lab, netbox_api, tmp_path):
    network = ipaddress.ip_network(POOL)
    taken = pool_addresses(netbox_api)
    netbox_api.ipam.ip_addresses.create(
        [
            {"address": f"{host}/{network.prefixlen}", "status": "reserved"}
            for host in network.hosts()
            if f"{host}/{network.prefixlen}" not in taken
        ]
    )

    run = run_playbook(lab, tmp_path, check=True, **DINKES)

    assert run.failed
    assert "no free address" in run.change["msg"]
    assert run.change["free_before"] == 0


# --- in-process access to the module --------------------------------------------------------


class _FakeModule:
    """Just what present()/absent() use of AnsibleModule."""

    def __init__(self, params: dict[str, Any], check_mode: bool = False) -> None:
        self.params = params
        self.check_mode = check_mode
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _load_module():
    """Import the module as Ansible would find it, module_utils included."""
    # The collection kominfo.sop lives in collections/ (its plugins/ links to the repo's).
    collections = str(REPO / "collections")
    if collections not in sys.path:
        sys.path.append(collections)
    spec = importlib.util.spec_from_file_location("netbox_public_ip_under_test", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
