"""Cache keys for built modules: what of this project's compiler a module
depends on, so that a change there rebuilds it and nothing else does."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

# The Python modules between a plan and a compiled module: import, lowering,
# the pipeline's retries and the compile flags. The analysis modules are not
# here: what they decide reaches the module through the plan, which callers
# key on separately.
LOWERING_SOURCES = ("importer.py", "onnx_model.py", "onnx_bn.py", "onnx_fold.py", "onnx_rnn.py", "opt.py",
                    "jsonio.py", "plan.py", "lowering.py", "compiler.py", "targets.py", "fusion_barriers.py", "pipeline.py", "replan.py")


def compiler_key(sources: Iterable[str] | None = None) -> str:
    """A hash of the quantune-opt binary and of the package's Python
    ``sources`` (file names; all of them when None)."""
    return _key(None if sources is None else tuple(sorted(sources)))


@functools.lru_cache(maxsize=None)
def _key(sources: tuple[str, ...] | None) -> str:
    """Computed once per process: callers ask for it per module."""
    import quantune_mlir
    from quantune_mlir.opt import find_quantune_opt

    package = Path(quantune_mlir.__file__).parent
    paths = sorted(package.glob("*.py")) if sources is None else [package / s for s in sources]
    h = hashlib.sha256(Path(find_quantune_opt()).read_bytes())
    for path in paths:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]
