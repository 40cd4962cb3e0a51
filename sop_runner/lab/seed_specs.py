"""How each seeded NetBox endpoint is keyed and how its references are written in YAML.

Kept apart from the loader so adding an endpoint is one table entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class Resolver(Protocol):
    """What a spec needs from the loader: natural key -> id."""

    def resolve(self, ref: Ref, key: str) -> int: ...


@dataclass(frozen=True)
class Ref:
    """A field naming another object by its natural key (a list of them when ``many``)."""

    endpoint: str
    many: bool = False


def _split_pair(key: str) -> tuple[str, str]:
    parent, _, name = key.partition(":")
    if not name:
        msg = f"expected '<parent>:<name>', got {key!r}"
        raise ValueError(msg)
    return parent, name


def _by_slug(key: str, _: Resolver) -> dict[str, Any]:
    return {"slug": key}


def _by_name(key: str, _: Resolver) -> dict[str, Any]:
    return {"name": key}


def _by_host(key: str, _: Resolver) -> dict[str, Any]:
    # Without the mask NetBox matches the host, so a changed mask updates rather than duplicates.
    return {"address": key.split("/", maxsplit=1)[0]}


def _by_prefix(key: str, _: Resolver) -> dict[str, Any]:
    return {"prefix": key}


def _device_interface(key: str, resolver: Resolver) -> dict[str, Any]:
    device, name = _split_pair(key)
    return {"device_id": resolver.resolve(Ref("dcim.devices"), device), "name": name}


def _vm_interface(key: str, resolver: Resolver) -> dict[str, Any]:
    vm, name = _split_pair(key)
    return {
        "virtual_machine_id": resolver.resolve(Ref("virtualization.virtual_machines"), vm),
        "name": name,
    }


def _scope(object_type: str, endpoint: str) -> Callable[[Any, Resolver], dict[str, Any]]:
    def encode(value: Any, resolver: Resolver) -> dict[str, Any]:
        return {"scope_type": object_type, "scope_id": resolver.resolve(Ref(endpoint), str(value))}

    return encode


def _assigned(object_type: str, endpoint: str) -> Callable[[Any, Resolver], dict[str, Any]]:
    def encode(value: Any, resolver: Resolver) -> dict[str, Any]:
        return {
            "assigned_object_type": object_type,
            "assigned_object_id": resolver.resolve(Ref(endpoint), str(value)),
        }

    return encode


@dataclass(frozen=True)
class EndpointSpec:
    """Natural key, reference fields and YAML-only shorthand fields of one endpoint."""

    key: tuple[str, ...]
    natural: Callable[[str, Resolver], dict[str, Any]] = _by_slug
    # A name mapped to None is a plain field that shadows a common reference of the same name.
    refs: dict[str, Ref | None] = field(default_factory=dict)
    shorthands: dict[str, Callable[[Any, Resolver], dict[str, Any]]] = field(default_factory=dict)

    def natural_filter(self, key: str, resolver: Resolver) -> dict[str, Any]:
        return self.natural(key, resolver)

    def encode(self, name: str, value: Any, resolver: Resolver) -> dict[str, Any]:
        """One YAML field as API payload fields."""
        if name in self.shorthands:
            return self.shorthands[name](value, resolver)
        ref = self.refs[name] if name in self.refs else _COMMON_REFS.get(name)
        if ref is None or value is None:
            return {name: value}
        if ref.many:
            return {name: [resolver.resolve(ref, str(v)) for v in value]}
        return {name: resolver.resolve(ref, str(value))}

    def lookup_filter(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Query parameters that find the existing object for ``payload``."""
        filters: dict[str, Any] = {}
        for name in self.key:
            value = payload.get(name)
            if name == "address":
                filters["address"] = str(value).split("/")[0]
            elif self.refs.get(name) is not None or (name not in self.refs and name in _COMMON_REFS):
                filters[f"{name}_id"] = value if value is not None else "null"
            else:
                filters[name] = value
        return filters


_COMMON_REFS = {
    "tenant": Ref("tenancy.tenants"),
    "tags": Ref("extras.tags", many=True),
    "site": Ref("dcim.sites"),
    "location": Ref("dcim.locations"),
    "role": Ref("dcim.device_roles"),
    "platform": Ref("dcim.platforms"),
}

_SITE_SCOPE = {"scope_site": _scope("dcim.site", "dcim.sites")}
_IPAM_ROLE = {"role": Ref("ipam.roles")}

SPECS: dict[str, EndpointSpec] = {
    "extras.tags": EndpointSpec(key=("slug",)),
    "extras.custom_fields": EndpointSpec(key=("name",), natural=_by_name),
    "tenancy.tenant_groups": EndpointSpec(key=("slug",)),
    "tenancy.tenants": EndpointSpec(key=("slug",), refs={"group": Ref("tenancy.tenant_groups")}),
    "dcim.regions": EndpointSpec(key=("slug",), refs={"parent": Ref("dcim.regions")}),
    "dcim.sites": EndpointSpec(key=("slug",), refs={"region": Ref("dcim.regions")}),
    "dcim.locations": EndpointSpec(key=("slug",)),
    "dcim.manufacturers": EndpointSpec(key=("slug",)),
    "dcim.device_types": EndpointSpec(key=("slug",), refs={"manufacturer": Ref("dcim.manufacturers")}),
    "dcim.device_roles": EndpointSpec(key=("slug",)),
    "dcim.platforms": EndpointSpec(key=("slug",), refs={"manufacturer": Ref("dcim.manufacturers")}),
    "dcim.racks": EndpointSpec(key=("name",), natural=_by_name),
    "dcim.power_panels": EndpointSpec(key=("name",), natural=_by_name),
    "dcim.power_feeds": EndpointSpec(
        key=("power_panel", "name"),
        natural=_by_name,
        refs={"power_panel": Ref("dcim.power_panels"), "rack": Ref("dcim.racks")},
    ),
    "dcim.devices": EndpointSpec(
        key=("name",),
        natural=_by_name,
        refs={
            "device_type": Ref("dcim.device_types"),
            "rack": Ref("dcim.racks"),
            "cluster": Ref("virtualization.clusters"),
            "primary_ip4": Ref("ipam.ip_addresses"),
        },
    ),
    "dcim.interfaces": EndpointSpec(
        key=("device", "name"),
        natural=_device_interface,
        refs={"device": Ref("dcim.devices"), "untagged_vlan": Ref("ipam.vlans")},
    ),
    "ipam.rirs": EndpointSpec(key=("slug",)),
    "ipam.aggregates": EndpointSpec(key=("prefix",), natural=_by_prefix, refs={"rir": Ref("ipam.rirs")}),
    "ipam.roles": EndpointSpec(key=("slug",)),
    "ipam.vlan_groups": EndpointSpec(key=("slug",), shorthands=_SITE_SCOPE),
    "ipam.vlans": EndpointSpec(
        key=("group", "vid"),
        natural=_by_name,
        refs={"group": Ref("ipam.vlan_groups"), **_IPAM_ROLE},
    ),
    "ipam.prefixes": EndpointSpec(
        key=("prefix",),
        natural=_by_prefix,
        refs={"vlan": Ref("ipam.vlans"), **_IPAM_ROLE},
        shorthands=_SITE_SCOPE,
    ),
    "ipam.ip_addresses": EndpointSpec(
        key=("address",),
        natural=_by_host,
        refs={"nat_inside": Ref("ipam.ip_addresses"), "role": None},
        shorthands={
            "interface": _assigned("dcim.interface", "dcim.interfaces"),
            "vm_interface": _assigned("virtualization.vminterface", "virtualization.interfaces"),
        },
    ),
    "virtualization.cluster_types": EndpointSpec(key=("slug",)),
    "virtualization.clusters": EndpointSpec(
        key=("name",),
        natural=_by_name,
        refs={"type": Ref("virtualization.cluster_types")},
        shorthands=_SITE_SCOPE,
    ),
    "virtualization.virtual_machines": EndpointSpec(
        key=("name",),
        natural=_by_name,
        refs={
            "cluster": Ref("virtualization.clusters"),
            "primary_ip4": Ref("ipam.ip_addresses"),
        },
    ),
    "virtualization.interfaces": EndpointSpec(
        key=("virtual_machine", "name"),
        natural=_vm_interface,
        refs={"virtual_machine": Ref("virtualization.virtual_machines")},
    ),
}
