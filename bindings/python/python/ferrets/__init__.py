"""ferrets: a fast, thread-safe concurrent table with a Rust core.

>>> import ferrets
>>> t = ferrets.Table()
>>> t["hits"] = 1
>>> t["hits"]
1
"""

from collections.abc import MutableMapping

from ferrets._native import Table, __version__

MutableMapping.register(Table)

__all__ = ["Table", "__version__"]
