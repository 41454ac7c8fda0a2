"""Type stubs for the native extension module ``ferrets._native``."""

import asyncio
import os
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import Future
from typing import Any, TypeVar, final, overload

from _typeshed import SupportsKeysAndGetItem

from ferrets._views import TableItemsView, TableKeysView, TableValuesView

_T = TypeVar("_T")

__all__ = ["Overloaded", "Pool", "ShuttingDown", "Table", "TableIterator", "__version__", "cancelled", "drop", "names", "open"]

__version__: str

@final
class Table(MutableMapping[Any, Any]):
    """A thread-safe mutable mapping with a Rust core, usable from many threads at once."""

    def __new__(cls, name: str | None = None, partitions: int | None = None, capacity: int = 0) -> Table:
        """An empty table; with ``name``, also registered for ``ferrets.open``."""
    @property
    def name(self) -> str | None:
        """The name given at creation (``None`` for an anonymous table)."""
    def drop(self) -> None:
        """Unregister a named table; existing handles keep working."""
    def __getitem__(self, key: Any, /) -> Any:
        """The value under ``key``; ``KeyError`` when absent."""
    def __setitem__(self, key: Any, value: Any, /) -> None:
        """Store a copy of ``value`` under ``key``."""
    def __delitem__(self, key: Any, /) -> None:
        """Remove ``key``; ``KeyError`` when absent."""
    def __contains__(self, key: object, /) -> bool:
        """Whether ``key`` is present."""
    def __len__(self) -> int:
        """The number of entries."""
    def __iter__(self) -> TableIterator:
        """Iterate over the keys (walks the live table; never fails under concurrent writes)."""
    def __eq__(self, other: object, /) -> bool:
        """Equal to a mapping with the same items (compared on a snapshot)."""
    def __ne__(self, other: object, /) -> bool:
        """The negation of ``==``."""
    @overload
    def get(self, key: Any, default: None = None, /) -> Any | None:
        """The value under ``key``, or ``default`` when it is absent."""
    @overload
    def get(self, key: Any, default: Any, /) -> Any:
        """The value under ``key``, or ``default`` when it is absent."""
    @overload
    def pop(self, key: Any, /) -> Any:
        """Remove ``key`` and return its value (``default``, or ``KeyError``, if absent)."""
    @overload
    def pop(self, key: Any, default: Any, /) -> Any:
        """Remove ``key`` and return its value, or ``default`` when absent."""
    def popitem(self) -> tuple[Any, Any]:
        """Remove and return some ``(key, value)``; ``KeyError`` when empty."""
    def setdefault(self, key: Any, default: Any = None, /) -> Any:
        """The value under ``key``; if absent, store ``default`` and return it."""
    @overload
    def update(self, other: SupportsKeysAndGetItem[Any, Any], /, **kwargs: Any) -> None:
        """Store every item of ``other`` and of ``kwargs``, all or nothing."""
    @overload
    def update(self, other: Iterable[tuple[Any, Any]], /, **kwargs: Any) -> None:
        """Store every ``(key, value)`` pair of ``other`` and of ``kwargs``, all or nothing."""
    @overload
    def update(self, /, **kwargs: Any) -> None:
        """Store every item of ``kwargs``."""
    def clear(self) -> None:
        """Remove every entry."""
    def keys(self) -> TableKeysView:
        """A set-like view of the keys (iterates over the live table)."""
    def values(self) -> TableValuesView:
        """A view of the values (iterates over the live table)."""
    def items(self) -> TableItemsView:
        """A set-like view of the items (iterates over the live table)."""
    def _iter_values(self) -> TableIterator:
        """An iterator over the values (used by ``values()``)."""
    def _iter_items(self) -> TableIterator:
        """An iterator over the items (used by ``items()``)."""
    def copy(self) -> Table:
        """A new anonymous table with a snapshot of the entries."""
    def to_dict(self) -> dict[Any, Any]:
        """A ``dict`` of the entries, read a batch at a time (not atomic with respect to concurrent writes)."""
    def insert_new(self, key: Any, value: Any) -> bool:
        """Store ``value`` only if ``key`` is absent; return whether it did."""
    def incr(self, key: Any, by: int = 1, default: int = 0) -> int:
        """Atomically add ``by`` to the int under ``key`` and return the new value."""
    def memory(self) -> int:
        """Bytes held by the table (entries, slots and its read cache's slots)."""
    def save(self, path: str | os.PathLike[str]) -> int:
        """Write a crash-safe, checksummed snapshot to ``path``; return the entry count."""
    def load(self, path: str | os.PathLike[str]) -> int:
        """Store every entry of the snapshot at ``path``; return the count. A bad file changes nothing."""

@final
class TableIterator(Iterator[Any]):
    """An iterator over a table's keys, values or items (a cursor over the live table)."""

    def __iter__(self) -> TableIterator:
        """The iterator itself."""
    def __next__(self) -> Any:
        """The next key, value or ``(key, value)``."""
    def __length_hint__(self) -> int:
        """How many entries are left."""

def open(name: str) -> Table:
    """The table registered under ``name``; ``KeyError`` when there is none."""

def drop(name: str) -> None:
    """Unregister the table named ``name``; ``KeyError`` when there is none."""

def names() -> list[str]:
    """The names of the registered tables, sorted."""

# --- Pool (the bounded offload pool) ---

class Overloaded(Exception):
    """The pool's queue is full: the job was not accepted (retry later or shed load)."""

class ShuttingDown(RuntimeError):
    """The pool is shutting down: the job was not accepted."""

@final
class Pool:
    """A bounded pool of native worker threads; ``submit`` never blocks."""

    def __new__(cls, workers: int | None = None, queue: int = 1024, name: str = "ferrets-pool") -> Pool:
        """A pool of ``workers`` threads (default: one per core) and a queue of ``queue`` jobs."""
    def submit(
        self, func: Callable[..., _T], /, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> Future[_T]:
        """Schedule ``func(*args, **kwargs)``; ``ferrets.Overloaded`` when the queue is full."""
    def submit_blocking(
        self,
        func: Callable[..., _T],
        /,
        *args: Any,
        wait: float | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Future[_T]:
        """Like ``submit``, waiting up to ``wait`` seconds for queue room."""
    def submit_async(
        self, func: Callable[..., _T], /, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> asyncio.Future[_T]:
        """``submit`` for the running asyncio loop; cancelling the future cancels the job."""
    def shutdown(
        self, wait: bool = True, *, cancel_futures: bool = False, timeout: float | None = None
    ) -> dict[str, Any] | None:
        """Stop accepting jobs; drain (or cancel) what is queued; a report when ``wait``."""
    def metrics(self) -> dict[str, int | float]:
        """Counters and latency percentiles (seconds)."""
    @property
    def workers(self) -> int:
        """Number of worker threads."""
    @property
    def queue(self) -> int:
        """Queue capacity."""
    @property
    def name(self) -> str:
        """The pool's name."""
    def __enter__(self) -> Pool:
        """The pool itself."""
    def __exit__(self, *_exc: object) -> bool:
        """Shut down, waiting for queued jobs."""

def cancelled() -> bool:
    """Inside a pool job: whether it should stop (deadline passed, cancelled, pool aborting)."""
