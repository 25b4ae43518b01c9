"""Campaign kinds: each one module, registered here; the engine asks them, never branches.

``get_kind(name)`` returns the registered :class:`~mofgen.kinds.base.CampaignKind`;
``kind_of(doc_or_config)`` the kind of a stored document or config. The built-in kinds are
``mof`` (:mod:`mofgen.kinds.mof`) and ``crystal`` (:mod:`mofgen.kinds.crystal`); packages
add more through the ``mofgen.kinds`` entry-point group, and :func:`register_kind` adds one
at run time (the tests' toy kind does).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from mofgen.documents import CampaignConfig, register_schema
from mofgen.errors import InvalidInput
from mofgen.kinds.base import CampaignKind, Column
from mofgen.kinds.crystal import CrystalKind
from mofgen.kinds.mof import MofKind

_KINDS: dict[str, CampaignKind] = {}


def register_kind(kind: CampaignKind) -> CampaignKind:
    """Make ``kind`` known to the data model, the state machine, stores and read side."""
    from mofgen.stores.connection import register_indexes

    _KINDS[kind.name] = kind
    register_schema(kind.schema())
    register_indexes("structures", kind.indexes)
    return kind


def get_kind(name: str) -> CampaignKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise InvalidInput(f"unknown campaign kind {name!r} (known: "
                           f"{', '.join(sorted(_KINDS))})") from None


def kind_of(item: CampaignConfig | dict[str, Any] | Any) -> CampaignKind:
    """The kind of a config, a stored document (dict) or a typed document."""
    name = item.get("kind", "mof") if isinstance(item, dict) else getattr(item, "kind", "mof")
    return get_kind(name or "mof")


def kind_names() -> list[str]:
    return sorted(_KINDS)


register_kind(MofKind())
register_kind(CrystalKind())
for _entry in entry_points(group="mofgen.kinds"):
    register_kind(_entry.load()())

__all__ = ["CampaignKind", "Column", "get_kind", "kind_names", "kind_of", "register_kind"]
