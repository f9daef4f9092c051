"""Strict JSON out: no ``NaN`` or ``Infinity`` in any file quantune writes.

``json.dumps`` writes non-finite floats as the tokens ``NaN``, ``Infinity``
and ``-Infinity`` by default. They are not JSON: other readers reject them
(and quantune's own strict readers did). Everything quantune writes goes
through :func:`dumps_strict`, which writes them as ``null`` instead.
"""

from __future__ import annotations

import json
import math
import os
from typing import IO, Any

import numpy as np

from quantune_mlir.fileio import write_text


def finite_or_none(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None, recursively.

    Dicts, lists and tuples are copied (tuples become lists, as JSON has no
    tuples); NumPy float and integer scalars become Python ``float``/``int``.
    Anything else is returned unchanged.
    """
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, dict):
        return {key: finite_or_none(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(value) for value in obj]
    return obj


def dumps_strict(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, **kwargs)`` with non-finite floats written as ``null``.

    ``allow_nan`` is always False, so a non-finite float that escapes the
    mapping (one produced by a ``default=`` hook) raises ValueError instead of
    writing invalid JSON.
    """
    if "allow_nan" in kwargs:
        raise TypeError("dumps_strict always writes strict JSON; do not pass allow_nan")
    return json.dumps(finite_or_none(obj), allow_nan=False, **kwargs)


def dump_strict(obj: Any, fp: IO[str], **kwargs: Any) -> None:
    """:func:`dumps_strict` written to the open text file ``fp``."""
    fp.write(dumps_strict(obj, **kwargs))


def write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> None:
    """Writes ``obj`` as strict JSON (and a final newline) to ``path`` atomically."""
    write_text(path, dumps_strict(obj, indent=indent) + "\n")


def annotations_json(layers: list[dict[str, Any]]) -> str:
    """A ``quantune-annotate`` file for ``layers``, strict JSON.

    The pass takes numbers only, so metrics that are None or not finite are
    left out (the layer then has no value for that metric).
    """
    entries = []
    for entry in layers:
        entry = dict(entry)
        if isinstance(entry.get("metrics"), dict):
            entry["metrics"] = {k: v for k, v in finite_or_none(entry["metrics"]).items() if v is not None}
        entries.append(entry)
    return dumps_strict({"version": 1, "layers": entries})
