"""Load the seed data (inventory/seed/*.yml) into NetBox through its API, idempotently.

Each YAML file is a list of sections ``{endpoint: app.name, objects: [...]}``, applied in
file order. Objects name related objects by their natural key (slug, name, "device:iface",
an address) instead of ids; this module resolves them. An object found by its natural key
is patched where it differs and never created twice, so loading twice changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sop_runner.errors import InvalidInputError
from sop_runner.lab.paths import repo_root
from sop_runner.lab.seed_specs import SPECS, EndpointSpec, Ref

# Bumped when the loader's behaviour changes, so cached seeded dumps are rebuilt.
LOADER_VERSION = "1"


def seed_dir() -> Path:
    return repo_root() / "inventory" / "seed"


def seed_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or seed_dir()).glob("*.yml"))


def digest(directory: Path | None = None) -> str:
    """A short hash of the seed files and the loader version (keys the cached dump)."""
    sha = hashlib.sha256(LOADER_VERSION.encode())
    for path in seed_files(directory):
        sha.update(path.name.encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:12]


@dataclass(frozen=True)
class Section:
    endpoint: str
    objects: list[dict[str, Any]]


def read_sections(directory: Path | None = None) -> list[Section]:
    """Parse and validate every seed file, in order."""
    sections: list[Section] = []
    for path in seed_files(directory):
        doc = yaml.safe_load(path.read_text()) or []
        if not isinstance(doc, list):
            raise InvalidInputError(f"{path}: expected a list of sections")
        for index, raw in enumerate(doc):
            if not isinstance(raw, dict) or set(raw) != {"endpoint", "objects"}:
                raise InvalidInputError(f"{path} section {index}: needs exactly endpoint and objects")
            if raw["endpoint"] not in SPECS:
                raise InvalidInputError(
                    f"{path} section {index}: unknown endpoint {raw['endpoint']!r}",
                    hint=f"add it to sop_runner/lab/seed_specs.py (known: {', '.join(SPECS)})",
                )
            sections.append(Section(raw["endpoint"], list(raw["objects"])))
    return sections


@dataclass
class LoadReport:
    """What a load did, per endpoint."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    # Ids of the objects the seed names, per endpoint: equal ids across two loads prove that
    # the second load reused every object, even while others write to a shared lab.
    ids: dict[str, set[int]] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], endpoint: str, object_id: int) -> None:
        bucket[endpoint] = bucket.get(endpoint, 0) + 1
        self.ids.setdefault(endpoint, set()).add(object_id)

    @property
    def total_created(self) -> int:
        return sum(self.created.values())

    @property
    def total_updated(self) -> int:
        return sum(self.updated.values())


def _endpoint(api: Any, name: str) -> Any:
    app, endpoint = name.split(".")
    return getattr(getattr(api, app), endpoint)


class Loader:
    """Resolves references and applies sections against one pynetbox API."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self._ids: dict[tuple[str, str], int] = {}

    def resolve(self, ref: Ref, key: str) -> int:
        """The id of the object ``ref.endpoint`` whose natural key is ``key``."""
        cache_key = (ref.endpoint, key)
        if cache_key not in self._ids:
            spec = SPECS[ref.endpoint]
            filters = spec.natural_filter(key, self)
            found = list(_endpoint(self.api, ref.endpoint).filter(**filters))
            if len(found) != 1:
                raise InvalidInputError(
                    f"seed reference {ref.endpoint} {key!r} matched {len(found)} objects",
                    hint="define the referenced object earlier in inventory/seed/ (files load in name order)",
                )
            self._ids[cache_key] = int(found[0].id)
        return self._ids[cache_key]

    def desired(self, spec: EndpointSpec, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The API payload for ``obj``: references replaced by ids."""
        payload: dict[str, Any] = {}
        for key, value in obj.items():
            payload.update(spec.encode(key, value, self))
        return payload

    def apply(self, section: Section, report: LoadReport) -> None:
        spec = SPECS[section.endpoint]
        endpoint = _endpoint(self.api, section.endpoint)
        for obj in section.objects:
            payload = self.desired(spec, obj)
            lookup = spec.lookup_filter(payload)
            matches = list(endpoint.filter(**lookup))
            if len(matches) > 1:
                raise InvalidInputError(
                    f"seed {section.endpoint} {lookup} matches {len(matches)} objects",
                    hint="make the natural key in seed_specs.py unique",
                )
            if not matches:
                created = endpoint.create(payload)
                report.count(report.created, section.endpoint, int(created.id))
                continue
            current = matches[0]
            changes = _differences(current.serialize(), payload)
            if changes:
                endpoint.update([{"id": current.id, **changes}])
                report.count(report.updated, section.endpoint, int(current.id))
            else:
                report.count(report.unchanged, section.endpoint, int(current.id))


def _normalise(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_normalise(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _differences(current: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload keys whose value differs from what NetBox has (custom fields per key)."""
    changes: dict[str, Any] = {}
    for key, want in payload.items():
        have = current.get(key)
        if key == "custom_fields" and isinstance(want, dict):
            have_cf = have if isinstance(have, dict) else {}
            if any(_normalise(have_cf.get(k)) != _normalise(v) for k, v in want.items()):
                changes[key] = want
        elif key == "address" and isinstance(have, str):
            if have != want:
                changes[key] = want
        elif _normalise(have) != _normalise(want):
            changes[key] = want
    return changes


def load(api: Any, directory: Path | None = None) -> LoadReport:
    """Apply every seed section to the NetBox behind ``api``."""
    loader = Loader(api)
    report = LoadReport()
    for section in read_sections(directory):
        loader.apply(section, report)
    return report


def counts(api: Any, endpoints: Iterable[str] | None = None) -> dict[str, int]:
    """Object counts per seeded endpoint (for idempotence checks)."""
    names = endpoints or sorted({s.endpoint for s in read_sections()})
    return {name: int(_endpoint(api, name).count()) for name in names}
