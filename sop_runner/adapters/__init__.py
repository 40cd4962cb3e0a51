"""Adapters at the edges: storage, execution (ansible-runner), NetBox, signing, paperwork."""
