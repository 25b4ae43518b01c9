"""Campaign kinds: each one module, registered here; the engine asks them, never branches.

``get_kind(name)`` returns the registered :class:`~mofgen.kinds.base.CampaignKind`;
``kind_of(doc_or_config)`` the kind of a stored document or config. The built-in kinds are
``mof`` (:mod:`mofgen.kinds.mof`) and ``crystal`` (:mod:`mofgen.kinds.crystal`). More kinds
come from installed packages (the ``mofgen.kinds`` entry-point group) or from modules named
in ``$MOFGEN_KINDS`` (``package.module:ClassName``, comma-separated; every process of a
campaign — daemon, launchers, dashboard — must see the same value), each a subclass of
:class:`CampaignKind` in one module (docs/ARCHITECTURE.md, "How to add a kind").
"""

from __future__ import annotations

import importlib
import os
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


def _load(spec: str) -> type[CampaignKind]:
    module, _, name = spec.strip().partition(":")
    try:
        kind = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidInput(f"MOFGEN_KINDS names {spec!r}, which cannot be loaded: {exc}"
                           ) from None
    if not (isinstance(kind, type) and issubclass(kind, CampaignKind)):
        raise InvalidInput(f"MOFGEN_KINDS names {spec!r}, which is not a CampaignKind")
    return kind


register_kind(MofKind())
register_kind(CrystalKind())
for _entry in entry_points(group="mofgen.kinds"):
    register_kind(_entry.load()())
for _spec in filter(str.strip, os.environ.get("MOFGEN_KINDS", "").split(",")):
    register_kind(_load(_spec)())

__all__ = ["CampaignKind", "Column", "get_kind", "kind_names", "kind_of", "register_kind"]
