"""Campaign kinds: each one module; the engine asks them and never branches on them.

``get_kind(name)`` returns the :class:`~mofgen.kinds.base.CampaignKind` of that name;
``kind_of(doc_or_config)`` the kind of a stored document or a config. The built-in kinds
are ``mof`` (:mod:`mofgen.kinds.mof`) and ``crystal`` (:mod:`mofgen.kinds.crystal`). Kinds
are plugins, found through the ``mofgen.kinds`` entry-point group (mofgen declares its own
there) or named in ``$MOFGEN_KINDS`` (``package.module:ClassName``; every process of a
campaign — daemon, launchers, dashboard — must see the same value); see
docs/ARCHITECTURE.md, "How to add a kind".
"""

from __future__ import annotations

from typing import Any

from mofgen.documents import DEFAULT_KIND, kind_classes, register_kind_class
from mofgen.errors import InvalidInput
from mofgen.kinds.base import CampaignKind, Column

_INSTANCES: dict[str, CampaignKind] = {}


def get_kind(name: str) -> CampaignKind:
    """The kind called ``name`` (one instance per process)."""
    if name not in _INSTANCES:
        classes = kind_classes()
        if name not in classes:
            raise InvalidInput(f"unknown campaign kind {name!r} (known: "
                               f"{', '.join(sorted(classes))})")
        _INSTANCES[name] = classes[name]()
    return _INSTANCES[name]


def register_kind(kind: CampaignKind) -> CampaignKind:
    """Add a kind in this process (installed kinds are discovered without this)."""
    register_kind_class(type(kind))
    _INSTANCES[kind.name] = kind
    return kind


def kind_of(item: Any) -> CampaignKind:
    """The kind of a config, a stored document (dict) or a typed document."""
    name = item.get("kind") if isinstance(item, dict) else getattr(item, "kind", None)
    return get_kind(name or DEFAULT_KIND)


def kind_names() -> list[str]:
    return sorted(kind_classes())


__all__ = ["CampaignKind", "Column", "get_kind", "kind_names", "kind_of", "register_kind"]
