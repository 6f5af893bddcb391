"""Atomic writes: nothing half-written is ever left where a result is expected.

Every writer of the project writes to a temporary sibling (``.<name>.tmp-<pid>``) and moves
it into place only when complete, so a crash leaves either the old result or none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


def temporary_sibling(path: Path) -> Path:
    """The temporary path used while ``path`` is being written."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def remove(path: Path) -> None:
    """Remove a file or a directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write; on success move it to ``path``, on error delete it.

    Works for single files and for directory stores such as Zarr.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    remove(tmp)
    try:
        yield tmp
    except BaseException:
        remove(tmp)
        raise
    remove(path)
    os.replace(tmp, path)

