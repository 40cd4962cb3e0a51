"""Signatures with OpenSSH keys (``ssh-keygen -Y sign`` / ``-Y verify``), verifiable offline."""
