"""The SOP catalogue: definitions loaded from ``sops/`` and validated."""
