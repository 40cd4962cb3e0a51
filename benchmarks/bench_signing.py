"""Per-signature cost of checking and making SSH signatures: ssh-keygen vs in-process.

The runner checks the signature of every event of a run before every command, so the cost
per signature decides whether that is affordable. Measured in the same run on this machine:

- ``ssh-keygen -Y verify`` (one process per signature, ``sshsig.verify``);
- native verification (``sshsig_native.verify``) for ed25519, ECDSA P-256 and RSA-3072;
- ``ssh-keygen -Y sign`` vs native ed25519 signing (the runner's own key);
- what checking a run of ``SOP_BENCH_EVENTS`` events (default 200) costs either way.

Prints figures and ratios only; nothing is asserted (a shared 2-core machine varies too much).

    .venv/bin/python benchmarks/bench_signing.py [rounds]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sop_runner.adapters.signing import sshsig, sshsig_native
from sop_runner.core.signing import NAMESPACE

PAYLOAD = b"sop-runner signed action v1\nrun: R-2026-0001\nsop: wonosobo-57\nstep: 4\naction: approve\n"
KEYS = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa-p256": ["-t", "ecdsa", "-b", "256"],
    "rsa-3072": ["-t", "rsa", "-b", "3072"],
}


def _per_call(fn: Callable[[], object], rounds: int) -> float:
    """Seconds per call: the best of three batches, so a neighbour's burst does not count."""
    fn()  # warm caches (key parsing, imports)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(rounds):
            fn()
        best = min(best, (time.perf_counter() - t0) / rounds)
    return best


def _ok(reason: str | None) -> None:
    if reason is not None:
        raise SystemExit(f"a signature did not verify: {reason}")


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 30
    events = int(os.environ.get("SOP_BENCH_EVENTS", "200"))
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="sop-bench-sign-") as tmp:
        root = Path(tmp)
        for name, args in KEYS.items():
            key = root / name
            subprocess.run(["ssh-keygen", "-q", *args, "-N", "", "-C", name, "-f", str(key)], check=True)
            public = Path(f"{key}.pub").read_text(encoding="ascii").strip()
            signers = root / f"{name}.signers"
            signers.write_text(f'bench namespaces="{NAMESPACE}" {public}\n', encoding="ascii")
            armored = sshsig.sign(PAYLOAD, key)
            _ok(sshsig.verify(PAYLOAD, armored, "bench", signers))
            _ok(sshsig_native.verify(PAYLOAD, armored, public, NAMESPACE))
            slow = _per_call(lambda a=armored, s=signers: _ok(sshsig.verify(PAYLOAD, a, "bench", s)), rounds)
            fast = _per_call(lambda a=armored, p=public: _ok(sshsig_native.verify(PAYLOAD, a, p, NAMESPACE)),
                             rounds * 100)
            rows.append((f"verify {name}", slow, fast))
        key = root / "ed25519"
        slow = _per_call(lambda: sshsig.sign(PAYLOAD, key), rounds)
        fast = _per_call(lambda: sshsig_native.sign(PAYLOAD, key, NAMESPACE), rounds * 100)
        rows.append(("sign ed25519", slow, fast))
    width = max(len(r[0]) for r in rows)
    print(f"SSH signature benchmark on {os.cpu_count()} cores ({rounds} ssh-keygen calls per batch, best of 3)")
    print(f"  {'':<{width}}  {'ssh-keygen':>12}  {'native':>10}  {'ratio':>7}")
    for label, slow, fast in rows:
        print(f"  {label:<{width}}  {slow * 1e3:9.2f} ms  {fast * 1e6:7.1f} us  {slow / fast:6.0f}x")
    slow_v, fast_v = rows[0][1], rows[0][2]
    print(f"  checking a run of {events} ed25519-signed events: ssh-keygen {slow_v * events:.2f} s, "
          f"native {fast_v * events * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
