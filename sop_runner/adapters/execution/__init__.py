"""Running playbooks through ansible-runner: plans (check + diff) and applies."""
