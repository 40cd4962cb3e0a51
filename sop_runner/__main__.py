"""`python -m sop_runner` is the `sop` command."""

from sop_runner.cli.main import entry

entry()
