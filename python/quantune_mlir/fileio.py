"""Output files that appear whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from quantune_mlir.errors import QuantuneError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields a temporary path next to ``path``; renames it into place on success.

    If the body raises, the temporary file is removed and ``path`` is left as
    it was, so a failed run never leaves half-written output.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        from quantune_mlir.errors import QuantuneError

        raise QuantuneError(f"output directory '{parent}' does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file owner-only; give it the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Writes ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def check_output_dir(path: str | os.PathLike[str] | None, what: str = "output") -> None:
    """Fails before a long run, not after it, when ``path``'s directory is missing."""
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise QuantuneError(f"{what} '{path}': directory '{Path(path).parent}' does not exist")
