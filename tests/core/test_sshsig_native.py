"""Native SSHSIG checking and signing against the real ``ssh-keygen -Y`` (OpenSSH)."""

from __future__ import annotations

import base64
import hashlib
import stat
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sop_runner.adapters.signing import sshsig_native

NS = "sop-runner"
PAYLOAD = b"sop-runner signed action v1\nrun: R-1\nstep: 4\naction: approve\n"

# (ssh-keygen -t, -b) for every key type checked natively.
KEY_TYPES = {
    "ed25519": ("ed25519", None),
    "ecdsa-p256": ("ecdsa", "256"),
    "ecdsa-p384": ("ecdsa", "384"),
    "ecdsa-p521": ("ecdsa", "521"),
    "rsa": ("rsa", "2048"),
}


def _keygen(path: Path, kind: str, bits: str | None = None) -> Path:
    cmd = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", path.name, "-f", str(path)]
    if bits:
        cmd += ["-b", bits]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def _ssh_sign(key: Path, payload: bytes, namespace: str = NS, *options: str) -> str:
    """A signature made by ssh-keygen itself (payload on stdin, signature on stdout)."""
    extra = [a for o in options for a in ("-O", o)]
    proc = subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", str(key), "-n", namespace, *extra],
                          input=payload, capture_output=True, check=True)
    return proc.stdout.decode("ascii")


def _ssh_verify(tmp: Path, public_line: str, payload: bytes, armored: str) -> subprocess.CompletedProcess[bytes]:
    signers = tmp / "allowed_signers"
    signers.write_text(f'someone namespaces="{NS}" {public_line}\n', encoding="ascii")
    sig = tmp / "sig"
    sig.write_text(armored, encoding="ascii")
    return subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", "someone", "-n", NS, "-s", str(sig)],
                          input=payload, capture_output=True, check=False)


def _pub(key: Path) -> str:
    return Path(f"{key}.pub").read_text(encoding="ascii").strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("keys")
    made = {name: _keygen(root / name, kind, bits) for name, (kind, bits) in KEY_TYPES.items()}
    made["other"] = _keygen(root / "other", "ed25519")
    return made


@pytest.mark.parametrize("name", sorted(KEY_TYPES))
def test_ssh_keygen_signatures_verify_natively(keys: dict[str, Path], name: str) -> None:
    armored = _ssh_sign(keys[name], PAYLOAD)
    assert sshsig_native.verify(PAYLOAD, armored, _pub(keys[name]), NS) is None


@pytest.mark.parametrize("name", ["ed25519", "ecdsa-p256", "rsa"])
def test_sha256_message_hash_verifies(keys: dict[str, Path], name: str) -> None:
    armored = _ssh_sign(keys[name], PAYLOAD, NS, "hashalg=sha256")
    assert sshsig_native.verify(PAYLOAD, armored, _pub(keys[name]), NS) is None


def test_native_ed25519_signature_is_byte_identical_to_ssh_keygen(keys: dict[str, Path], tmp_path: Path) -> None:
    native = sshsig_native.sign(PAYLOAD, keys["ed25519"], NS)
    assert native == _ssh_sign(keys["ed25519"], PAYLOAD)  # ed25519 is deterministic
    proc = _ssh_verify(tmp_path, _pub(keys["ed25519"]), PAYLOAD, native)
    assert proc.returncode == 0, proc.stderr
    assert all(len(line) <= 70 for line in native.splitlines())


@pytest.mark.parametrize("name", ["ecdsa-p256", "rsa"])
def test_other_key_types_sign_through_ssh_keygen(keys: dict[str, Path], name: str, tmp_path: Path) -> None:
    armored = sshsig_native.sign(PAYLOAD, keys[name], NS)
    assert _ssh_verify(tmp_path, _pub(keys[name]), PAYLOAD, armored).returncode == 0
    assert sshsig_native.verify(PAYLOAD, armored, _pub(keys[name]), NS) is None


@pytest.mark.parametrize("name", sorted(KEY_TYPES))
def test_changed_payload_fails(keys: dict[str, Path], name: str) -> None:
    armored = _ssh_sign(keys[name], PAYLOAD)
    reason = sshsig_native.verify(PAYLOAD.replace(b"approve", b"reject!"), armored, _pub(keys[name]), NS)
    assert reason is not None
    assert "does not match" in reason


def test_another_namespace_fails(keys: dict[str, Path]) -> None:
    armored = _ssh_sign(keys["ed25519"], PAYLOAD, "git")
    reason = sshsig_native.verify(PAYLOAD, armored, _pub(keys["ed25519"]), NS)
    assert reason is not None
    assert "namespace 'git'" in reason


def test_another_principals_key_fails(keys: dict[str, Path]) -> None:
    armored = _ssh_sign(keys["other"], PAYLOAD)
    reason = sshsig_native.verify(PAYLOAD, armored, _pub(keys["ed25519"]), NS)
    assert reason is not None
    assert "another key" in reason


def test_embedded_key_swapped_for_the_signers_fails(keys: dict[str, Path]) -> None:
    """Someone else's signature relabelled with the signer's public key does not verify."""
    blob = _blob(_ssh_sign(keys["other"], PAYLOAD))
    own = base64.b64decode(_pub(keys["ed25519"]).split()[1])
    forged = _rebuild(blob, public_key=own)
    reason = sshsig_native.verify(PAYLOAD, sshsig_native.armor(forged), _pub(keys["ed25519"]), NS)
    assert reason is not None
    assert "does not match" in reason


def test_sha1_rsa_signature_is_refused_even_when_valid(keys: dict[str, Path]) -> None:
    """OpenSSH refuses ssh-rsa (SHA-1) inside SSHSIG; so do we, although the maths checks out."""
    private = serialization.load_ssh_private_key(keys["rsa"].read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    fields = _fields(_blob(_ssh_sign(keys["rsa"], PAYLOAD)))
    data = b"SSHSIG" + b"".join(_string(f) for f in (fields[1], fields[2], fields[3]))
    data += _string(hashlib.sha512(PAYLOAD).digest())
    raw = private.sign(data, padding.PKCS1v15(), hashes.SHA1())
    forged = _rebuild(_blob(_ssh_sign(keys["rsa"], PAYLOAD)), signature=_string(b"ssh-rsa") + _string(raw))
    reason = sshsig_native.verify(PAYLOAD, sshsig_native.armor(forged), _pub(keys["rsa"]), NS)
    assert reason is not None
    assert "'ssh-rsa' is not accepted" in reason


@pytest.mark.parametrize(
    ("armored", "expected"),
    [
        ("", "no BEGIN"),
        ("hello", "no BEGIN"),
        ("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n", "no END"),
        ("-----BEGIN SSH SIGNATURE-----\n!!not base64!!\n-----END SSH SIGNATURE-----\n", "not base64"),
        ("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\u00e9\n-----END SSH SIGNATURE-----\n", "not base64"),
        ("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n", "truncated"),
        ("-----BEGIN SSH SIGNATURE-----\nU1NIU0lIAAAAAQ==\n-----END SSH SIGNATURE-----\n", "bad magic"),
        ("-----BEGIN SSH SIGNATURE-----\n" + "A" * 100_000 + "\n-----END SSH SIGNATURE-----\n", "over"),
    ],
)
def test_garbled_armor_fails_with_a_reason(keys: dict[str, Path], armored: str, expected: str) -> None:
    reason = sshsig_native.verify(PAYLOAD, armored, _pub(keys["ed25519"]), NS)
    assert reason is not None
    assert expected in reason


@pytest.mark.parametrize("name", sorted(KEY_TYPES))
def test_every_truncation_and_bit_flip_fails_without_exception(keys: dict[str, Path], name: str) -> None:
    armored = _ssh_sign(keys[name], PAYLOAD)
    pub = _pub(keys[name])
    lines = armored.strip().splitlines()
    for cut in range(len(armored) - 1):
        assert sshsig_native.verify(PAYLOAD, armored[:cut], pub, NS) is not None
    body = "".join(lines[1:-1])
    for i in range(len(body) - 4):  # the last characters may be padding bits only
        flipped = body[:i] + ("B" if body[i] != "B" else "C") + body[i + 1 :]
        result = sshsig_native.verify(PAYLOAD, "\n".join([lines[0], flipped, lines[-1]]), pub, NS)
        assert result is not None, f"flip at {i} verified"
    blob = _blob(armored)
    for n in range(len(blob)):
        assert sshsig_native.verify(PAYLOAD, sshsig_native.armor(blob[:n]), pub, NS) is not None
    assert "trailing" in str(sshsig_native.verify(PAYLOAD, sshsig_native.armor(blob + b"\0"), pub, NS))


def test_bad_configured_public_key_gives_a_reason(keys: dict[str, Path]) -> None:
    armored = _ssh_sign(keys["ed25519"], PAYLOAD)
    assert sshsig_native.verify(PAYLOAD, armored, "ssh-ed25519", NS) is not None
    assert sshsig_native.verify(PAYLOAD, armored, "ssh-ed25519 !!!", NS) is not None
    rsa_line = _pub(keys["rsa"]).split()
    assert "does not match its key data" in str(sshsig_native.verify(PAYLOAD, armored, f"ssh-ed25519 {rsa_line[1]}", NS))


def test_unknown_key_type_goes_to_ssh_keygen(tmp_path: Path) -> None:
    """DSA is not checked natively: ssh-keygen decides, and still refuses a changed payload."""
    key = _keygen(tmp_path / "dsa", "dsa")
    armored = _ssh_sign(key, PAYLOAD)
    assert _pub(key).split()[0] not in sshsig_native.NATIVE_KEY_TYPES
    assert sshsig_native.verify(PAYLOAD, armored, _pub(key), NS) is None
    assert sshsig_native.verify(PAYLOAD + b"x", armored, _pub(key), NS) is not None
    assert sshsig_native.verify(PAYLOAD, "-----BEGIN SSH SIGNATURE-----\n\u00e9", _pub(key), NS) is not None
    assert sshsig_native.verify(PAYLOAD, armored, "", NS) is not None


def test_generate_runner_key_is_private_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "home" / "keys" / "runner_ed25519"
    line = sshsig_native.generate_runner_key(path)
    assert line.startswith("ssh-ed25519 ")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sshsig_native.generate_runner_key(path) == line
    armored = sshsig_native.sign(PAYLOAD, path, NS)
    assert _ssh_verify(tmp_path, line, PAYLOAD, armored).returncode == 0
    path.chmod(0o644)
    Path(f"{path}.pub").unlink()
    assert sshsig_native.generate_runner_key(path).split()[:2] == line.split()[:2]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- helpers that take an SSHSIG blob apart and put it back together -----------------------------
def _blob(armored: str) -> bytes:
    return base64.b64decode("".join(armored.strip().splitlines()[1:-1]))


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _fields(blob: bytes) -> list[bytes]:
    out, pos = [], 10  # "SSHSIG" + uint32 version
    while pos < len(blob):
        (n,) = struct.unpack(">I", blob[pos : pos + 4])
        out.append(blob[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out  # public key, namespace, reserved, hash, signature


def _rebuild(blob: bytes, *, public_key: bytes | None = None, signature: bytes | None = None) -> bytes:
    f = _fields(blob)
    f[0] = public_key if public_key is not None else f[0]
    f[4] = signature if signature is not None else f[4]
    return blob[:10] + b"".join(_string(x) for x in f)
