"""A progress bar for long dask computations (writes, fits), drawn with tqdm on stderr."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from dask.callbacks import Callback

__all__ = ["progress"]


class _TqdmCallback(Callback):
    """Counts finished dask tasks into a tqdm bar."""

    def __init__(self, description: str) -> None:
        super().__init__()
        self._description = description
        self._bar: Any = None

    def _start_state(self, dsk: Any, state: Any) -> None:
        from tqdm.auto import tqdm

        total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
        self._bar = tqdm(total=total, desc=self._description, unit="task", file=sys.stderr, leave=False)

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextlib.contextmanager
def progress(*, enabled: bool = True, description: str = "pycrox") -> Iterator[None]:
    """Show a progress bar for every dask computation run inside the block (local schedulers)."""
    if not enabled:
        yield
        return
    with _TqdmCallback(description):
        yield
