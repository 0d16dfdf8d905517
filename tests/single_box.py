"""The session's single-box stack and the multi-host cluster on one machine: the cluster's tests run
last, and the single box makes way for them."""

from __future__ import annotations

import os

import pytest

# what the session's single-box stack started (the stack, its started services), for the cluster's
# tests to stop before theirs
SINGLE_BOX_STARTED = pytest.StashKey[tuple]()


def yield_to_cluster(config: pytest.Config) -> None:
    """Stop what this session started of the single-box stack (a developer's own stack, or one kept
    with ``LOGSTREAM_KEEP_STACK``, stays as it was): two whole pipelines at once on two cores leave
    each too little of the machine, and no test after the cluster's uses the single box."""
    local, started = config.stash.get(SINGLE_BOX_STARTED, (None, ()))
    if local is not None and started and not os.environ.get("LOGSTREAM_KEEP_STACK"):
        local.stop(started)
