"""SOP 23 (Instalasi OS Server) on the lab: answer files from NetBox checked by the real
validators, and the install driven over Redfish (sushy-tools, libvirt driver) against a
"bare-metal" domain whose installer fetches the answer file and calls back."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hv_helpers import run_playbook, unique_name

from sop_runner.config import load_config, repo_root
from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ForbiddenError
from sop_runner.lab import hypervisor
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.hypervisor, pytest.mark.netbox, pytest.mark.usefixtures("netbox_env")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _virsh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", hypervisor.URI, *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def bmc(hypervisor_lab: hypervisor.HypervisorStatus) -> Iterator[hypervisor.HypervisorStatus]:
    """The lab with the Redfish emulator; the emulator is stopped at the end if we started it."""
    status = hypervisor.up(bmc=True)
    yield status
    if any("sushy" in s for s in status.started):
        hypervisor.stop_bmc()


@pytest.fixture(scope="module")
def server(netbox_api: Any, netbox_env: None, bmc: hypervisor.HypervisorStatus,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A planned device in NetBox with a management address, and its bare-metal domain."""
    name = unique_name("bm")
    dtype = netbox_api.dcim.device_types.get(slug="poweredge-r650")
    role = netbox_api.dcim.device_roles.get(slug="server")
    site = netbox_api.dcim.sites.get(slug="dc-wonosobo")
    dev = netbox_api.dcim.devices.create(name=name, device_type=dtype.id, role=role.id, site=site.id,
                                         status="planned", serial=f"SN-{name}")
    iface = netbox_api.dcim.interfaces.create(device=dev.id, name="eno1", type="1000base-t")
    prefix = netbox_api.ipam.prefixes.get(prefix="10.30.0.0/24")
    ip = prefix.available_ips.create({"assigned_object_type": "dcim.interface", "assigned_object_id": iface.id,
                                      "status": "active", "description": f"SOP 23 test {name}"})
    dev.update({"primary_ip4": ip.id})
    paths = hypervisor.HypervisorPaths.default()
    disk = paths.pool / f"{name}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "2G"], check=True)
    _virsh("pool-refresh", hypervisor.POOL)
    port, ssh_port = _free_port(), _free_port()
    root = tmp_path_factory.mktemp("answers")
    # The image the lab installer writes, served beside the answer files like a mirror would be.
    (root / "images").mkdir()
    (root / "images" / "debian-12.raw.gz").symlink_to(hypervisor.installed_image(paths))
    address = ip.address.split("/")[0]
    # Firmware boot (SeaBIOS): the BMC's boot override picks the virtual CD or the disk. The NIC's
    # user-mode network holds the server's NetBox address and its gateway; the installer gets an
    # address there by DHCP; SSH of the installed system is forwarded from loopback only.
    xml = f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name><description>{hypervisor.LAB_MARK} bare-metal server {name}</description>
  <memory unit='MiB'>512</memory><vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features><on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
    <serial type='pty'><log file='{disk}.console.log' append='on'/></serial>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=inst,restrict=on,net=10.0.0.0/8,host=10.30.0.1,dhcpstart=10.30.0.200,guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:127.0.0.1:{port},hostfwd=tcp:127.0.0.1:{ssh_port}-{address}:22'/>
    <qemu:arg value='-device'/><qemu:arg value='virtio-net-pci,netdev=inst,addr=0x9'/>
  </qemu:commandline>
</domain>"""
    xml_file = root / "domain.xml"
    xml_file.write_text(xml)
    assert _virsh("define", str(xml_file)).returncode == 0
    uuid = _virsh("domuuid", name).stdout.strip()
    key = paths.ssh_key.with_suffix(".pub").read_text().strip()
    yield {"name": name, "disk": disk, "port": port, "root": root, "uuid": uuid, "ip": ip.address,
           "address": address, "ssh_port": ssh_port, "key": paths.ssh_key,
           "vars": {"os_install_device": name, "os_install_os": "debian", "os_install_os_version": "12",
                    "os_install_ssh_public_key": key, "os_install_http_root": str(root),
                    "os_install_http_port": port, "os_install_bmc_address": bmc.bmc_url.removeprefix("https://"),
                    "os_install_bmc_system_id": uuid, "os_install_timeout": 240,
                    "os_install_installer_kernel": str(paths.kernel),
                    "os_install_installer_initrd": str(hypervisor.installer_initrd(paths)),
                    "os_install_installer_append": (
                        "console=ttyS0 rdinit=/sop-init quiet sop.image=http://10.0.2.100/images/debian-12.raw.gz"),
                    "os_install_ssh_host": "127.0.0.1", "os_install_ssh_port": ssh_port}}
    _virsh("destroy", name)
    _virsh("undefine", name)
    # sushy-tools keeps the inserted ISO in the pool under the domain's uuid.
    for f in [*paths.pool.glob(f"{name}.qcow2*"), *paths.pool.glob(f"*{uuid}*")]:
        f.unlink()


def _ssh(server: dict[str, Any], command: str) -> str:
    proc = subprocess.run(["ssh", "-i", str(server["key"]), "-p", str(server["ssh_port"]), "-o", "BatchMode=yes",
                           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "ConnectTimeout=20", "root@127.0.0.1", command],
                          capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_plan_renders_and_validates_every_answer_file_kind(server: dict[str, Any]) -> None:
    for os_name, version, kind in (("debian", "12", "preseed"), ("rocky", "9", "kickstart"),
                                   ("ubuntu", "24.04", "autoinstall")):
        res = run_playbook("sop23_os_install.yml", {**server["vars"], "os_install_os": os_name,
                                                    "os_install_os_version": version}, check=True)
        assert res.rc == 0, (os_name, res.failures)
        assert res.plan["answer_file"].startswith(kind) and res.plan["address"] == server["ip"]
    assert "shut off" in _virsh("domstate", server["name"]).stdout, "a plan must not power the server on"


def test_invalid_preseed_is_refused_at_plan_time(server: dict[str, Any]) -> None:
    bad = {**server["vars"], "os_install_domain": "dc.example\nthis is not a preseed line"}
    res = run_playbook("sop23_os_install.yml", bad, check=True)
    assert res.rc != 0
    assert "the preseed for" in " ".join(res.failures) and "debconf-set-selections exit" in " ".join(res.failures)


def test_bmc_that_does_not_answer_ends_the_step_within_its_timeout(server: dict[str, Any]) -> None:
    dead = f"127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    res = run_playbook("sop23_os_install.yml", {**server["vars"], "os_install_bmc_address": dead,
                                                "os_install_bmc_timeout": 5})
    elapsed = time.monotonic() - t0
    assert res.rc != 0
    msg = " ".join(res.failures)
    assert f"the BMC at {dead} did not do Insert the installer as virtual media" in msg, msg
    assert elapsed < 90, f"took {elapsed:.0f} s"


def test_installer_that_never_calls_back_ends_the_step_within_its_timeout(server: dict[str, Any]) -> None:
    # The answer-file server listens on another port than the domain's guestfwd: the installer
    # never gets its answer file, so it never calls back.
    t0 = time.monotonic()
    res = run_playbook("sop23_os_install.yml", {**server["vars"], "os_install_http_port": _free_port(),
                                                "os_install_timeout": 20})
    elapsed = time.monotonic() - t0
    _virsh("destroy", server["name"])
    assert res.rc != 0
    assert f"the installer of {server['name']} did not call back within 20 s" in " ".join(res.failures)
    assert elapsed < 90, f"took {elapsed:.0f} s"


def test_installer_that_fails_ends_the_step_at_once_with_its_reason(server: dict[str, Any], netbox_api: Any) -> None:
    # The image the installer should write is not on the server: it reports status=failed with the
    # reason, and the step ends on that call-back instead of waiting out its timeout.
    lab = server["vars"]
    broken = lab["os_install_installer_append"].replace("debian-12.raw.gz", "missing.raw.gz")
    t0 = time.monotonic()
    res = run_playbook("sop23_os_install.yml", {**lab, "os_install_installer_append": broken})
    elapsed = time.monotonic() - t0
    _virsh("destroy", server["name"])
    assert res.rc != 0
    msg = " ".join(res.failures)
    assert f"the installer of {server['name']} failed" in msg and "status=failed" in msg, msg
    assert "could not write http://10.0.2.100/images/missing.raw.gz" in msg, msg
    assert elapsed < lab["os_install_timeout"], f"took {elapsed:.0f} s"
    assert netbox_api.dcim.devices.get(name=server["name"]).status.value == "planned", (
        "a failed install must not mark the server active")


def test_sop23_through_sop_installs_over_redfish(server: dict[str, Any], netbox_api: Any, tmp_path: Path,
                                                  make_runner_config: Callable[..., Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Request (Kabid) -> second Kabid signs the plan -> apply over Redfish -> NetBox active -> reports."""
    _virsh("destroy", server["name"])
    lab = server["vars"]
    # What a data centre configures once for the runner: the BMC, the answer-file port, its admin key.
    monkeypatch.setenv("SOP_BMC_ADDRESS", lab["os_install_bmc_address"])
    monkeypatch.setenv("SOP_OS_INSTALL_PORT", str(lab["os_install_http_port"]))
    monkeypatch.setenv("SOP_OS_INSTALL_ROOT", lab["os_install_http_root"])
    monkeypatch.setenv("SOP_OS_INSTALL_SSH_KEY", lab["os_install_ssh_public_key"])
    monkeypatch.setenv("SOP_OS_INSTALL_KERNEL", lab["os_install_installer_kernel"])
    monkeypatch.setenv("SOP_OS_INSTALL_INITRD", lab["os_install_installer_initrd"])
    monkeypatch.setenv("SOP_OS_INSTALL_APPEND", lab["os_install_installer_append"])
    # In the lab the server's SSH is reached through its loopback forward, not its NetBox address.
    monkeypatch.setenv("SOP_OS_INSTALL_SSH_HOST", "127.0.0.1")
    monkeypatch.setenv("SOP_OS_INSTALL_SSH_PORT", str(server["ssh_port"]))
    svc = RunService(load_config(str(make_runner_config(tmp_path, f"sqlite:///{tmp_path / 'sop.db'}",
                                                        repo_root() / "sops"))))
    run_id = svc.request("wonosobo-23", "hendra.kabid", {
        "server": server["name"], "os": "debian", "os_version": "12", "maintenance_date": "2026-12-01",
        "purpose": "Server SIMPUS"}).run_id
    svc.plan(run_id, "budi.teknis")
    plan = svc.state(run_id).plans[3]
    # The plan found the server on the BMC by name and shows the validated answer file.
    assert plan.stats["sop_plan"]["answer_file"].startswith("preseed") and plan.stats["sop_plan"]["address"] == (
        server["ip"])
    assert "shut off" in _virsh("domstate", server["name"]).stdout, "a plan must not power the server on"
    with pytest.raises(ForbiddenError, match="may not decide or approve"):
        svc.approve(run_id, "hendra.kabid", True, "instruksi", plan_hash=svc.reviewable_plan(run_id))  # four eyes: not the Kabid who started it
    svc.approve(run_id, "yusuf.plt", True, "nota dinas: instal Debian 12", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "budi.teknis", note="server terpasang di rak")
    svc.apply(run_id, "budi.teknis")
    answer = Path(server["root"]) / server["name"] / "preseed.cfg"
    digest = hashlib.sha256(answer.read_bytes()).hexdigest()
    # The installer fetched exactly the answer file the Kabid approved.
    assert plan.stats["sop_plan"]["answer_sha256"] == digest
    # The server booted the installed system from its disk: SSH answers with the root key the
    # answer file put there, and the system has the identity NetBox gave it.
    seen = _ssh(server, "hostname; ip -4 -o addr show scope global; cat /var/log/sop-installer.log; findmnt -no SOURCE /")
    lines = seen.splitlines()
    assert lines[0] == server["name"], seen
    assert f"inet {server['ip']}" in lines[1], seen
    assert lines[2].startswith(f"SOP-INSTALLED {digest} http://10.0.2.100/{server['name']}/preseed.cfg"), seen
    assert lines[3] == "/dev/vda2", seen
    callbacks = (Path(server["root"]) / f"{server['name']}.callback").read_text()
    assert f"device={server['name']}&status=done" in callbacks
    dev = netbox_api.dcim.devices.get(name=server["name"])
    assert dev.status.value == "active"
    journal = [j.comments for j in netbox_api.extras.journal_entries.filter(assigned_object_type="dcim.device",
                                                                          assigned_object_id=dev.id)]
    assert any("SOP 23" in j for j in journal)
    for note in ("pengujian: server dan OS berjalan", "review", "operasional", "laporan instalasi"):
        svc.complete(run_id, "budi.teknis", note=note)
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED, state.last_error
    assert {"nota_dinas", "laporan_review", "laporan_instalasi"} <= set(state.documents)
    assert server["name"] in Path(state.documents["laporan_instalasi"]["files"]["md"]).read_text(encoding="utf-8")
