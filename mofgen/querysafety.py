"""Only plain MongoDB filter operators in a query a user gives (``export --query``, …).

``$where``, ``$function`` and ``$accumulator`` carry code: a MongoDB server runs it as
JavaScript, and the embedded store (mongomock-ng) evaluates ``$where`` with Python's
``eval``, which can run shell commands. ``$expr`` opens the aggregation language, where
those hide again. A user filter needs none of it, so every ``$`` key must be in
:data:`ALLOWED_OPERATORS`; anything else is one :class:`InvalidInput` line naming it.
The same check serves both stores, since it looks at the query before either sees it.
"""

from __future__ import annotations

from typing import Any

from mofgen.errors import InvalidInput

ALLOWED_OPERATORS = frozenset({
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$and", "$or",
    "$nor", "$not", "$regex", "$options", "$size", "$all", "$elemMatch", "$type", "$mod",
})
MAX_DEPTH = 32  # deeper than any sensible filter; keeps a hostile one from recursing forever
MAX_NODES = 10_000


class _Walk:
    def __init__(self, what: str) -> None:
        self.what = what
        self.nodes = 0

    def refuse(self, message: str) -> None:
        raise InvalidInput(f"{self.what}: {message}")

    def value(self, value: Any, depth: int, path: str) -> None:
        self.nodes += 1
        if depth > MAX_DEPTH:
            self.refuse(f"nested deeper than {MAX_DEPTH} levels at {path}")
        if self.nodes > MAX_NODES:
            self.refuse(f"more than {MAX_NODES} terms")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    self.refuse(f"keys must be strings, got {key!r} at {path}")
                if key.startswith("$") and key not in ALLOWED_OPERATORS:
                    self.refuse(f"operator {key} is not allowed (allowed: "
                                f"{' '.join(sorted(ALLOWED_OPERATORS))})")
                if "\x00" in key:
                    self.refuse(f"NUL character in key {key!r}")
                self.value(item, depth + 1, f"{path}.{key}" if path else key)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                self.value(item, depth + 1, f"{path}[{index}]")
        elif callable(value):  # mongomock-ng calls a callable $where; never let one in
            self.refuse(f"a function is not a query value (at {path})")


def check_query(query: Any, what: str = "query") -> dict[str, Any]:
    """``query`` itself when it is a plain filter document; else one :class:`InvalidInput`
    line (naming the operator) that starts with ``what``."""
    if not isinstance(query, dict):
        raise InvalidInput(f"{what} must be a JSON object (a MongoDB filter), "
                           f"got {type(query).__name__}")
    _Walk(what).value(query, 0, "")
    return query
