"""Model versions: the ``models`` collection plus checkpoints in GridFS, and the shipped model.

A version id names one checkpoint for good (``gen-<UTC time>-<hash>``); the model that
ships inside the package is ``pretrained-<hash of its bytes>`` and is registered in a
database the first time something is fine-tuned from it, so every version's parent chain
resolves inside the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from mofgen.documents import ModelVersionDoc
from mofgen.errors import NotFound
from mofgen.generator.model import GeneratorModel

SHIPPED_NAMES = {"shipped", "pretrained", "default"}


def shipped_path() -> Path:
    """The small pretrained checkpoint inside the package (trained by ``mofgen train``)."""
    return Path(str(resources.files("mofgen") / "data" / "generator" / "pretrained.pt"))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@cache
def _shipped_bytes() -> bytes:
    path = shipped_path()
    if not path.is_file():
        raise NotFound(f"the shipped generator checkpoint is missing ({path}); "
                       "reinstall mofgen or train one with `mofgen train`")
    return path.read_bytes()


def shipped_version() -> str:
    return f"pretrained-{_digest(_shipped_bytes())}"


def shipped_model() -> GeneratorModel:
    return GeneratorModel.from_bytes(_shipped_bytes(), shipped_version(),
                                     source=f"checkpoint {shipped_path()}")


def new_version_id(data: bytes) -> str:
    return f"gen-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{_digest(data)[:6]}"


def register(db: Any, model: GeneratorModel, parent: str | None = None,
             training_set_ids: list[str] | None = None, hyperparameters: dict | None = None,
             metrics: dict[str, float] | None = None, campaign: str | None = None,
             version: str | None = None) -> ModelVersionDoc:
    """Store ``model``'s checkpoint in GridFS and its version document in ``models``."""
    data = model.to_bytes()
    version = version or model.version or new_version_id(data)
    existing = db.models.find_one({"_id": version})
    if existing:
        return ModelVersionDoc.from_mongo(existing)
    file_id = db.put_checkpoint(version, data)
    doc = ModelVersionDoc(_id=version, kind="generator", parent=parent,
                          training_set_ids=list(training_set_ids or []),
                          hyperparameters={**model.hyperparameters, **(hyperparameters or {})},
                          metrics=dict(metrics or {}), checkpoint_file_id=file_id,
                          campaign=campaign)
    db.models.insert_one(doc.to_mongo())
    model.version = version
    return doc


def ensure_shipped(db: Any) -> str:
    """Register the shipped model in ``db`` (once) and return its version id."""
    model = shipped_model()
    register(db, model, hyperparameters={"origin": "shipped with mofgen"})
    return model.version or shipped_version()


def latest_version(db: Any) -> str | None:
    doc = db.models.find_one({"kind": "generator"}, sort=[("created_at", -1)])
    return doc["_id"] if doc else None


def list_versions(db: Any) -> list[ModelVersionDoc]:
    return [ModelVersionDoc.from_mongo(d) for d in
            db.models.find({"kind": "generator"}).sort("created_at", -1)]


def load_version(db: Any, version: str) -> GeneratorModel:
    """The model of a registered version; NotFound / InvalidInput with a clear message."""
    if version in SHIPPED_NAMES or (db is None and version == shipped_version()):
        return shipped_model()
    if db is None:
        raise NotFound(f"model version {version} not found: no database given (--db)")
    doc = db.models.find_one({"_id": version})
    if doc is None:
        if version == shipped_version():
            return shipped_model()
        known = [d["_id"] for d in db.models.find({"kind": "generator"}, {"_id": 1}).limit(5)]
        hint = f" (known: {', '.join(known)})" if known else " (no generator versions yet)"
        raise NotFound(f"model version {version} not found{hint}")
    data = db.read_checkpoint(doc, "generator")
    return GeneratorModel.from_bytes(data, version, source=f"checkpoint of version {version}")


def update_metrics(db: Any, version: str, metrics: dict[str, float]) -> None:
    db.models.update_one({"_id": version}, {"$set": {f"metrics.{k}": float(v)
                                                      for k, v in metrics.items()}})
