"""SSH signatures (OpenSSH ``PROTOCOL.sshsig``) checked and made in-process.

``ssh-keygen -Y verify`` costs a process per signature (milliseconds); checking every event of
a run before every command needs microseconds. This module reads the armored signature,
rebuilds the blob OpenSSH signs and verifies it with ``cryptography`` for ssh-ed25519,
ecdsa-sha2-nistp256/384/521 and RSA (rsa-sha2-256/512; SHA-1 ``ssh-rsa`` is refused, as
OpenSSH does for SSHSIG). Any other key type (security keys, certificates) goes to
``ssh-keygen -Y verify`` through :func:`sshsig.verify`, with a one-line allowed-signers file.

Signing is native for an unencrypted OpenSSH ed25519 key (the runner's own key signs every
event it records) and produces exactly what ``ssh-keygen -Y sign`` writes: ed25519 is
deterministic, so the armor is byte-for-byte the same. Other keys go to ``ssh-keygen``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import stat
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sop_runner.adapters.signing import sshsig
from sop_runner.errors import EnvironmentProblemError, ForbiddenError

__all__ = ["NATIVE_KEY_TYPES", "generate_runner_key", "sign", "verify"]

MAGIC = b"SSHSIG"
VERSION = 1
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
WRAP = 70  # ssh-keygen's column width for the base64 body
_SIGN_HASH = "sha512"  # what ssh-keygen -Y sign uses by default
_MESSAGE_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
# A signature is a few hundred bytes (RSA-16384 stays under 5 KiB): anything far larger is not one.
_MAX_ARMOR = 64 * 1024

_ECDSA = {
    "ecdsa-sha2-nistp256": (ec.SECP256R1(), hashes.SHA256()),
    "ecdsa-sha2-nistp384": (ec.SECP384R1(), hashes.SHA384()),
    "ecdsa-sha2-nistp521": (ec.SECP521R1(), hashes.SHA512()),
}
_RSA_MIN_BITS = 1024  # OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE
_RSA_SIG = {"rsa-sha2-256": hashes.SHA256(), "rsa-sha2-512": hashes.SHA512()}
NATIVE_KEY_TYPES = frozenset({"ssh-ed25519", "ssh-rsa", *_ECDSA})
"""Public key types :func:`verify` checks without a subprocess."""


class _Reader:
    """SSH wire-format reader (RFC 4251): every read is bounds-checked and raises ValueError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            msg = "truncated"
            raise ValueError(msg)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.uint32())

    def mpint(self) -> int:
        raw = self.string()
        if raw and raw[0] & 0x80:
            msg = "negative mpint"
            raise ValueError(msg)
        return int.from_bytes(raw, "big")

    def done(self) -> bool:
        return self.pos == len(self.data)


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@dataclass(frozen=True, slots=True)
class _Sig:
    """The fields of an SSHSIG blob."""

    public_key: bytes
    namespace: bytes
    reserved: bytes
    hash_alg: bytes
    signature: bytes


def _dearmor(armored: str) -> bytes:
    """The binary SSHSIG blob inside the armor; ValueError says what is wrong."""
    if len(armored) > _MAX_ARMOR:
        msg = f"not an SSH signature (over {_MAX_ARMOR} characters)"
        raise ValueError(msg)
    text = armored.strip()
    if not text.startswith(BEGIN):
        msg = "not an SSH signature (no BEGIN SSH SIGNATURE line)"
        raise ValueError(msg)
    if not text.endswith(END):
        msg = "truncated SSH signature (no END SSH SIGNATURE line)"
        raise ValueError(msg)
    body = "".join(text[len(BEGIN) : -len(END)].split())
    try:
        return base64.b64decode(body.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        msg = "garbled SSH signature (the body is not base64)"
        raise ValueError(msg) from None


def _parse(blob: bytes) -> _Sig:
    r = _Reader(blob)
    if r.take(len(MAGIC)) != MAGIC:
        msg = "not an SSHSIG blob (bad magic)"
        raise ValueError(msg)
    version = r.uint32()
    if version != VERSION:
        msg = f"unsupported SSHSIG version {version}"
        raise ValueError(msg)
    sig = _Sig(r.string(), r.string(), r.string(), r.string(), r.string())
    if not r.done():
        msg = "trailing data after the signature"
        raise ValueError(msg)
    return sig


def _signed_data(namespace: bytes, reserved: bytes, hash_alg: bytes, payload: bytes) -> bytes:
    digest = _MESSAGE_HASHES[hash_alg.decode("ascii")](payload).digest()
    return MAGIC + _string(namespace) + _string(reserved) + _string(hash_alg) + _string(digest)


def _key_blob(public_key_line: str) -> tuple[str, bytes]:
    """(type, wire blob) of an OpenSSH public key line ``TYPE BASE64 [comment]``."""
    fields = public_key_line.split()
    if len(fields) < 2:
        msg = "the configured public key is not an OpenSSH public key line"
        raise ValueError(msg)
    try:
        blob = base64.b64decode(fields[1].encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        msg = "the configured public key is not valid base64"
        raise ValueError(msg) from None
    if _Reader(blob).string() != fields[0].encode("ascii", "replace"):
        msg = "the configured public key's type does not match its key data"
        raise ValueError(msg)
    return fields[0], blob


@functools.lru_cache(maxsize=256)
def _public_key(key_line: str) -> serialization.SSHPublicKeyTypes:
    """The key of a public key line; cached, since the same few keys verify every event."""
    return serialization.load_ssh_public_key(" ".join(key_line.split()[:2]).encode("ascii"))


def _check(key_type: str, key_line: str, signature: bytes, data: bytes) -> None:
    """Raise InvalidSignature/ValueError unless ``signature`` (SSH wire form) is valid over ``data``."""
    r = _Reader(signature)
    sig_type = r.string().decode("ascii", "replace")
    raw = r.string()
    if not r.done():
        msg = "trailing data in the inner signature"
        raise ValueError(msg)
    key = _public_key(key_line)
    if key_type == "ssh-ed25519":
        if sig_type != key_type or not isinstance(key, Ed25519PublicKey):
            msg = f"a {sig_type} signature for an ed25519 key"
            raise ValueError(msg)
        key.verify(raw, data)
    elif key_type in _ECDSA:
        curve, digest = _ECDSA[key_type]
        if sig_type != key_type or not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != curve.name:
            msg = f"a {sig_type} signature for a {key_type} key"
            raise ValueError(msg)
        inner = _Reader(raw)
        r_int, s_int = inner.mpint(), inner.mpint()
        if not inner.done():
            msg = "trailing data in the ECDSA signature"
            raise ValueError(msg)
        key.verify(encode_dss_signature(r_int, s_int), data, ec.ECDSA(digest))
    else:  # ssh-rsa keys; only the SHA-2 signature algorithms count (OpenSSH refuses SHA-1 here)
        if sig_type not in _RSA_SIG or not isinstance(key, rsa.RSAPublicKey):
            msg = f"RSA signature algorithm {sig_type!r} is not accepted (rsa-sha2-256/512 only)"
            raise ValueError(msg)
        if key.key_size < _RSA_MIN_BITS:
            msg = f"RSA key of {key.key_size} bits is too small (at least {_RSA_MIN_BITS})"
            raise ValueError(msg)
        key.verify(raw, data, padding.PKCS1v15(), _RSA_SIG[sig_type])


def verify(payload: bytes, armored: str, public_key_line: str, namespace: str) -> str | None:
    """None if ``armored`` is a signature by ``public_key_line``'s key over ``payload`` in ``namespace``.

    Otherwise the reason, as a sentence; bad input never raises. Key types outside
    :data:`NATIVE_KEY_TYPES` are checked by ``ssh-keygen -Y verify`` (which may raise
    EnvironmentProblemError when ssh-keygen is missing).
    """
    key_type = public_key_line.split(maxsplit=1)[0] if public_key_line.strip() else ""
    if key_type not in NATIVE_KEY_TYPES:
        return _verify_with_ssh_keygen(payload, armored, public_key_line, namespace)
    try:
        sig = _parse(_dearmor(armored))
        _, expected_blob = _key_blob(public_key_line)
        if sig.namespace != namespace.encode("utf-8"):
            return f"signature made for namespace {sig.namespace.decode('utf-8', 'replace')!r}, not {namespace!r}"
        if sig.public_key != expected_blob:
            return "signature made with another key than the signer's configured public key"
        if sig.hash_alg.decode("ascii", "replace") not in _MESSAGE_HASHES:
            return f"unsupported message hash {sig.hash_alg.decode('ascii', 'replace')!r} (sha256/sha512 only)"
        _check(key_type, public_key_line, sig.signature, _signed_data(sig.namespace, sig.reserved, sig.hash_alg,
                                                                      payload))
    except InvalidSignature:
        return "signature does not match the signed text (the text or the signature was changed)"
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return str(exc) or type(exc).__name__
    return None


def _verify_with_ssh_keygen(payload: bytes, armored: str, public_key_line: str, namespace: str) -> str | None:
    """The slow path for key types checked here natively: a one-line allowed-signers file."""
    fields = public_key_line.split()
    if len(fields) < 2:
        return "no usable public key is configured for the signer"
    if any(c in namespace for c in '" \n'):
        return f"namespace {namespace!r} cannot be checked"
    with tempfile.TemporaryDirectory(prefix="sop-verify-") as tmp:
        signers = Path(tmp) / "allowed_signers"
        signers.write_text(f'signer namespaces="{namespace}" {fields[0]} {fields[1]}\n', encoding="ascii")
        return sshsig.verify(payload, armored, "signer", signers, namespace=namespace)


# -- signing ------------------------------------------------------------------------------------
_KEY_CACHE: dict[tuple[str, int, int], Ed25519PrivateKey | None] = {}


def _load_ed25519(path: Path) -> Ed25519PrivateKey | None:
    """The unencrypted ed25519 key at ``path`` (cached by path, size and mtime), or None."""
    try:
        st = path.stat()
    except OSError:
        return None
    cache_key = (str(path), st.st_size, st.st_mtime_ns)
    if cache_key not in _KEY_CACHE:
        try:
            key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
            key = None
        _KEY_CACHE.clear()  # one or two keys sign in a process; never hold stale ones
        _KEY_CACHE[cache_key] = key if isinstance(key, Ed25519PrivateKey) else None
    return _KEY_CACHE[cache_key]


def armor(blob: bytes) -> str:
    """The SSHSIG blob in ssh-keygen's armor (base64 wrapped at 70 columns)."""
    body = base64.b64encode(blob).decode("ascii")
    lines = [body[i : i + WRAP] for i in range(0, len(body), WRAP)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


def sign(payload: bytes, private_key_path: Path, namespace: str) -> str:
    """The armored SSH signature of ``payload`` by the key at ``private_key_path``.

    Native for an unencrypted OpenSSH ed25519 key; any other key (RSA, ECDSA, encrypted, a
    ``.pub`` whose key is in ssh-agent) is signed by ``ssh-keygen -Y sign``.
    """
    key = _load_ed25519(private_key_path)
    if key is None:
        if not private_key_path.is_file():
            raise ForbiddenError(f"private key {private_key_path} not found",
                                 hint="pass --key PATH to your SSH private key")
        return sshsig.sign(payload, private_key_path, namespace=namespace)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public_blob = _string(b"ssh-ed25519") + _string(public)
    ns, reserved, hash_alg = namespace.encode("utf-8"), b"", _SIGN_HASH.encode("ascii")
    raw = key.sign(_signed_data(ns, reserved, hash_alg, payload))
    signature = _string(b"ssh-ed25519") + _string(raw)
    blob = (MAGIC + struct.pack(">I", VERSION) + _string(public_blob) + _string(ns) + _string(reserved)
            + _string(hash_alg) + _string(signature))
    return armor(blob)


def generate_runner_key(path: Path, comment: str = "sop-runner") -> str:
    """Create an ed25519 key pair at ``path`` if missing; return its public key line.

    The private key is written 0600 from the start (never a moment world-readable) in a
    directory created 0700; an existing key that others can read is narrowed to 0600, since
    whoever reads it can sign as the runner.
    """
    if path.exists():
        _narrow(path)
        return _public_line(path, comment)
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, mode=0o700)
        path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    line = f"{public.decode('ascii')} {comment}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    Path(f"{path}.pub").write_text(line + "\n", encoding="ascii")
    return line


def _narrow(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        try:
            path.chmod(0o600)
        except OSError as exc:
            raise EnvironmentProblemError(
                f"the runner's private key {path} is readable by others (mode {mode:o}) and cannot be narrowed",
                hint=f"chmod 600 {path} as its owner",
            ) from exc


def _public_line(path: Path, comment: str) -> str:
    pub = Path(f"{path}.pub")
    if pub.is_file():
        return pub.read_text(encoding="ascii").strip()
    key = _load_ed25519(path)
    if key is None:
        raise EnvironmentProblemError(
            f"{path} is not an unencrypted OpenSSH ed25519 private key",
            hint="move it away; the runner creates its own key there on the next command",
        )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    line = f"{public.decode('ascii')} {comment}"
    pub.write_text(line + "\n", encoding="ascii")
    return line
