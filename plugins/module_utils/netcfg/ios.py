"""Cisco IOS / IOS-XE. Parsing and diff rules only: not tested against a device (the lab has
none); the netmiko ``cisco_ios`` driver is the same one the FRR lab exercises."""

from __future__ import annotations

from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.base import Platform


class IosPlatform(Platform):
    name = "ios"
    netmiko_device_type = "cisco_ios"
    ignore_patterns = (
        *Platform.ignore_patterns,
        r"^version \S+$",
        r"^ntp clock-period \d+$",
        r"^! (Last|NVRAM) config.*$",
        r"^Current configuration : \d+ bytes$",
    )
    # IOS leaves blocks by indentation; "exit-address-family" is printed inside router bgp.
    block_end = ("exit-address-family", "end")
    error_patterns = (r"^% ?(Invalid input|Incomplete command|Ambiguous command|Unknown|Bad mask)",)
