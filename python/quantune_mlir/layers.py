"""Reading the layer labels that quantune-label-layers attaches."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Discardable attributes print in one sorted dict after the op's regions.
_ATTR_DICT = re.compile(r"\{([^{}]*quantune\.layer = [^{}]*)\}")
_FIELD = re.compile(r'quantune\.(layer|name|kind) = ("(?:[^"\\]|\\.)*"|-?\d+)')


@dataclass(frozen=True)
class Layer:
    """One labelled layer: its id, readable name and op kind."""

    id: int
    name: str
    kind: str


def list_layers(mlir_text: str) -> list[Layer]:
    """The labelled layers of a module, sorted by id."""
    layers = []
    for match in _ATTR_DICT.finditer(mlir_text):
        fields = dict(_FIELD.findall(match.group(1)))
        if "layer" not in fields:
            continue
        layers.append(
            Layer(
                id=int(fields["layer"]),
                name=fields.get("name", '""')[1:-1],
                kind=fields.get("kind", '""')[1:-1],
            )
        )
    return sorted(layers, key=lambda layer: layer.id)
