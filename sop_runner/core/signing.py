"""The signature namespace: a signature made for sop-runner verifies nowhere else, and no other.

What is signed is ``core.audit.statement``: plain text naming the run, the event's place in
it, the kind, the actor, the previous event it follows and the content hash (plus, for a
decision or approval, the SOP, step, action, plan hash and comment hash an official reads).
"""

from __future__ import annotations

NAMESPACE = "sop-runner"
