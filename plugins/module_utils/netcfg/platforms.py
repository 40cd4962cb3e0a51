"""The dispatcher: platform name -> class (netmiko's pattern)."""

from __future__ import annotations

from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.frr import FrrPlatform
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.ios import IosPlatform
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.routeros import RouterOsPlatform

PLATFORMS = {cls.name: cls for cls in (FrrPlatform, IosPlatform, RouterOsPlatform)}
TESTED = ("frr",)


def get_platform(name):
    try:
        return PLATFORMS[name]()
    except KeyError:
        raise ValueError(f"unknown platform {name!r}; known: {', '.join(sorted(PLATFORMS))}") from None
