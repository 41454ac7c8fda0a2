"""Views returned by ``Table.keys()``, ``values()`` and ``items()``.

They are the standard ``collections.abc`` views (set operations included),
except that they iterate with the table's cursor, so they never fail when
other threads write meanwhile (entries present throughout are seen once).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Any

__all__ = ["TableItemsView", "TableKeysView", "TableValuesView"]


class TableKeysView(KeysView[Any]):
    """A set-like view of a table's keys; iterates over the live table."""

    __slots__ = ()


class TableValuesView(ValuesView[Any]):
    """A view of a table's values; iterates over the live table."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the values."""
        return self._mapping._iter_values()  # type: ignore[attr-defined, no-any-return]

    def __contains__(self, value: object) -> bool:
        """Whether some value is (or equals) ``value``."""
        return any(v is value or v == value for v in self)


class TableItemsView(ItemsView[Any, Any]):
    """A set-like view of a table's ``(key, value)`` items; iterates over the live table."""

    __slots__ = ()

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        """Iterate over the items."""
        return self._mapping._iter_items()  # type: ignore[attr-defined, no-any-return]
