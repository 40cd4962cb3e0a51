"""The domain core: catalogue model, run state machine, approval policy, audit chain.

Nothing under ``sop_runner.core`` imports ansible_runner, pynetbox or a database driver;
adapters at the edges depend on the core, never the other way round.
"""
