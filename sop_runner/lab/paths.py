"""Where the lab keeps its state (per clone) and its slow artefacts (per machine)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

NETBOX_VERSION = "4.7.3"


def repo_root() -> Path:
    """The clone this package runs from (``SOP_ROOT`` wins, as in scripts/lib/common.sh)."""
    env = os.environ.get("SOP_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def cache_root() -> Path:
    """Machine-wide cache shared by every clone, mirroring ``SOP_CACHE`` in common.sh."""
    env = os.environ.get("SOP_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "sop-runner"


@dataclass(frozen=True)
class LabPaths:
    """Every file and directory of one lab instance."""

    root: Path
    cache: Path

    @classmethod
    def default(cls) -> LabPaths:
        """The clone's ``.lab/``; ``SOP_LAB_DIR`` points elsewhere (tests run throw-away labs)."""
        env = os.environ.get("SOP_LAB_DIR")
        root = Path(env).resolve() if env else repo_root() / ".lab"
        return cls(root=root, cache=cache_root() / f"netbox-{NETBOX_VERSION}")

    @property
    def pg_data(self) -> Path:
        return self.root / "pg"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    @property
    def netbox_root(self) -> Path:
        return self.root / "netbox"

    @property
    def netbox_config(self) -> Path:
        return self.netbox_root / "conf" / "configuration.py"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def redis_pid(self) -> Path:
        return self.run / "redis.pid"

    @property
    def netbox_pid(self) -> Path:
        return self.run / "netbox.pid"

    @property
    def ports_file(self) -> Path:
        return self.run / "ports.json"

    @property
    def lab_json(self) -> Path:
        return self.root / "lab.json"

    @property
    def netbox_env(self) -> Path:
        return self.root / "netbox.env"

    @property
    def netbox_venv(self) -> Path:
        return self.cache / "venv"

    @property
    def secrets_file(self) -> Path:
        return self.cache / "secrets.json"

    @property
    def template_dump(self) -> Path:
        return self.cache / "template.dump"

    def seeded_dump(self, seed_digest: str) -> Path:
        """The seeded template's dump is keyed by the seed data, so editing YAML rebuilds it."""
        return self.cache / f"seeded-{seed_digest}.dump"

    def make_dirs(self) -> None:
        """Create the directories the lab writes to (the PG data dir belongs to initdb)."""
        for path in (self.root, self.redis_dir, self.netbox_root / "conf", self.logs, self.run):
            path.mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
