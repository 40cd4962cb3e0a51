"""PAdES: a document PDF signed with a key from a (test) CA validates in a PDF reader library."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sop_runner.adapters.paperwork.pdfsign import PadesSigner
from sop_runner.adapters.paperwork.render import render_document

pytest.importorskip("pyhanko")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey,
          ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                     encipher_only=False, decipher_only=False), critical=True)
    )
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture
def lab_ca(tmp_path: Path) -> tuple[PadesSigner, x509.Certificate]:
    """A CA and a document-signing certificate for the runner, as PEM files."""
    ca_key, doc_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("SOP Lab CA", "SOP Lab CA", ca_key, ca_key, ca=True)
    doc = _cert("sop-runner Diskominfo", "SOP Lab CA", doc_key, ca_key, ca=False)
    (tmp_path / "doc.key").write_bytes(doc_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "doc.crt").write_bytes(doc.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return PadesSigner(tmp_path / "doc.key", tmp_path / "doc.crt", (tmp_path / "ca.crt",), location="Wonosobo"), ca


def _validate(pdf: Path, trusted: x509.Certificate) -> bool:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(trusted.public_bytes(serialization.Encoding.DER))
    with pdf.open("rb") as f:
        sigs = PdfFileReader(f).embedded_signatures
        assert len(sigs) == 1
        status = validate_pdf_signature(sigs[0], ValidationContext(trust_roots=[root], allow_fetching=False))
        return bool(status.bottom_line and status.intact and status.valid)


def test_a_signed_document_validates_against_the_lab_ca_only(
    lab_ca: tuple[PadesSigner, x509.Certificate], tmp_path: Path
) -> None:
    from test_paperwork_pdf import sample_context  # the same sample as the layout test (tests/runner)

    signer, ca = lab_ca
    out = render_document("berita_acara.md.j2", sample_context(), tmp_path / "out", "ba", signer=signer)
    pdf = Path(out.files["pdf"])
    assert _validate(pdf, ca), "the PAdES signature validates against the lab CA"
    other_key = ec.generate_private_key(ec.SECP256R1())
    assert not _validate(pdf, _cert("Other CA", "Other CA", other_key, other_key, ca=True)), "not against another CA"
    import hashlib

    assert out.digests["pdf"] == hashlib.sha256(pdf.read_bytes()).hexdigest(), "the digest is the signed file's"


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    with pytest.raises(ValueError, match=r"doc\.key does not exist"):
        PadesSigner(tmp_path / "doc.key", tmp_path / "doc.crt").sign(pdf)


def test_a_run_signs_its_pdfs_when_configured_and_verify_accepts_them(
    lab_ca: tuple[PadesSigner, x509.Certificate], config_path: Path, tmp_path: Path
) -> None:
    import yaml

    from sop_runner.cli.main import main
    from sop_runner.config import load_config
    from sop_runner.service.runs import RunService

    signer, ca = lab_ca
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["pdf_signing"] = {"key": str(signer.key_file), "cert": str(signer.cert_file),
                           "chain": [str(c) for c in signer.chain_files]}
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    svc = RunService(load_config(str(config_path)))
    params = {"skpd": "dinkes", "path": str(tmp_path / "never.txt"), "content": "x"}
    run_id = svc.request("test-file-change", "agus.dinkes", params).run_id
    svc.decide(run_id, "hendra.kabid", "tidak", "tidak sesuai blueprint")
    svc.complete(run_id, "rina.kasi", note="surat penolakan")
    pdf = Path(svc.state(run_id).documents["surat"]["files"]["pdf"])
    assert _validate(pdf, ca)
    assert main(["docs", "verify", str(pdf), "--config", str(config_path)]) == 0
    data["pdf_signing"]["key"] = str(tmp_path / "hilang.key")
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    from sop_runner.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"pdf_signing\.key"):
        load_config(str(config_path))
