#!/usr/bin/python
# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""Evaluate a virtualisation host's utilisation before and after a VPS change (SOP 20 step 2)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vps_capacity
short_description: Host capacity before and after creating or resizing a VPS; refuse overcommit
description:
  - Reads the host's physical CPUs and memory (C(virsh nodeinfo), memory floored to whole
    GiB so that small fluctuations do not change the plan; or O(host_cpus) / O(host_memory_mb)
    when given) and what every defined domain is allotted (persistent
    config, running or not), then computes the allocation after the change of O(name) to
    O(vcpus)/O(memory_mb).
  - Fails, with the numbers, when the allocation after the change exceeds the host's
    capacity times O(cpu_ratio) (vCPUs per physical CPU) or O(memory_ratio).
  - A read-only probe; the same in check mode, never changed.
options:
  uri: {description: 'libvirt connection URI of the host.', type: str, default: 'qemu:///system'}
  name: {description: 'The VPS (libvirt domain) being created or resized; its current allotment is replaced by the new one.', type: str, required: true}
  vcpus: {description: 'vCPUs of O(name) after the change.', type: int, required: true}
  memory_mb: {description: 'Memory of O(name) after the change, in MiB.', type: int, required: true}
  cpu_ratio: {description: 'Allowed vCPUs per physical CPU.', type: float, default: 4.0}
  memory_ratio: {description: 'Allowed allotted memory per physical memory.', type: float, default: 1.0}
  host_cpus: {description: 'Physical CPUs to assume instead of C(virsh nodeinfo); 0 reads the host.', type: int, default: 0}
  host_memory_mb: {description: 'Physical memory in MiB to assume instead of C(virsh nodeinfo); 0 reads the host.', type: int, default: 0}
author: sop-runner contributors
"""

RETURN = r"""
capacity: {description: host, limits, allocation before and after, type: dict, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.vps_libvirt import VirshError, allocations, node_capacity


def main():
    module = AnsibleModule(
        argument_spec={
            "uri": {"type": "str", "default": "qemu:///system"},
            "name": {"type": "str", "required": True},
            "vcpus": {"type": "int", "required": True},
            "memory_mb": {"type": "int", "required": True},
            "cpu_ratio": {"type": "float", "default": 4.0},
            "memory_ratio": {"type": "float", "default": 1.0},
            "host_cpus": {"type": "int", "default": 0},
            "host_memory_mb": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        cpus, mem = node_capacity(p["uri"])
        domains = allocations(p["uri"])
    except VirshError as exc:
        module.fail_json(msg=f"cannot read the host's utilisation on {p['uri']}: {exc}")
    cpus = p["host_cpus"] or cpus
    # Whole GiB: MemTotal moves by ~100 MB on some hosts (memory hot-plug, firmware reserve),
    # which would change the plan, and so its hash, between plan and apply for nothing.
    mem = p["host_memory_mb"] or (mem // 1024) * 1024
    limit_cpu = int(cpus * p["cpu_ratio"])
    limit_mem = int(mem * p["memory_ratio"])
    used_cpu = sum(d["vcpus"] for d in domains.values())
    used_mem = sum(d["memory_mb"] for d in domains.values())
    mine = domains.get(p["name"], {"vcpus": 0, "memory_mb": 0})
    # 0 keeps the VM's current value (a resize of only some dimensions).
    p["vcpus"] = p["vcpus"] or mine["vcpus"]
    p["memory_mb"] = p["memory_mb"] or mine["memory_mb"]
    after_cpu = used_cpu - mine["vcpus"] + p["vcpus"]
    after_mem = used_mem - mine["memory_mb"] + p["memory_mb"]
    capacity = {
        "host": {"cpus": cpus, "memory_mb": mem, "domains": len(domains)},
        "ratio": {"cpu": p["cpu_ratio"], "memory": p["memory_ratio"]},
        "limit": {"vcpus": limit_cpu, "memory_mb": limit_mem},
        "before": {"vcpus": used_cpu, "memory_mb": used_mem,
                   "cpu_pct": round(100.0 * used_cpu / limit_cpu, 1) if limit_cpu else None,
                   "memory_pct": round(100.0 * used_mem / limit_mem, 1) if limit_mem else None},
        "after": {"vcpus": after_cpu, "memory_mb": after_mem,
                  "cpu_pct": round(100.0 * after_cpu / limit_cpu, 1) if limit_cpu else None,
                  "memory_pct": round(100.0 * after_mem / limit_mem, 1) if limit_mem else None},
        "vps": {"name": p["name"], "before": mine, "after": {"vcpus": p["vcpus"], "memory_mb": p["memory_mb"]}},
    }
    problems = []
    if after_cpu > limit_cpu:
        problems.append(f"vCPUs {after_cpu} > {limit_cpu} ({cpus} CPUs x ratio {p['cpu_ratio']:g}; "
                        f"{used_cpu} allotted now, {p['name']} {mine['vcpus']} -> {p['vcpus']})")
    if after_mem > limit_mem:
        problems.append(f"memory {after_mem} MB > {limit_mem} MB ({mem} MB x ratio {p['memory_ratio']:g}; "
                        f"{used_mem} MB allotted now, {p['name']} {mine['memory_mb']} -> {p['memory_mb']} MB)")
    if problems:
        module.fail_json(msg="host would be overcommitted: " + "; ".join(problems), capacity=capacity)
    module.exit_json(changed=False, capacity=capacity)


if __name__ == "__main__":
    main()
