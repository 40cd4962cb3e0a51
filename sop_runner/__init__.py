"""sop-runner: approval-gated automation of a Dinas Kominfo data centre's SOPs."""

__version__ = "0.1.0"
