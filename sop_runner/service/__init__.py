"""The application layer: use cases that tie the core to the adapters (one module per concern)."""
