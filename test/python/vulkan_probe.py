"""Whether the IREE runtime can run Vulkan modules on this machine."""

from __future__ import annotations


def vulkan_unavailable() -> str | None:
    """Why Vulkan cannot be used here, or None when it can."""
    import iree.runtime as ireert

    if "vulkan" not in ireert.query_available_drivers():
        return "the IREE runtime has no vulkan driver"
    try:
        ireert.Config("vulkan")
    except Exception as exc:  # no ICD / no device on this machine
        return f"no usable Vulkan device: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None
