"""Quantune-MLIR: mixed-precision quantization of ONNX models, compiled with IREE.

The one-call entry points, with the CLI's options as keyword arguments:

* :func:`analyze`: which layers can be int8 (``quantune analyze``).
* :func:`quantize`: model to a mixed-precision module (``quantune quantize``).

The lower-level API mirrors the CLI stages:

* :func:`load_onnx` / :func:`import_onnx`: ONNX file to linalg-on-tensors text.
* :func:`run_quantune_opt`: run quantune passes on that text.
* :func:`compile_mlir`: text to an IREE ``.vmfb`` for a target.
* :func:`run_module`: run a ``.vmfb`` on numpy inputs.
"""

from quantune_mlir.api import AnalyzeResult, ModuleResult, analyze, quantize
from quantune_mlir.compiler import compile_mlir
from quantune_mlir.errors import QuantuneError
from quantune_mlir.importer import import_onnx
from quantune_mlir.onnx_model import load_onnx
from quantune_mlir.opt import run_quantune_opt
from quantune_mlir.runtime import run_module
from quantune_mlir.targets import Target, parse_target

__version__ = "0.1.0"

__all__ = [
    "AnalyzeResult",
    "ModuleResult",
    "analyze",
    "quantize",
    "QuantuneError",
    "Target",
    "compile_mlir",
    "import_onnx",
    "load_onnx",
    "parse_target",
    "run_module",
    "run_quantune_opt",
]
