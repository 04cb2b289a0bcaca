"""Auditing the chained logs from outside the node: certified verification keys, chain
heads checkpointed at another node, and the comparison of a log with them."""

from jukinet.audit._checkpoints import (
    CHECKPOINT,
    CHECKPOINT_BATCH,
    LOGS,
    Checkpoint,
    CheckpointWriter,
    Head,
    checkpoint_table,
    checkpoints_of,
    default_witness,
    read_heads,
    send_heads,
    store_checkpoints,
    with_checkpoints,
)
from jukinet.audit._compare import Anchor, Finding, compare_with_checkpoints, purge_contradiction
from jukinet.audit._keys import CertifiedKeys, certified_keys

__all__ = [
    "CHECKPOINT",
    "CHECKPOINT_BATCH",
    "LOGS",
    "Anchor",
    "CertifiedKeys",
    "Checkpoint",
    "CheckpointWriter",
    "Finding",
    "Head",
    "certified_keys",
    "checkpoint_table",
    "checkpoints_of",
    "compare_with_checkpoints",
    "default_witness",
    "purge_contradiction",
    "read_heads",
    "send_heads",
    "store_checkpoints",
    "with_checkpoints",
]
