"""The hypervisor lab: libvirt + QEMU (TCG) without systemd, a golden image, a Redfish BMC.

Public API (also ``python -m sop_runner.lab.hypervisor up|down|status``)::

    up(bmc=False) -> HypervisorStatus   start what is missing (idempotent)
    down() -> list[str]                 stop what up() started, VMs of the lab first
    status() -> HypervisorStatus        what runs, where

What ``up`` guarantees: ``virtlogd`` and ``libvirtd`` answer on ``qemu:///system`` with QEMU
running as root (else every define takes ~44 s here); a directory storage pool named
``default`` under ``<repo>/.lab/libvirt/pool`` (sushy-tools' libvirt driver needs that name);
the golden Debian image in ``${SOP_CACHE}/images`` (built by ``scripts/lab/hypervisor.sh``);
an operator SSH key pair in ``.lab/libvirt/ssh``; with ``bmc=True`` the sushy-tools Redfish
emulator over https on a free loopback port, its certificate made here.

The daemons are started only when they are not running; ``down`` stops only those whose pid
this module recorded when it started them.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sop_runner.errors import EnvironmentProblemError
from sop_runner.lab.paths import cache_root, repo_root
from sop_runner.lab.ports import free_port, port_is_free
from sop_runner.secretfiles import private_dir, private_umask

__all__ = ["HypervisorPaths", "HypervisorStatus", "down", "main", "status", "up"]

URI = "qemu:///system"
POOL = "default"
IMAGE_NAME = "debian-vps-bookworm"
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
# Every domain the lab's roles and tests define carries this prefix in its description
# metadata; `down` destroys only those.
LAB_MARK = "sop-runner-lab"


@dataclass(frozen=True)
class HypervisorPaths:
    """Files of the hypervisor lab of one clone."""

    root: Path

    @classmethod
    def default(cls) -> HypervisorPaths:
        env = os.environ.get("SOP_LAB_DIR")
        base = Path(env).resolve() if env else repo_root() / ".lab"
        return cls(root=base / "libvirt")

    @property
    def pool(self) -> Path:
        return self.root / "pool"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def ssh_key(self) -> Path:
        return self.root / "ssh" / "id_ed25519"

    @property
    def bmc_dir(self) -> Path:
        return self.root / "bmc"

    @property
    def images(self) -> Path:
        return cache_root() / "images"

    @property
    def golden(self) -> Path:
        return self.images / f"{IMAGE_NAME}.qcow2"

    @property
    def kernel(self) -> Path:
        return self.images / f"{IMAGE_NAME}.vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.images / f"{IMAGE_NAME}.initrd"

    @property
    def installed_image(self) -> Path:
        """What the lab installer writes to a bare-metal server's disk (gzip of a raw disk)."""
        return self.images / "debian-bm-bookworm.raw.gz"


@dataclass
class HypervisorStatus:
    """What runs, where; ``started`` lists what this call did."""

    uri: str = URI
    libvirtd: int | None = None
    virtlogd: int | None = None
    pool: str = ""
    golden_image: str = ""
    kernel: str = ""
    initrd: str = ""
    ssh_key: str = ""
    bmc_url: str = ""
    bmc_pid: int | None = None
    bmc_cert: str = ""
    domains: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _run(cmd: list[str], what: str, *, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise EnvironmentProblemError(
            f"{what}: {exc.filename} not found",
            hint="install the Debian packages in scripts/packages/hypervisor.txt (scripts/bootstrap.sh)",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentProblemError(f"{what}: timed out after {timeout} s", hint="see the daemon logs") from exc
    if check and proc.returncode != 0:
        raise EnvironmentProblemError(
            f"{what} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-1500:]}",
            hint="see /var/log/libvirt/ and .lab/libvirt/",
        )
    return proc


def _virsh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return _run(["virsh", "-c", URI, *args], f"virsh {' '.join(args[:2])}", check=check, timeout=timeout)


def _pid_of(pidfile: Path, expect: str) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return None
    return pid if expect in cmd else None


def _load_state(paths: HypervisorPaths) -> dict[str, object]:
    try:
        data = json.loads(paths.state.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_state(paths: HypervisorPaths, data: dict[str, object]) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.state.write_text(json.dumps(data, indent=2))


def _ensure_qemu_runs_as_root() -> bool:
    """qemu.conf user/group root (else every define is ~44 s slower) and no seccomp sandbox.

    The sandbox (spawn=deny) would stop QEMU's guestfwd from starting socat, which is how an
    isolated installer reaches the loopback answer-file server.
    """
    if not QEMU_CONF.exists():
        raise EnvironmentProblemError(f"{QEMU_CONF} missing", hint="apt-get install libvirt-daemon-system")
    text = QEMU_CONF.read_text()
    lines = text.splitlines()
    wanted = {"user": 'user = "root"', "group": 'group = "root"', "seccomp_sandbox": "seccomp_sandbox = 0"}
    have = {k for k, v in wanted.items() if v in lines}
    if have == set(wanted):
        return False
    kept = [ln for ln in lines if not any(ln.strip().startswith(f"{k} =") for k in wanted)]
    QEMU_CONF.write_text("\n".join([*kept, *wanted.values()]) + "\n")
    return True


def _wait_for_libvirtd(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _virsh("version", check=False, timeout=10).returncode == 0:
            return
        time.sleep(0.3)
    raise EnvironmentProblemError(f"libvirtd did not answer on {URI} within {timeout:.0f} s",
                                  hint="run `libvirtd -v` in a shell to see why")


def _start_daemons(paths: HypervisorPaths, st: HypervisorStatus, state: dict[str, object]) -> None:
    conf_changed = _ensure_qemu_runs_as_root()
    virtlogd = _pid_of(Path("/run/virtlogd.pid"), "virtlogd")
    if virtlogd is None:
        _run(["virtlogd", "-d"], "virtlogd -d")
        time.sleep(0.3)
        virtlogd = _pid_of(Path("/run/virtlogd.pid"), "virtlogd")
        state["virtlogd"] = virtlogd
        st.started.append("virtlogd")
    libvirtd = _pid_of(Path("/run/libvirtd.pid"), "libvirtd")
    if libvirtd is not None and conf_changed:
        # qemu.conf is read at start only.
        os.kill(libvirtd, signal.SIGTERM)
        _wait_gone(libvirtd)
        libvirtd = None
    if libvirtd is None:
        _run(["libvirtd", "-d"], "libvirtd -d")
        _wait_for_libvirtd()
        libvirtd = _pid_of(Path("/run/libvirtd.pid"), "libvirtd")
        state["libvirtd"] = libvirtd
        st.started.append("libvirtd")
    st.virtlogd, st.libvirtd = virtlogd, libvirtd


def _wait_gone(pid: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)


def _ensure_pool(paths: HypervisorPaths, st: HypervisorStatus) -> None:
    paths.pool.mkdir(parents=True, exist_ok=True)
    info = _virsh("pool-info", POOL, check=False)
    if info.returncode != 0:
        _virsh("pool-define-as", POOL, "dir", "--target", str(paths.pool))
        st.started.append(f"pool {POOL} defined at {paths.pool}")
        info = _virsh("pool-info", POOL, check=False)
    else:
        target = _virsh("pool-dumpxml", POOL).stdout
        if f"<path>{paths.pool}</path>" not in target:
            # libvirt keeps pool definitions machine-wide: another clone's lab (or CI's previous
            # clone) left its pool. Take it over only when no guest is running on this host.
            running = _virsh("list", "--name", check=False).stdout.split()
            if running:
                raise EnvironmentProblemError(
                    f"a libvirt pool named {POOL!r} exists but not at {paths.pool}, and guests are running "
                    f"({', '.join(running)})",
                    hint=f"stop the other lab, or: virsh pool-destroy {POOL}; virsh pool-undefine {POOL}",
                )
            _virsh("pool-destroy", POOL, check=False)
            _virsh("pool-undefine", POOL)
            _virsh("pool-define-as", POOL, "dir", "--target", str(paths.pool))
            st.started.append(f"pool {POOL} moved to {paths.pool}")
            info = _virsh("pool-info", POOL, check=False)
    if "running" not in info.stdout:
        _virsh("pool-start", POOL)
        st.started.append(f"pool {POOL} started")
    _virsh("pool-autostart", POOL, check=False)
    st.pool = str(paths.pool)


def _image_script(command: str, what: str) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/lab/hypervisor.sh <command>`` (cached builds); fail with its stderr."""
    script = repo_root() / "scripts" / "lab" / "hypervisor.sh"
    proc = subprocess.run(["bash", str(script), command], capture_output=True, text=True, check=False,
                          env={**os.environ, "SOP_CACHE": str(cache_root())}, timeout=900)
    if proc.returncode != 0:
        raise EnvironmentProblemError(f"building the {what} failed:\n{proc.stderr.strip()[-2000:]}",
                                      hint=f"check network access to the Debian mirror; rerun {command} --force")
    return proc


def _ensure_image(paths: HypervisorPaths, st: HypervisorStatus) -> None:
    t0 = time.monotonic()
    proc = _image_script("build-image", "golden image")
    if "built in" in proc.stderr:
        st.started.append("golden image built")
        st.timings["image"] = round(time.monotonic() - t0, 1)
    for p in (paths.golden, paths.kernel, paths.initrd):
        if not p.is_file():
            raise EnvironmentProblemError(f"golden image file {p} missing after the build",
                                          hint="scripts/lab/hypervisor.sh build-image --force")
    st.golden_image, st.kernel, st.initrd = str(paths.golden), str(paths.kernel), str(paths.initrd)


def _ensure_ssh_key(paths: HypervisorPaths, st: HypervisorStatus) -> None:
    if not paths.ssh_key.exists():
        private_dir(paths.ssh_key.parent)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "operator@sop-runner-lab",
              "-f", str(paths.ssh_key)], "ssh-keygen")
        st.started.append("operator SSH key made")
    st.ssh_key = str(paths.ssh_key)


def _bmc_cert(paths: HypervisorPaths) -> tuple[Path, Path]:
    crt, key = paths.bmc_dir / "bmc.crt", paths.bmc_dir / "bmc.key"
    if not crt.exists():
        private_dir(paths.bmc_dir)
        # openssl writes the unencrypted key with the umask's mode; sushy runs as us and reads it.
        with private_umask():
            _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj",
                  "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(crt)],
                 "openssl req")
    return crt, key


def _start_bmc(paths: HypervisorPaths, st: HypervisorStatus, state: dict[str, object]) -> None:
    pidfile = paths.bmc_dir / "sushy.pid"
    pid = _pid_of(pidfile, "sushy-emulator")
    port = state.get("bmc_port")
    crt, key = _bmc_cert(paths)
    if pid is None:
        exe = Path(sys.executable).parent / "sushy-emulator"
        if not exe.exists():
            raise EnvironmentProblemError("sushy-emulator is not installed in the project venv",
                                          hint=".venv/bin/pip install sushy-tools==2.2.0 libvirt-python==9.0.0")
        port = port if isinstance(port, int) and port_is_free(port) else free_port()
        conf = paths.bmc_dir / "emulator.conf"
        conf.write_text(f"SUSHY_EMULATOR_LIBVIRT_URI = {URI!r}\nSUSHY_EMULATOR_IGNORE_BOOT_DEVICE = False\n")
        log = (paths.bmc_dir / "sushy.log").open("ab")
        proc = subprocess.Popen(
            [str(exe), "--interface", "127.0.0.1", "--port", str(port), "--ssl-certificate", str(crt),
             "--ssl-key", str(key), "--libvirt-uri", URI, "--config", str(conf)],
            stdout=log, stderr=log, start_new_session=True)
        pidfile.write_text(str(proc.pid))
        pid = proc.pid
        state["bmc_port"] = port
        state["bmc"] = pid
        st.started.append(f"sushy-emulator on https://127.0.0.1:{port}")
        _wait_for_bmc(int(port), proc)
    st.bmc_pid, st.bmc_url, st.bmc_cert = pid, f"https://127.0.0.1:{port}", str(crt)


def _wait_for_bmc(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    import ssl
    import urllib.request

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EnvironmentProblemError(f"sushy-emulator exited with {proc.returncode}",
                                          hint="see .lab/libvirt/bmc/sushy.log")
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/redfish/v1/", context=ctx, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise EnvironmentProblemError(f"the Redfish emulator did not answer within {timeout:.0f} s",
                                  hint="see .lab/libvirt/bmc/sushy.log")


# The lab's "installer": the golden kernel's initrd with a busybox /sop-init appended, run
# with rdinit=/sop-init. Like debian-installer it reads url= from the kernel command line and
# fetches the answer file from there; it writes a marker and the answer file's digest to the
# disk (standing in for partitioning and package installation), runs the answer file's own
# call-back (the wget of preseed/late_command, autoinstall late-commands or kickstart %post)
# and powers off. Modules come from the golden initrd: virtio is not built into the kernel.
_INSTALLER_INIT = "scripts/lab/installer-init.sh"


def installer_initrd(paths: HypervisorPaths | None = None) -> Path:
    """Build (once per golden image) the installer initrd; return its path."""
    paths = paths or HypervisorPaths.default()
    out = paths.images / "sop-installer.initrd"
    busybox = Path("/bin/busybox")
    script = repo_root() / _INSTALLER_INIT
    if out.exists() and out.stat().st_mtime >= max(paths.initrd.stat().st_mtime, script.stat().st_mtime):
        return out
    if not busybox.exists():
        raise EnvironmentProblemError("/bin/busybox missing", hint="apt-get install busybox-static")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        (root / "bin").mkdir(parents=True)
        shutil.copy2(busybox, root / "bin" / "busybox-sop")
        init = root / "sop-init"
        init.write_text((repo_root() / _INSTALLER_INIT).read_text())
        init.chmod(0o755)
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=b"bin\nbin/busybox-sop\nsop-init\n",
                              cwd=root, capture_output=True, check=True).stdout
        tmp_out = out.with_suffix(".tmp")
        # A gzip member of its own after the golden initrd's; the kernel unpacks both.
        tmp_out.write_bytes(paths.initrd.read_bytes() + gzip.compress(cpio))
        tmp_out.replace(out)
    return out


def installed_image(paths: HypervisorPaths | None = None) -> Path:
    """Build (once per golden image) the disk image the lab installer writes; return its path.

    An MBR disk with syslinux and the golden system (``scripts/lab/hypervisor.sh build-bm-image``).
    """
    paths = paths or HypervisorPaths.default()
    _image_script("build-bm-image", "bare-metal image")
    if not paths.installed_image.is_file():
        raise EnvironmentProblemError(f"{paths.installed_image} missing after the build",
                                      hint="scripts/lab/hypervisor.sh build-bm-image --force")
    return paths.installed_image


def lab_domains() -> list[str]:
    """Names of the domains the lab's roles defined (running or not)."""
    proc = _virsh("list", "--all", "--name", check=False)
    names = [n.strip() for n in proc.stdout.splitlines() if n.strip()]
    mine = []
    for name in names:
        desc = _virsh("desc", name, check=False).stdout
        if LAB_MARK in desc:
            mine.append(name)
    return mine


def up(*, bmc: bool = False) -> HypervisorStatus:
    """Start what is missing; idempotent. Raises EnvironmentProblemError with a hint."""
    paths = HypervisorPaths.default()
    if os.geteuid() != 0:
        raise EnvironmentProblemError("the hypervisor lab needs root (libvirtd, qemu.conf)", hint="run as root")
    if shutil.which("libvirtd") is None or shutil.which("qemu-system-x86_64") is None:
        raise EnvironmentProblemError("libvirtd or qemu-system-x86_64 missing",
                                      hint="apt-get install $(grep -v '^#' scripts/packages/hypervisor.txt)")
    t0 = time.monotonic()
    st = HypervisorStatus()
    state = _load_state(paths)
    _start_daemons(paths, st, state)
    _ensure_pool(paths, st)
    _ensure_image(paths, st)
    _ensure_ssh_key(paths, st)
    if bmc:
        _start_bmc(paths, st, state)
    _save_state(paths, state)
    st.domains = lab_domains()
    st.timings["total"] = round(time.monotonic() - t0, 1)
    return st


def status() -> HypervisorStatus:
    """What runs, without starting anything."""
    paths = HypervisorPaths.default()
    state = _load_state(paths)
    st = HypervisorStatus()
    st.virtlogd = _pid_of(Path("/run/virtlogd.pid"), "virtlogd")
    st.libvirtd = _pid_of(Path("/run/libvirtd.pid"), "libvirtd")
    st.golden_image = str(paths.golden) if paths.golden.exists() else ""
    st.ssh_key = str(paths.ssh_key) if paths.ssh_key.exists() else ""
    st.bmc_pid = _pid_of(paths.bmc_dir / "sushy.pid", "sushy-emulator")
    if st.bmc_pid:
        st.bmc_url = f"https://127.0.0.1:{state.get('bmc_port')}"
        st.bmc_cert = str(paths.bmc_dir / "bmc.crt")
    if st.libvirtd:
        st.pool = str(paths.pool) if _virsh("pool-info", POOL, check=False).returncode == 0 else ""
        st.domains = lab_domains()
    return st


def stop_bmc() -> bool:
    """Stop the Redfish emulator this module started; True when one was stopped."""
    paths = HypervisorPaths.default()
    pid = _pid_of(paths.bmc_dir / "sushy.pid", "sushy-emulator")
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    _wait_gone(pid)
    (paths.bmc_dir / "sushy.pid").unlink(missing_ok=True)
    return True


def down() -> list[str]:
    """Stop the lab's domains, the BMC and the daemons this module started (by recorded pid)."""
    paths = HypervisorPaths.default()
    state = _load_state(paths)
    stopped: list[str] = []
    if stop_bmc():
        stopped.append("sushy-emulator")
    libvirtd = _pid_of(Path("/run/libvirtd.pid"), "libvirtd")
    if libvirtd:
        for name in lab_domains():
            _virsh("destroy", name, check=False)
            stopped.append(f"domain {name}")
    for name in ("libvirtd", "virtlogd"):
        pid = _pid_of(Path(f"/run/{name}.pid"), name)
        if pid is not None and pid == state.get(name):
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid)
            stopped.append(name)
            state.pop(name, None)
    _save_state(paths, state)
    return stopped


def main(argv: list[str] | None = None) -> int:
    """``python -m sop_runner.lab.hypervisor up [--bmc] | down | status``."""
    args = list(sys.argv[1:] if argv is None else argv)
    action = args[0] if args else "status"
    try:
        if action == "up":
            result: object = up(bmc="--bmc" in args).as_dict()
        elif action == "down":
            result = {"stopped": down()}
        elif action == "status":
            result = status().as_dict()
        else:
            print("usage: python -m sop_runner.lab.hypervisor up [--bmc] | down | status", file=sys.stderr)
            return 2
    except EnvironmentProblemError as exc:
        print(f"error: {exc}\n  fix: {exc.hint}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
