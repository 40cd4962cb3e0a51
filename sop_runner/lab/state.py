"""What the lab tells its clients: .lab/lab.json, .lab/netbox.env and the status record."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sop_runner.errors import EnvironmentProblemError
from sop_runner.lab.paths import LabPaths
from sop_runner.lab.ports import HOST
from sop_runner.secretfiles import write_private


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one lab instance."""

    postgres: int
    redis: int
    netbox: int


@dataclass
class ComponentStatus:
    """One service of the lab."""

    name: str
    running: bool
    pid: int | None = None
    port: int | None = None
    detail: str = ""


@dataclass
class LabStatus:
    """The lab as ``up``/``status`` found or left it."""

    lab_dir: str
    components: list[ComponentStatus]
    netbox_url: str = ""
    netbox_token: str = ""
    netbox_version: str = ""
    already_running: bool = False
    started: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return bool(self.components) and all(c.running for c in self.components)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["running"] = self.running
        return data


def netbox_url(ports: Ports) -> str:
    return f"http://{HOST}:{ports.netbox}"


def save_ports(paths: LabPaths, ports: Ports) -> None:
    paths.ports_file.write_text(json.dumps(asdict(ports)))


def load_ports(paths: LabPaths) -> Ports | None:
    try:
        return Ports(**json.loads(paths.ports_file.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_client_files(paths: LabPaths, ports: Ports, token: str) -> None:
    """Everything a client (tests, Ansible inventory, other engineers' code) needs."""
    url = netbox_url(ports)
    # NETBOX_API is the variable netbox.netbox.nb_inventory reads for its endpoint.
    write_private(paths.netbox_env, f"NETBOX_URL={url}\nNETBOX_API={url}\nNETBOX_TOKEN={token}\n")
    info = {
        "netbox": {"url": url, "token": token},
        "postgres": {"host": HOST, "port": ports.postgres, "superuser": "postgres"},
        "redis": {"host": HOST, "port": ports.redis},
    }
    write_private(paths.lab_json, json.dumps(info, indent=2) + "\n")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and comments ignored."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return values
    for raw in lines:
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values


def netbox_credentials(paths: LabPaths | None = None) -> tuple[str, str]:
    """(url, token): NETBOX_URL/NETBOX_TOKEN from the environment, else .lab/netbox.env."""
    url = os.environ.get("NETBOX_URL", "")
    token = os.environ.get("NETBOX_TOKEN", "")
    if url and token:
        return url.rstrip("/"), token
    paths = paths or LabPaths.default()
    values = read_env_file(paths.netbox_env)
    url = url or values.get("NETBOX_URL", "")
    token = token or values.get("NETBOX_TOKEN", "")
    if not (url and token):
        raise EnvironmentProblemError(
            f"no NetBox credentials: NETBOX_URL/NETBOX_TOKEN are unset and {paths.netbox_env} is missing",
            hint="run `sop lab up`, or export NETBOX_URL and NETBOX_TOKEN",
        )
    return url.rstrip("/"), token
