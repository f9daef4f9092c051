"""Running compiled IREE modules on numpy inputs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import iree.runtime as ireert

from quantune_mlir.errors import QuantuneError, first_line

_TENSOR = re.compile(r"tensor<((?:[0-9?]+x)*)([a-z]+[0-9]*)>")
_TARGET_DEVICE = re.compile(r'#hal\.device\.target<"([a-z0-9_-]+)"')
_DTYPES = {
    "f32": np.float32, "f16": np.float16, "f64": np.float64,
    "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64,
    "ui8": np.uint8, "i1": np.bool_,
}


def _signature(function: ireert.VmFunction) -> list[tuple[tuple[int | None, ...], str]] | None:
    """Argument (shape, element type) pairs from the ABI declaration, if present."""
    decl = (function.reflection or {}).get("iree.abi.declaration", "")
    args = decl.partition("(")[2].partition(")")[0]
    if not args:
        return None
    sig = []
    for dims, elt in _TENSOR.findall(args):
        shape = tuple(None if d == "?" else int(d) for d in dims.split("x") if d)
        sig.append((shape, elt))
    return sig


def _check_inputs(name: str, function: ireert.VmFunction, inputs: Sequence[np.ndarray]) -> None:
    sig = _signature(function)
    if sig is None:
        return
    if len(sig) != len(inputs):
        raise QuantuneError(f"function '{name}' takes {len(sig)} input(s), got {len(inputs)}")
    for i, ((shape, elt), array) in enumerate(zip(sig, inputs)):
        want = "x".join("?" if d is None else str(d) for d in shape) + ("x" if shape else "") + elt
        shape_ok = len(shape) == array.ndim and all(d is None or d == s for d, s in zip(shape, array.shape))
        dtype = _DTYPES.get(elt)
        if not shape_ok or (dtype is not None and array.dtype != dtype):
            raise QuantuneError(
                f"input {i} of '{name}' must be {want}, got shape {tuple(array.shape)} dtype {array.dtype}"
            )


def _to_host(device: ireert.HalDevice, value: ireert.DeviceArray) -> np.ndarray:
    """Copies a device result to a numpy array through a staging buffer.

    ``DeviceArray.to_host`` tries to import numpy memory into the device,
    which Vulkan (lavapipe) rejects unless the pointer is 4 KiB aligned; a
    device-allocated, host-visible staging buffer works on every driver.
    """
    view = value._buffer_view
    source = view.get_buffer()
    staging = device.allocator.allocate_buffer(
        memory_type=int(ireert.MemoryType.HOST_LOCAL | ireert.MemoryType.DEVICE_VISIBLE),
        allowed_usage=int(ireert.BufferUsage.TRANSFER_TARGET | ireert.BufferUsage.MAPPING_SCOPED),
        allocation_size=source.byte_length(),
    )
    semaphore = device.create_semaphore(0)
    device.queue_copy(
        source,
        staging,
        wait_semaphores=ireert.HalFence.create_at(semaphore, 0),
        signal_semaphores=ireert.HalFence.create_at(semaphore, 1),
    )
    ireert.HalFence.create_at(semaphore, 1).wait()
    dtype = ireert.HalElementType.map_to_dtype(view.element_type)
    return np.array(staging.map().asarray(view.shape, dtype), copy=True)


def entry_function(module: ireert.VmModule, function: str | None) -> str:
    """The function to run: ``function`` if given, else the module's only export."""
    exported = [n for n in module.function_names if not n.startswith("__")]
    if function is not None:
        if function not in exported:
            raise QuantuneError(f"module has no function '{function}'; it exports {exported}")
        return function
    if len(exported) != 1:
        raise QuantuneError(f"module exports {exported}; choose one with --function")
    return exported[0]


class ModuleRunner:
    """A loaded module: call it repeatedly without reloading.

    ``vmfb`` is a path or the module bytes. The function is checked against
    each call's inputs (count, shape, dtype).
    """

    def __init__(
        self,
        vmfb: str | os.PathLike[str] | bytes,
        device: str = "local-task",
        function: str | None = None,
    ) -> None:
        self.device = device
        if isinstance(vmfb, bytes):
            self.source = "<module bytes>"
        else:
            path = Path(vmfb)
            if path.is_dir():
                raise QuantuneError(f"cannot read module '{path}': it is a directory")
            if not path.is_file():
                raise QuantuneError(f"cannot read module '{path}': no such file")
            self.source = str(path)
        try:
            self._config = ireert.Config(device)
        except Exception:
            drivers = ", ".join(sorted(ireert.query_available_drivers()))
            raise QuantuneError(
                f"cannot open IREE device '{device}' on this machine (runtime drivers: {drivers})"
            ) from None
        try:
            if isinstance(vmfb, bytes):
                module = ireert.VmModule.copy_buffer(self._config.vm_instance, vmfb)
            else:
                module = ireert.VmModule.mmap(self._config.vm_instance, str(vmfb))
        except Exception as exc:
            raise QuantuneError(f"'{self.source}' is not a loadable IREE module: {first_line(str(exc))}") from None
        self.function = entry_function(module, function)
        self._vm_function = module.lookup_function(self.function)
        try:
            context = ireert.SystemContext(config=self._config)
            context.add_vm_module(module)
        except Exception as exc:
            raise self._error(exc) from None
        self._call = context.modules[module.name][self.function]

    def _error(self, exc: Exception) -> QuantuneError:
        wanted = _TARGET_DEVICE.search(str(exc))
        if wanted and "INCOMPATIBLE" in str(exc):
            return QuantuneError(
                f"'{self.source}' was compiled for {wanted.group(1)} devices; run it with a matching --device "
                f"(local-task for llvm-cpu modules, vulkan for vulkan modules)"
            )
        return QuantuneError(f"running '{self.function}' on {self.device} failed: {first_line(str(exc))}")

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        arrays = [np.require(a, requirements="C") for a in inputs]
        _check_inputs(self.function, self._vm_function, arrays)
        try:
            results = self._call(*arrays)
        except Exception as exc:
            raise self._error(exc) from None
        if not isinstance(results, (tuple, list)):
            results = [results]
        return [
            _to_host(self._config.device, r) if isinstance(r, ireert.DeviceArray) else np.asarray(r)
            for r in results
        ]


def run_module(
    vmfb: str | os.PathLike[str] | bytes,
    inputs: Sequence[np.ndarray],
    device: str = "local-task",
    function: str | None = None,
) -> list[np.ndarray]:
    """Runs ``function`` of the module in ``vmfb`` once on ``device``; returns numpy outputs."""
    return ModuleRunner(vmfb, device, function)(*inputs)
