"""The runner's configuration: where state lives, the catalogue, the organisation, the people.

Read from the YAML file named by ``--config`` or ``SOP_CONFIG`` (default ``sop.yml`` in the
working directory, else built-in defaults). Paths are relative to the file's folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sop_runner.core.people import User
from sop_runner.errors import InvalidInputError, NotFoundError
from sop_runner.secretfiles import private_dir


def repo_root() -> Path:
    """The project checkout that holds playbooks/, roles/ and sops/ (found from this package)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent, *here.parents):
        if (candidate / "ansible.cfg").is_file() and (candidate / "playbooks").is_dir():
            return candidate
    return Path.cwd()


@dataclass(slots=True)
class Organisation:
    """Who issues the paperwork."""

    name: str = "Dinas Komunikasi dan Informatika Kabupaten Wonosobo"
    parent: str = "Pemerintah Kabupaten Wonosobo"
    address: str = "Jl. Sabuk Alu No. 2, Wonosobo"
    city: str = "Wonosobo"
    # The site's zone (IANA name): every time on a document is printed in it, never in UTC.
    # Asia/Jakarta is WIB, Asia/Makassar WITA (Tanah Bumbu, Kalimantan Timur), Asia/Jayapura WIT.
    timezone: str = "Asia/Jakarta"
    # The unit code in a letter number: <klasifikasi>/<urut>/<unit>/<tahun>.
    unit: str = "Diskominfo"
    # Classification code (Klasifikasi Arsip of the regency) per document kind; "default"
    # serves the kinds not listed. Set them from the regency's own classification scheme.
    classification: dict[str, str] = field(default_factory=lambda: {"default": "000.5.4"})
    # SKPD slug -> full name, for letters ("dinkes" -> "Dinas Kesehatan").
    tenants: dict[str, str] = field(default_factory=dict)

    def classification_for(self, kind: str) -> str:
        """The classification code that numbers documents of ``kind``."""
        return self.classification.get(kind) or self.classification.get("default") or "000"


@dataclass(slots=True)
class RunnerConfig:
    """Everything the service layer needs to know about its surroundings."""

    home: Path
    database: str
    catalogue: Path
    repo: Path
    users: dict[str, User] = field(default_factory=dict)
    organisation: Organisation = field(default_factory=Organisation)
    secret_env: list[str] = field(default_factory=lambda: ["NETBOX_TOKEN"])
    inventory: str | None = None
    source: str = "(defaults)"
    # Outside the database on purpose: a database writer cannot rewrite the signed checkpoints
    # or sign as the runner. Point both at another path (or disk) in production.
    audit_dir: Path = Path("var/audit")
    runner_key: Path = Path("var/keys/runner_ed25519")
    # PAdES signing of every document PDF (docs/paperwork.md): PEM key, its certificate and
    # the CA chain to embed. Unset: PDFs are vouched for by their digest in the audit log only.
    pdf_signing: dict[str, Any] = field(default_factory=dict)

    def user(self, username: str) -> User:
        """The configured user, or NotFoundError naming who exists."""
        if username not in self.users:
            raise NotFoundError(
                f"no user {username!r} in {self.source}",
                hint=f"known users: {', '.join(sorted(self.users)) or 'none'}; add them under 'users:'",
            )
        return self.users[username]

    def secrets(self) -> list[str]:
        """The secret values known now (to be scrubbed from everything stored)."""
        return [os.environ[name] for name in self.secret_env if os.environ.get(name)]


def _users(items: list[dict[str, Any]], base: Path, source: str) -> dict[str, User]:
    users: dict[str, User] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "username" not in item:
            raise InvalidInputError(f"{source}: users[{i}]: needs at least 'username', 'name' and 'roles'")
        pub = str(item.get("public_key", ""))
        pub_file = item.get("public_key_file")
        if not pub and pub_file:
            path = (base / str(pub_file)).resolve()
            if not path.is_file():
                raise InvalidInputError(
                    f"{source}: users[{i}].public_key_file: {path} does not exist",
                    hint="point it at the user's .pub file",
                )
            pub = path.read_text(encoding="ascii").strip()
        key_file = str(item.get("private_key_file", ""))
        users[str(item["username"])] = User(
            username=str(item["username"]),
            name=str(item.get("name", item["username"])),
            nip=str(item.get("nip", "")),
            jabatan=str(item.get("jabatan", "")),
            roles=frozenset(str(r) for r in item.get("roles", [])),
            public_key=pub,
            private_key_file=str((base / key_file).resolve()) if key_file else "",
            tenant=str(item.get("tenant", "")),
            pangkat=str(item.get("pangkat", "")),
        )
    return users


def _organisation(data: Any, source: str) -> Organisation:
    """The ``organisation:`` section, each key checked and named when wrong."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(data, dict):
        raise InvalidInputError(f"{source}: organisation: must be a mapping")
    known = set(Organisation.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInputError(
            f"{source}: organisation: unknown key(s) {', '.join(unknown)}", hint=f"known: {', '.join(sorted(known))}"
        )
    for key in ("classification", "tenants"):
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
            raise InvalidInputError(
                f"{source}: organisation.{key}: must map names to non-empty strings",
                hint="e.g. classification: {default: '000.5.4', surat: '000.5.4'}",
            )
    org = Organisation(**{k: v for k, v in data.items() if k != "classification"})
    if "classification" in data:
        org.classification = {"default": "000.5.4", **{str(k): str(v) for k, v in data["classification"].items()}}
    try:
        ZoneInfo(org.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(
            f"{source}: organisation.timezone: {org.timezone!r} is not a time zone",
            hint="use an IANA name: Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT)",
        ) from exc
    bad_codes = [k for k, v in org.classification.items() if not re.fullmatch(r"\d{3}(?:\.\d+)*", v)]
    if bad_codes:
        raise InvalidInputError(
            f"{source}: organisation.classification.{bad_codes[0]}: {org.classification[bad_codes[0]]!r} "
            "is not a classification code",
            hint="use the dotted digits of the regency's Klasifikasi Arsip, e.g. '000.5.4'",
        )
    if not re.fullmatch(r"[A-Za-z0-9.\-]+", org.unit):
        raise InvalidInputError(f"{source}: organisation.unit: {org.unit!r} must be a code without '/'",
                                hint="e.g. unit: Diskominfo")
    return org


def _pdf_signing(data: Any, base: Path, source: str) -> dict[str, Any]:
    """``pdf_signing: {key: PEM, cert: PEM, chain: [PEM, ...]}`` with paths resolved and checked."""
    if not data:
        return {}
    if not isinstance(data, dict) or not {"key", "cert"} <= set(data):
        raise InvalidInputError(f"{source}: pdf_signing: needs 'key' and 'cert' (and optionally 'chain')",
                                hint="pdf_signing: {key: keys/doc.key, cert: keys/doc.crt, chain: [keys/ca.crt]}")
    out: dict[str, Any] = {"key": (base / str(data["key"])).resolve(), "cert": (base / str(data["cert"])).resolve(),
                           "chain": [(base / str(c)).resolve() for c in data.get("chain") or []]}
    for name, path in [("key", out["key"]), ("cert", out["cert"]), *(("chain", c) for c in out["chain"])]:
        if not path.is_file():
            raise InvalidInputError(
                f"{source}: pdf_signing.{name}: {path} does not exist", hint="point it at a PEM file"
            )
    return out


def _load_env_file(path: Path) -> None:
    """KEY=VALUE lines into the environment (values already set win): how the lab's NetBox
    URL and token reach playbooks without ever being written into a run's artifacts."""
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip().removeprefix("export ").strip(), value.strip().strip("'\""))


def load_config(path: str | None = None) -> RunnerConfig:
    """Load the configuration (see module docstring)."""
    chosen = path or os.environ.get("SOP_CONFIG") or ("sop.yml" if Path("sop.yml").is_file() else None)
    data: dict[str, Any] = {}
    base = Path.cwd()
    source = "(defaults)"
    if chosen:
        file = Path(chosen).resolve()
        if not file.is_file():
            raise NotFoundError(f"configuration file {file} not found", hint="pass --config PATH or set SOP_CONFIG")
        loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise InvalidInputError(f"{file}: must be a mapping")
        data, base, source = loaded, file.parent, str(file)
    for env_file in data.get("env_files", []):
        _load_env_file(base / str(env_file))
    repo = repo_root()
    home = (base / str(data.get("home", os.environ.get("SOP_HOME", "var")))).resolve()
    database = str(data.get("database") or os.environ.get("SOP_DATABASE") or f"sqlite:///{home / 'sop.db'}")
    catalogue = (base / str(data["catalogue"])).resolve() if "catalogue" in data else repo / "sops"
    org = _organisation(data.get("organisation") or {}, source)
    cfg = RunnerConfig(
        home=home,
        database=database,
        catalogue=catalogue,
        repo=repo,
        users=_users(list(data.get("users", [])), base, source),
        organisation=org,
        secret_env=list(data.get("secret_env", ["NETBOX_TOKEN"])),
        inventory=str(data["inventory"]) if data.get("inventory") else None,
        source=source,
        audit_dir=(base / str(data["audit_dir"])).resolve() if data.get("audit_dir") else home / "audit",
        runner_key=(base / str(data["runner_key"])).resolve()
        if data.get("runner_key")
        else home / "keys" / "runner_ed25519",
        pdf_signing=_pdf_signing(data.get("pdf_signing"), base, source),
    )
    # The database, artifacts and the runner's key live here: a home made before this rule
    # (0755 by default) is narrowed too, not only a new one.
    private_dir(home)
    return cfg
