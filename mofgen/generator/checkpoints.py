"""Generator checkpoints: bytes <-> model for the registry, and the model shipped in the package.

Versions live in the model registry (:mod:`mofgen.models`). The shipped model is
``pretrained-<hash of its bytes>``; it loads without a database and is registered in one
(:func:`ensure_shipped`) the first time something is generated or fine-tuned from it, so
every version's parent chain resolves inside the database.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from mofgen import models
from mofgen.documents import ModelVersionDoc
from mofgen.errors import NotFound
from mofgen.generator.model import GeneratorModel

SHIPPED_NAMES = {"shipped", "pretrained", "default"}


def shipped_path() -> Path:
    """The small pretrained checkpoint inside the package (trained by ``mofgen train``)."""
    return Path(str(resources.files("mofgen") / "data" / "generator" / "pretrained.pt"))


@cache
def _shipped_bytes() -> bytes:
    path = shipped_path()
    if not path.is_file():
        raise NotFound(f"the shipped generator checkpoint is missing ({path}); "
                       "reinstall mofgen or train one with `mofgen train`")
    return path.read_bytes()


def shipped_version() -> str:
    return f"pretrained-{models.digest(_shipped_bytes())}"


def shipped_model() -> GeneratorModel:
    return GeneratorModel.from_bytes(_shipped_bytes(), shipped_version(),
                                     source=f"checkpoint {shipped_path()}")


def from_bytes(data: bytes, version: str) -> GeneratorModel:
    """The registry's loader: a stored checkpoint -> the model, labelled ``version``."""
    return GeneratorModel.from_bytes(data, version, source=f"checkpoint of version {version}")


def builtin(version: str) -> GeneratorModel | None:
    """The shipped model for its names and its version id; None for any other version."""
    if version in SHIPPED_NAMES or version == shipped_version():
        return shipped_model()
    return None


def register_generator(db: Any, model: GeneratorModel, parent: str | None = None,
                       training_set_ids: list[str] | None = None,
                       hyperparameters: dict | None = None,
                       metrics: dict[str, float] | None = None, campaign: str | None = None,
                       ) -> ModelVersionDoc:
    """Register ``model`` (its own hyperparameters included) and label it with its id."""
    data = model.to_bytes()
    doc = models.register(db, "generator", data, version=model.version, parent=parent,
                          training_set_ids=training_set_ids or [],
                          hyperparameters={**model.hyperparameters, **(hyperparameters or {})},
                          metrics=metrics, campaign=campaign)
    model.version = doc.id
    return doc


def ensure_shipped(db: Any) -> str:
    """Register the shipped model in ``db`` (once) and return its version id."""
    model = shipped_model()
    register_generator(db, model, hyperparameters={"origin": "shipped with mofgen"})
    return model.version or shipped_version()
