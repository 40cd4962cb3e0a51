"""Sign a document's PDF as a PDF (PAdES), so a PDF reader can check it without the runner.

The signer is a seam: :class:`PdfSigner` is anything with ``sign(path)``. :class:`PadesSigner`
signs with a key and certificate in PEM files via pyHanko, which is how the lab signs (with a
CA the tests make) and how an agency signs with a certificate from its own CA. BSrE, the
national CA for civil servants, signs through its own service; an adapter for it implements
the same ``sign(path)``. Signing reads only the files named here and fetches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = ["PadesSigner", "PdfSigner"]


class PdfSigner(Protocol):
    """Signs a PDF file in place."""

    def sign(self, pdf: Path) -> None:
        """Add a signature to ``pdf`` (an incremental update: the signed bytes stay as they were)."""


@dataclass(frozen=True, slots=True)
class PadesSigner:
    """PAdES B-B signature with a PEM key and certificate (and the CA chain to embed)."""

    key_file: Path
    cert_file: Path
    chain_files: tuple[Path, ...] = field(default_factory=tuple)
    reason: str = "Dokumen diterbitkan oleh sop-runner"
    location: str = ""

    def sign(self, pdf: Path) -> None:
        """Sign ``pdf`` in place; ValueError naming the file when the key or certificate is unusable."""
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

        for path in (self.key_file, self.cert_file, *self.chain_files):
            if not path.is_file():
                raise ValueError(f"PDF signing: {path} does not exist (check pdf_signing in the configuration)")
        signer = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]  # pyHanko leaves it unannotated
            str(self.key_file), str(self.cert_file), ca_chain_files=tuple(str(p) for p in self.chain_files)
        )
        if signer is None:
            raise ValueError(f"PDF signing: cannot load the key {self.key_file} with the certificate {self.cert_file}")
        meta = signers.PdfSignatureMetadata(
            field_name="TandaTanganSopRunner",
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=self.reason,
            location=self.location or None,
        )
        with pdf.open("rb") as src:
            signed = signers.sign_pdf(IncrementalPdfFileWriter(src), meta, signer=signer)
            data = signed.getvalue()
        pdf.write_bytes(data)
