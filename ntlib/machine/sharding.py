"""Work items split across torchrun ranks and their results gathered — shared by the sharded hit rates and
Algorithm 1's sharded searches (:mod:`ntlib.machine.distributed`, :func:`ntlib.methods.malicious.search_batch`).
``ranks`` is a :class:`ntlib.machine.distributed.Ranks`, or None for one process (every item here)."""
from __future__ import annotations


def shard(n_items: int, ranks) -> list[int]:
    """Indices of the items (of ``n_items``) this rank handles: ``rank::world``."""
    return list(range(n_items))[ranks.rank::ranks.world] if ranks is not None else list(range(n_items))


def gather(local: dict, ranks, n_items: int) -> list:
    """The results ``{index: result}`` of every rank, as one list in index order (on every rank)."""
    merged = {}
    for part in (ranks.all_gather(local) if ranks is not None else [local]):
        merged.update(part)
    if sorted(merged) != list(range(n_items)):
        raise RuntimeError(f"gather: got results for items {sorted(merged)}, expected 0..{n_items - 1}")
    return [merged[i] for i in range(n_items)]
