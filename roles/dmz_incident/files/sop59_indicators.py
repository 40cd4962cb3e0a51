#!/usr/bin/python3
"""SOP 59 indicators of compromise on a Debian host, as one JSON document on stdout.

Read-only: listening sockets (with the owning systemd unit), accounts with UID in the people
range, authorized_keys entries, package files that fail dpkg's checksums, failed SSH logins.
One probe instead of a dozen tasks: each Ansible task costs about a second per host.
Argument: base64 of a JSON object with allowed_tcp, allowed_udp, allowed_users, allowed_keys,
days, uid_min, uid_max.
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys

ARGS = json.loads(base64.b64decode(sys.argv[1]))
LOOPBACK = re.compile(r"^(127\.|\[::1\]$|::1$|\[::ffff:127\.)")


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


def unit_of(pid):
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as fh:
            for line in fh:
                m = re.search(r"/([^/]+\.(?:service|scope))$", line.strip())
                if m:
                    return m.group(1)
    except OSError:
        pass
    return ""


def listeners():
    out = []
    seen = set()
    for line in run(["ss", "-Hlntup"]).splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        proto, local = f[0], f[4]
        addr, _, port = local.rpartition(":")
        if not port.isdigit():
            continue
        addr = re.sub(r"%\S+$", "", addr)
        m = re.search(r'\(\("([^"]+)",pid=(\d+)', line)
        process, pid = (m.group(1), int(m.group(2))) if m else ("", 0)
        key = (proto, addr, int(port))
        if key in seen:
            continue
        seen.add(key)
        allowed = ARGS["allowed_tcp"] if proto == "tcp" else ARGS["allowed_udp"]
        out.append({
            "proto": proto, "address": addr, "port": int(port), "process": process, "pid": pid,
            "unit": unit_of(pid) if pid else "", "loopback": bool(LOOPBACK.match(addr)),
            "allowed": int(port) in allowed,
        })
    return sorted(out, key=lambda x: (x["proto"], x["port"], x["address"]))


def shadow_locked():
    locked = {}
    try:
        with open("/etc/shadow", encoding="utf-8") as fh:
            for line in fh:
                f = line.rstrip("\n").split(":")
                if len(f) > 7:
                    expired = f[7].isdigit() and int(f[7]) <= 1
                    locked[f[0]] = f[1].startswith("!") or expired
    except OSError:
        pass
    return locked


def accounts():
    locked = shadow_locked()
    users = []
    homes = []
    with open("/etc/passwd", encoding="utf-8") as fh:
        for line in fh:
            f = line.rstrip("\n").split(":")
            if len(f) < 7:
                continue
            name, uid, home, shell = f[0], int(f[2]), f[5], f[6]
            homes.append((name, home))
            if ARGS["uid_min"] <= uid <= ARGS["uid_max"]:
                users.append({
                    "name": name, "uid": uid, "shell": shell, "locked": locked.get(name, False),
                    "nologin": shell.endswith(("nologin", "false")),
                    "allowed": name in ARGS["allowed_users"],
                })
    return users, homes


def key_blob(line):
    m = re.search(r"((?:sk-)?(?:ssh|ecdsa)-[\w.@-]+)\s+([A-Za-z0-9+/=]{20,})", line)
    return (m.group(1), m.group(2)) if m else None


def keys(homes):
    allowed = {key_blob(k)[1] for k in ARGS["allowed_keys"] if key_blob(k)}
    out = []
    for name, home in homes:
        path = os.path.join(home, ".ssh", "authorized_keys")
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except OSError:
            continue
        for line in lines:
            parsed = key_blob(line)
            if not parsed or line.lstrip().startswith("#"):
                continue
            ktype, blob = parsed
            out.append({
                "user": name, "path": path, "type": ktype, "key": f"{ktype} {blob}",
                "id": hashlib.sha256(blob.encode()).hexdigest()[:16],
                "comment": line.split(blob, 1)[1].strip(), "allowed": blob in allowed,
            })
    return out


def modified_files():
    out = []
    for line in run(["dpkg", "--verify"]).splitlines():
        m = re.match(r"^(\S+)\s+(c?)\s*(/.*)$", line)
        if not m:
            continue
        flags, conf, path = m.groups()
        # Only content that differs from the package (md5 check failed, flag "5") is an
        # indicator; files deleted on purpose (docs, locales trimmed from images) are not.
        if len(flags) < 3 or flags[2] != "5":
            continue
        out.append({"path": path, "flags": flags, "conffile": conf == "c", "package": ""})
    paths = [x["path"] for x in out]
    if paths:
        owners = {}
        for line in run(["dpkg", "-S", *paths]).splitlines():
            pkgs, _, path = line.partition(": ")
            owners[path] = pkgs.split(",")[0].split(":")[0].strip()
        for x in out:
            x["package"] = owners.get(x["path"], "")
    return out


def failed_logins():
    text = run(["journalctl", "-q", "--no-pager", "-o", "cat", f"--since=-{ARGS['days']}d",
                "-t", "sshd", "-t", "sshd-session"])
    if os.path.exists("/var/log/auth.log"):
        with open("/var/log/auth.log", encoding="utf-8", errors="replace") as fh:
            text += fh.read()
    counts = {}
    for m in re.finditer(r"(?:Failed \S+|Invalid user|authentication failure).*? from (\S+)", text):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


users, homes = accounts()
print(json.dumps({
    "listeners": listeners(),
    "users": users,
    "authorized_keys": keys(homes),
    "modified_files": modified_files(),
    "failed_logins": failed_logins(),
}, sort_keys=True))
