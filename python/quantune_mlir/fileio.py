"""Output files that appear whole or not at all."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Mapping

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
        raise QuantuneError(f"output directory '{parent}' does not exist")
    if target.exists() and not target.is_file():
        raise QuantuneError(f"cannot write '{target}': it exists and is not a regular file")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise QuantuneError(f"cannot write '{target}': {exc.strerror}") from None
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


def path_or_none(value: object) -> str | os.PathLike[str] | None:
    """``value`` if it names a file or folder, else None (an array, a list of samples)."""
    return value if isinstance(value, (str, os.PathLike)) else None



def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when ``a`` and ``b`` name one file, through links or not."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _parent(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


OptionalPath = str | os.PathLike[str] | None


def check_paths(
    inputs: Mapping[str, OptionalPath],
    outputs: Mapping[str, OptionalPath],
    directories: Mapping[str, OptionalPath] | None = None,
) -> None:
    """Checks every output location before any work starts.

    ``inputs`` and ``outputs`` map an option name (as the user typed it, e.g.
    ``-o``) to a path; ``directories`` are outputs that are directories.
    An output may not name an input (after resolving links), nor another
    output; its directory must exist and be writable; a file output may not
    be an existing directory and a directory output not an existing file.
    """
    given_inputs = {name: Path(p) for name, p in inputs.items() if p is not None}
    wanted = [(name, Path(p), False) for name, p in outputs.items() if p is not None]
    wanted += [(name, Path(p), True) for name, p in (directories or {}).items() if p is not None]
    for name, path, is_dir in wanted:
        for in_name, in_path in given_inputs.items():
            if same_file(path, in_path):
                raise QuantuneError(
                    f"{name} '{path}' is the input {in_name} '{in_path}'; write the output to another path"
                )
        parent = _parent(path)
        if not parent.resolve().is_dir():
            raise QuantuneError(f"{name} '{path}': directory '{parent}' does not exist")
        if is_dir and path.exists() and not path.is_dir():
            raise QuantuneError(f"{name} '{path}' is a file; it must be a directory (new or existing)")
        if not is_dir and path.is_dir():
            raise QuantuneError(f"{name} '{path}' is a directory; give a file path")
        if not is_dir and path.exists() and not path.is_file():
            # Renaming onto a device or a pipe would replace it with a file.
            raise QuantuneError(f"{name} '{path}' exists and is not a regular file (a device or a pipe?)")
        _check_writable(parent, f"{name} '{path}'")
    for i, (name, path, _) in enumerate(wanted):
        for other, other_path, _ in wanted[i + 1:]:
            if same_file(path, other_path):
                raise QuantuneError(f"{name} and {other} both name '{path}'; give each output its own path")


def _check_writable(directory: Path, what: str) -> None:
    """Outputs are created next to their destination: try it (``os.access``
    says yes to root even on read-only file systems and in /proc)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".quantune-probe.", dir=directory)
    except OSError as exc:
        raise QuantuneError(f"{what}: directory '{directory}' is not writable ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def _usual_mode(path: Path, mode: int) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


def replace_directory(built: Path, target: Path) -> None:
    """Moves the directory ``built`` to ``target`` in one step.

    An existing ``target`` is moved aside first and removed after, so a
    reader sees either the old directory or the new one, never a mix, and
    two concurrent runs cannot interleave their files.
    """
    _usual_mode(built, 0o777)
    for _ in range(8):
        try:
            os.rename(built, target)  # also replaces an empty directory
            return
        except OSError:
            if not target.is_dir():
                raise
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=_parent(target)))
        try:
            os.rename(target, aside / "old")
        except FileNotFoundError:  # another run moved it already
            pass
        try:
            os.rename(built, target)
            return
        except OSError:
            if not target.is_dir():
                raise
        finally:
            shutil.rmtree(aside, ignore_errors=True)
    raise QuantuneError(f"could not replace directory '{target}': other runs keep writing it")


def check_replaceable(path: str | os.PathLike[str], name: str, pattern: str) -> None:
    """Fails unless the directory ``path`` is missing, or holds only files
    whose names match ``pattern`` (what an earlier run wrote), so that
    replacing it cannot delete anything else."""
    target = Path(path)
    if not target.is_dir():
        return
    for entry in target.iterdir():
        if not (entry.is_file() and re.fullmatch(pattern, entry.name)):
            raise QuantuneError(
                f"{name} '{target}' holds '{entry.name}', which an earlier run did not write; "
                "give a new directory or one from an earlier run (it is replaced as a whole)"
            )


def write_directory(path: str | os.PathLike[str], files: Mapping[str, str], name: str = "output",
                    pattern: str | None = None) -> None:
    """Writes a directory of text files as one unit (see :func:`replace_directory`).

    With ``pattern``, an existing directory is replaced only if every file
    in it matches (see :func:`check_replaceable`).
    """
    target = Path(path)
    if pattern is not None:
        check_replaceable(target, name, pattern)
    built = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=_parent(target)))
    try:
        for name, text in files.items():
            (built / name).write_text(text)
            _usual_mode(built / name, 0o666)
        replace_directory(built, target)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise


@contextlib.contextmanager
def staged_outputs(
    files: Mapping[str, OptionalPath], directories: Mapping[str, OptionalPath] | None = None
) -> Iterator[dict[str, Path | None]]:
    """Temporary stand-ins for several outputs, moved into place together.

    Yields ``{key: temporary path}`` (None where the output is not wanted).
    The body writes there; when it returns every output is moved to its
    real path. If it raises (or is interrupted), the stand-ins are removed
    and no real output is touched.
    """
    staged: dict[str, Path | None] = {}
    targets: list[tuple[Path, Path, bool]] = []
    try:
        for kind_is_dir, group in ((False, files), (True, directories or {})):
            for key, path in group.items():
                if path is None:
                    staged[key] = None
                    continue
                target = Path(path)
                holder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=_parent(target)))
                staged[key] = holder / target.name
                targets.append((holder, target, kind_is_dir))
        yield staged
        for holder, target, is_dir in targets:
            built = holder / target.name
            if is_dir:
                if built.is_dir():
                    replace_directory(built, target)
            elif built.exists():
                _usual_mode(built, 0o666)
                os.replace(built, target)
    finally:
        for holder, _, _ in targets:
            shutil.rmtree(holder, ignore_errors=True)
