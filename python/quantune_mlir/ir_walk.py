"""Walking a module parsed with IREE's Python bindings."""

from __future__ import annotations

from collections.abc import Iterator

from iree.compiler import ir


def walk_operations(op: ir.Operation) -> Iterator[ir.Operation]:
    """Every operation nested in ``op``, parents before their children."""
    for region in op.regions:
        for block in region.blocks:
            for child in block.operations:
                yield child.operation
                yield from walk_operations(child.operation)
