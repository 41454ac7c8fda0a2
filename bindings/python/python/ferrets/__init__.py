"""ferrets: a fast, thread-safe concurrent table with a Rust core.

``ferrets.Table`` is a ``MutableMapping`` whose every operation is atomic, so
many threads can share one without a lock::

    >>> import ferrets
    >>> t = ferrets.Table()
    >>> t["hits"] = 1
    >>> t.incr("hits")
    2
    >>> t == {"hits": 2}
    True

Keys and values are stored by value (a copy; later changes to a stored list
are not seen): ``None``, ``bool``, ``int`` (any size), ``float``, ``str``,
``bytes``, and ``tuple``/``list``/``dict`` nesting those. Other types raise
``TypeError``. Equal keys are one key, as in a dict (``1``, ``1.0`` and
``True``; ``0.0`` and ``-0.0``), and iteration gives back the first-inserted
key (as a dict does). One difference: every ``nan`` key is the same key (a dict
matches a ``nan`` key only by identity, which a copy cannot keep).

Named tables are shared by name across threads: ``ferrets.Table(name="x")``
creates and registers one (``ValueError`` if the name is taken),
``ferrets.open("x")`` returns it from anywhere. The registry keeps a named
table alive until ``table.drop()`` or ``ferrets.drop("x")``; after that the
name is free and the table lives as long as its handles.
"""

from collections.abc import MutableMapping

from ferrets._native import (
    Overloaded,
    Pool,
    ShuttingDown,
    Table,
    TableIterator,
    __version__,
    cancelled,
    drop,
    names,
    open,
)

MutableMapping.register(Table)

__all__ = ["Overloaded", "Pool", "ShuttingDown", "Table", "TableIterator", "__version__", "cancelled", "drop", "names", "open"]
