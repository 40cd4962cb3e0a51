"""Command-line interface (`sop`): a thin layer over the domain core and its adapters."""
