"""The model registry: every trained model version of every kind, in the database.

A campaign trains two kinds of model, the linker generator (MOF campaigns) and the
crystal screener (crystal campaigns); both are kept the same way. A version is a
``models`` document (:class:`~mofgen.documents.ModelVersionDoc`: kind, parent, training-set
ids, hyperparameters, metrics, campaign) plus its checkpoint bytes in GridFS, written and
read through :meth:`MofgenDB.put_checkpoint` / :meth:`MofgenDB.read_checkpoint`. Version
ids are ``<prefix>-<UTC time>-<checkpoint digest>``, so an id names one checkpoint for good
and loaded models can be cached by id.

The model modules keep only what is theirs: turning a model into bytes and back
(:data:`LOADERS`) and, for the generator, the checkpoint shipped inside the package
(:data:`BUILTINS`). They are imported only when a version of their kind is loaded, so this
module does not import torch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any, Literal

from mofgen.documents import ModelVersionDoc
from mofgen.errors import InvalidInput, NotFound

ModelKind = Literal["generator", "screener"]

#: Version-id prefix of each kind.
PREFIXES: dict[str, str] = {"generator": "gen", "screener": "scr"}
#: ``module:function(data: bytes, version: str) -> model`` of each kind.
LOADERS: dict[str, str] = {
    "generator": "mofgen.generator.checkpoints:from_bytes",
    "screener": "mofgen.crystal.screener:screener_from_bytes",
}
#: ``module:function(version: str) -> model | None``: versions that need no database.
BUILTINS: dict[str, str] = {"generator": "mofgen.generator.checkpoints:builtin"}
CACHE_SIZE = 4  # loaded versions kept per process (CHGNet ~2 MB, generator ~1 MB each)

_LOADED: OrderedDict[tuple[str, str], Any] = OrderedDict()


def _check_kind(kind: str) -> None:
    if kind not in PREFIXES:
        raise InvalidInput(f"unknown model kind {kind!r}; known: {', '.join(PREFIXES)}")


def _function(spec: str) -> Callable[..., Any]:
    module, name = spec.split(":")
    return getattr(import_module(module), name)


def digest(data: bytes) -> str:
    """Short content hash of checkpoint bytes (12 hex digits)."""
    return hashlib.sha256(data).hexdigest()[:12]


def new_version_id(kind: str, data: bytes) -> str:
    """``gen-20261129-214501-3fa2c1``: kind, UTC time of registration, digest of ``data``."""
    _check_kind(kind)
    return f"{PREFIXES[kind]}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{digest(data)[:6]}"


# ---------------------------------------------------------------------------- writing

def register(db: Any, kind: str, data: bytes, *, version: str | None = None,
             parent: str | None = None, training_set_ids: Sequence[str] = (),
             hyperparameters: dict[str, Any] | None = None,
             metrics: dict[str, float] | None = None,
             campaign: str | None = None) -> ModelVersionDoc:
    """Store checkpoint ``data`` and its version document; returns the document.

    ``version`` defaults to :func:`new_version_id`. Registering an id that exists returns
    the stored document and writes nothing (a retried job registers once).
    """
    _check_kind(kind)
    version = version or new_version_id(kind, data)
    existing = db.models.find_one({"_id": version})
    if existing:
        return ModelVersionDoc.from_mongo(existing)
    doc = ModelVersionDoc(_id=version, kind=kind, parent=parent,
                          training_set_ids=[str(i) for i in training_set_ids],
                          hyperparameters=dict(hyperparameters or {}),
                          metrics={k: float(v) for k, v in (metrics or {}).items()},
                          checkpoint_file_id=db.put_checkpoint(version, data),
                          campaign=campaign)
    db.models.insert_one(doc.to_mongo())
    return doc


def update_metrics(db: Any, version: str, metrics: dict[str, float]) -> None:
    """Add or overwrite metrics of a version (e.g. quality measured after registration)."""
    db.models.update_one({"_id": version}, {"$set": {f"metrics.{k}": float(v)
                                                      for k, v in metrics.items()}})


# ---------------------------------------------------------------------------- reading

def get_version(db: Any, version: str, kind: str | None = None) -> ModelVersionDoc:
    """The version document; :class:`NotFound` naming a few known versions of ``kind``."""
    doc = db.models.find_one({"_id": version})
    if doc is None:
        what = kind or "model"
        query = {"kind": kind} if kind else {}
        known = [d["_id"] for d in db.models.find(query, {"_id": 1})
                 .sort("created_at", -1).limit(5)]
        hint = f" (known: {', '.join(known)})" if known else f" (no {what} versions yet)"
        raise NotFound(f"{what} version {version} not found{hint}")
    return ModelVersionDoc.from_mongo(doc)


def list_versions(db: Any, kind: str | None = None,
                  campaign: str | None = None) -> list[ModelVersionDoc]:
    """Versions, newest first, optionally of one kind and one campaign."""
    query: dict[str, Any] = {}
    if kind:
        query["kind"] = kind
    if campaign:
        query["campaign"] = campaign
    return [ModelVersionDoc.from_mongo(d)
            for d in db.models.find(query).sort("created_at", -1)]


def latest_version(db: Any, kind: str, campaign: str | None = None) -> str | None:
    """Id of the newest version of ``kind`` (of ``campaign`` when given), or None."""
    query: dict[str, Any] = {"kind": kind}
    if campaign:
        query["campaign"] = campaign
    doc = db.models.find_one(query, {"_id": 1}, sort=[("created_at", -1)])
    return doc["_id"] if doc else None


def current_version(db: Any, kind: str, campaign: str) -> str | None:
    """The version of ``kind`` that ``campaign`` uses now: its newest promoted one, or None.

    A version whose metrics say ``promoted: 0`` (a screener that did not beat its parent on
    held-out data, a generator whose samples lost validity) is kept for the record but not
    used; versions without that metric are. None means the kind's starting model (the
    shipped generator or CHGNet).
    """
    doc = db.models.find_one({"kind": kind, "campaign": campaign, "metrics.promoted": {"$ne": 0}},
                             {"_id": 1}, sort=[("created_at", -1)])
    return doc["_id"] if doc else None


def load(db: Any, kind: str, version: str) -> Any:
    """The model of ``version`` (must be of ``kind``), kept loaded for the next call.

    Built-in versions (the generator shipped in the package) need no database. Callers
    must not modify the returned model: fine-tuning works on a copy.
    """
    _check_kind(kind)
    if kind in BUILTINS:
        model = _function(BUILTINS[kind])(version)
        if model is not None:
            return model
    if db is None:
        raise NotFound(f"{kind} version {version} not found: no database given (--db)")
    doc = get_version(db, version, kind).to_mongo()
    key = (version, str(doc.get("checkpoint_file_id")))
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    model = _function(LOADERS[kind])(db.read_checkpoint(doc, kind), version)
    _LOADED[key] = model
    while len(_LOADED) > CACHE_SIZE:
        _LOADED.popitem(last=False)
    return model
