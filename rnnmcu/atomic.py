"""Atomic output files: a result is either complete at its path or not there at all.

Every writer of a user-visible file (models, datasets, generated C, reports) goes through here,
so no command leaves a half-written file behind when it fails or is interrupted."""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import IO, Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[str]:
    """A temporary path beside ``path``: write it inside the block; on normal exit it replaces
    ``path``, on any exception it is removed and ``path`` is left as it was.  For writers that
    want a path (e.g. Keras' ``model.save``)."""
    target = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".rnnmcu-", suffix=suffix, dir=os.path.dirname(os.path.abspath(target)))
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", suffix: str = ".tmp",
                **open_kw: Any) -> Iterator[IO[Any]]:
    """An open temporary file beside ``path``, flushed to disk and renamed to ``path`` when the
    block ends normally; removed, with ``path`` untouched, when it raises."""
    with atomic_path(path, suffix) as tmp:
        with open(tmp, mode, **open_kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
