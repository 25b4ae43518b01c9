"""Typed documents of the mofgen database (DESIGN §2).

One pydantic model per collection: :class:`StructureDoc` (``structures``),
:class:`LinkerDoc` (``linkers``), :class:`ModelVersionDoc` (``models``) and
:class:`CampaignDoc` (``campaigns``). ``to_mongo``/``from_mongo`` round-trip through
MongoDB (field names are the database's, e.g. ``_id``, ``validate``); ``StructureDoc``
also round-trips to a pymatgen ``Structure``. Times are timezone-aware UTC in Python and
stored as BSON dates.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import importlib
import math
import os
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from mofgen.errors import InvalidInput


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: Any) -> Any:
    """MongoDB hands back naive datetimes that are UTC; make them aware."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def jsonable(value: Any) -> Any:
    """Stored values → plain JSON, stably: datetimes ISO-8601 UTC, NaN/inf → null,
    tuples → lists, anything else (ObjectId, …) → its string."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


DEFAULT_KIND = "mof"  # the kind of a campaign or document that does not name one


class State(str, enum.Enum):
    """Where a candidate is in the ladder; the legal moves are in :mod:`mofgen.states`."""

    GENERATED = "generated"
    VALIDATED = "validated"
    SIMULATED = "simulated"
    ADSORBED = "adsorbed"
    RETRAINED = "retrained"
    REJECTED = "rejected"
    FAILED = "failed"


class _Document(BaseModel):
    """Shared behaviour: MongoDB field names, validation errors as :class:`InvalidInput`."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", use_enum_values=True)

    @field_validator("*", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        return as_utc(value)

    def to_mongo(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="python")

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]):
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or cls.__name__
            raise InvalidInput(
                f"invalid {cls.__name__} {doc.get('_id', '')!s}: {where}: {first['msg']}"
            ) from None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        return cls.from_mongo(data)


class _Record(BaseModel):
    """A nested record: every field typed, unknown keys refused (typos never pass silently)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", allow_inf_nan=False,
                              use_enum_values=True)

    @field_validator("*", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        return as_utc(value)


class StageRecord(_Record):
    """Base of the typed numbers a stage writes (``validate``, ``simulate``, …).

    Each campaign kind declares one subclass per stage (``mofgen.records``); the state
    machine validates a record against its stage's class before writing it.
    """

    finished: dt.datetime | None = None
    workdir: str | None = None


@dataclass(frozen=True)
class Stage:
    """A step of a kind's ladder: the state it consumes, the state it produces, where it runs.

    ``scope`` says what one job works on: one ``structure``, a ``batch`` of structures
    (batched ML inference), or the whole ``campaign`` (generate creates documents,
    retrain trains on a set). ``source`` is ``None`` for a stage that creates documents.
    """

    name: str
    source: State | None
    target: State
    category: str  # FireWorks _category: gpu, cpu or mpi
    record: type[StageRecord] = StageRecord
    # how long a claim lasts without renewal: a running job's heartbeat renews it every
    # third of this, so it bounds how soon a dead worker's document is taken over
    lease_seconds: float = 600.0
    scope: Literal["structure", "batch", "campaign"] = "structure"


class KindSettings(_Record):
    """Base of a campaign kind's own config section (``mof:``, ``crystal:``, …)."""


@dataclass(frozen=True)
class KindSchema:
    """What the data model must know of a campaign kind: its ladder and its settings."""

    name: str
    ladder: tuple[Stage, ...]
    settings: type[KindSettings]

    def stage(self, name: str) -> Stage:
        for stage in self.ladder:
            if stage.name == name:
                return stage
        known = ", ".join(s.name for s in self.ladder)
        raise InvalidInput(f"unknown stage {name!r} for a {self.name} (known: {known})")

    @property
    def records(self) -> dict[str, type[StageRecord]]:
        return {stage.name: stage.record for stage in self.ladder}


# Campaign kinds are plugins: classes with a ``name`` and a ``schema()`` (the built-in ones
# subclass ``mofgen.kinds.base.CampaignKind``). They are found through the ``mofgen.kinds``
# entry-point group (mofgen's own pyproject declares ``mof`` and ``crystal``) and through
# ``$MOFGEN_KINDS`` (``package.module:ClassName``, comma-separated), so this module, the
# state machine and the stores know that kinds exist but never import one.
ENTRY_POINT_GROUP = "mofgen.kinds"
ENV_KINDS = "MOFGEN_KINDS"
_KIND_CLASSES: dict[str, Any] = {}
_discovered = False


def register_kind_class(cls: Any) -> None:
    """Make a kind class known (discovery does this; tests may for a kind of their own)."""
    _KIND_CLASSES[cls.name] = cls


def _load_kind(spec: str) -> Any:
    module, _, name = spec.strip().partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidInput(f"{ENV_KINDS} names {spec!r}, which cannot be loaded: {exc}"
                           ) from None


def kind_classes() -> dict[str, Any]:
    """Every campaign kind class, discovered once per process."""
    global _discovered
    if not _discovered:
        _discovered = True
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            _KIND_CLASSES.setdefault(entry.name, entry.load())
        for spec in filter(str.strip, os.environ.get(ENV_KINDS, "").split(",")):
            register_kind_class(_load_kind(spec))
    if not _KIND_CLASSES:
        raise InvalidInput("no campaign kinds are installed: install mofgen (pip install -e .)")
    return _KIND_CLASSES


def kind_schema(name: str) -> KindSchema:
    """The data model of a campaign kind: its ladder and settings section."""
    classes = kind_classes()
    if name not in classes:
        raise InvalidInput(f"unknown campaign kind {name!r} (known: "
                           f"{', '.join(sorted(classes))})")
    return classes[name].schema()


def kind_schemas() -> dict[str, KindSchema]:
    return {name: cls.schema() for name, cls in kind_classes().items()}


# ----------------------------------------------------------------------------- structures
class HistoryEntry(_Record):
    """One state transition, appended atomically with the transition itself."""

    from_state: str = Field(alias="from")
    to_state: str = Field(alias="to")
    time: dt.datetime
    worker: str | None = None
    fw_id: int | None = None
    duration_s: float | None = None
    versions: dict[str, str] = Field(default_factory=dict)


class Lease(_Record):
    """A worker's claim on a document for one stage; expired leases can be taken over."""

    owner: str
    stage: str
    acquired: dt.datetime
    expires: dt.datetime


class LinkerRef(_Record):
    smiles: str
    anchor: str | None = None
    model_version: str | None = None
    linker_id: str | None = None


class Identifiers(_Record):
    formula: str | None = None
    linker_smiles: list[str] = Field(default_factory=list)
    structure_hash: str | None = None
    crystal_key: str | None = None  # "<formula>:<space group>:<orbits>", de-dup bucket (crystals)


class Failure(_Record):
    stage: str
    message: str
    attempts: int = 1
    failed_from: str | None = None  # the state a retry returns to


class Rejection(_Record):
    stage: str
    reason: str
    value: float | None = None
    threshold: float | None = None


class StructureDoc(_Document):
    """A candidate MOF or crystal: one document from generation to retraining."""

    id: str = Field(alias="_id")
    campaign: str
    kind: str = DEFAULT_KIND
    state: State = State.GENERATED
    structure: dict[str, Any]
    linkers: list[LinkerRef] = Field(default_factory=list)
    node: str | None = None
    identifiers: Identifiers = Field(default_factory=Identifiers)
    # the stage records, one per stage of the kind's ladder that has run (typed per kind)
    records: dict[str, SerializeAsAny[StageRecord]] = Field(default_factory=dict)
    history: list[HistoryEntry] = Field(default_factory=list)
    lock: Lease | None = None
    attempts: dict[str, int] = Field(default_factory=dict)
    failure: Failure | None = None
    rejection: Rejection | None = None
    origin: dict[str, Any] = Field(default_factory=dict)  # generator, prototype, substitution…
    also_in: list[str] = Field(default_factory=list)  # other campaigns that generated it
    retrain_versions: list[str] = Field(default_factory=list)  # models it helped train
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


    @model_validator(mode="before")
    @classmethod
    def _typed_records(cls, data: Any) -> Any:
        """Stage sub-documents (``validate``, …) sit at the top level in MongoDB; each is
        validated with the record class its kind's ladder declares for that stage."""
        if not isinstance(data, dict) or "records" in data:
            return data
        schema = kind_schema(data.get("kind", DEFAULT_KIND))
        data = dict(data)
        records = {}
        for name, record_type in schema.records.items():
            if data.get(name) is not None:
                raw = data.pop(name)
                records[name] = raw if isinstance(raw, StageRecord) else \
                    record_type.model_validate(raw)
        data["records"] = records
        return data

    @model_serializer(mode="wrap")
    def _flat_records(self, handler):
        data = handler(self)
        data.update(data.pop("records", None) or {})
        return data

    def record(self, stage: str) -> StageRecord | None:
        return self.records.get(stage)

    @field_validator("structure")
    @classmethod
    def _is_pymatgen_structure(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "lattice" not in value or "sites" not in value:
            raise ValueError("not a pymatgen Structure dict (needs 'lattice' and 'sites')")
        return value

    @classmethod
    def from_structure(
        cls,
        structure,
        campaign: str,
        kind: str = DEFAULT_KIND,
        doc_id: str | None = None,
        **fields: Any,
    ) -> StructureDoc:
        """A new ``generated`` document; the id is derived from the structure when not given."""
        data = structure.as_dict()
        identifiers = fields.pop("identifiers", None) or {}
        identifiers.setdefault("formula", structure.composition.reduced_formula)
        identifiers.setdefault("structure_hash", default_structure_hash(structure))
        if doc_id is None:
            doc_id = f"{kind}-{identifiers['structure_hash'][:16]}"
        return cls(
            id=doc_id, campaign=campaign, kind=kind, structure=data,
            identifiers=identifiers, **fields,
        )

    def to_structure(self):
        from pymatgen.core import Structure

        return Structure.from_dict(self.structure)


def default_structure_hash(structure) -> str:
    """A stable hash of composition and cell for ids; the chemistry layer may refine it."""
    sites = sorted(
        (site.species_string, *[round(float(x) % 1.0, 3) % 1.0 for x in site.frac_coords])
        for site in structure
    )
    lattice = [round(float(x), 2) for x in structure.lattice.abc + structure.lattice.angles]
    text = repr((lattice, sites))
    return hashlib.sha256(text.encode()).hexdigest()


# ----------------------------------------------------------------------------- linkers
class LinkerDoc(_Document):
    """A linker a generator proposed, with what became of it (``fate``)."""

    id: str = Field(alias="_id")
    campaign: str
    smiles: str
    inchikey: str | None = None
    anchor: str
    model_version: str | None = None
    geometry: dict[str, Any] | None = None  # {"symbols": [...], "coords": [[x, y, z], ...]} Å
    # the processed geometry (as placed in a MOF) as a fine-tuning example:
    # {"symbols", "coords" (Å), "n_fragment"}; or why it cannot be one
    training_entry: dict[str, Any] | None = None
    training_rejection: str | None = None
    fate: str = "generated"  # generated | processed | rejected:<reason> | used
    structure_ids: list[str] = Field(default_factory=list)
    created_at: dt.datetime = Field(default_factory=utcnow)



# ----------------------------------------------------------------------------- models
class ModelVersionDoc(_Document):
    """A generator or screener version; the checkpoint bytes live in GridFS."""

    id: str = Field(alias="_id")
    kind: Literal["generator", "screener"] = "generator"
    parent: str | None = None
    training_set_ids: list[str] = Field(default_factory=list)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    checkpoint_file_id: Any = None
    campaign: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)



# ----------------------------------------------------------------------------- campaigns
class Resources(_Record):
    """How many workers of each FireWorks category a campaign expects."""

    gpu: int = Field(default=1, ge=0, le=4096)
    cpu: int = Field(default=1, ge=0, le=4096)
    mpi: int = Field(default=0, ge=0, le=4096)


class Budget(_Record):
    minutes: float | None = Field(default=None, gt=0, le=1e7)
    max_structures: int | None = Field(default=None, gt=0, le=10**9)


class CampaignConfig(_Record):
    """Everything that shapes a campaign, stored with it so results stay interpretable.

    The fields here are those of every kind; the kind's own settings sit in a section
    named after it (``mof:``, ``crystal:``), validated with the class the kind registered
    (``kind_schema(kind).settings``) and available as ``config.settings``. Configs
    written before sections existed (kind settings at the top level) still load, with
    one deprecation line.
    """

    kind: str = DEFAULT_KIND
    resources: Resources = Field(default_factory=Resources)
    budget: Budget = Field(default_factory=Budget)
    queue_depth_per_worker: int = Field(default=2, gt=0, le=1000)
    max_waiting_validation: int = Field(default=32, gt=0, le=10**6)  # generation backpressure
    seed: int = Field(default=0, ge=0, lt=2**31)
    # on Ctrl-C, SIGTERM or a spent budget, running tasks get this long to finish before
    # they are interrupted and queued again
    stop_grace_seconds: float = Field(default=30.0, ge=0, le=3600)
    settings: SerializeAsAny[KindSettings] = Field(default_factory=KindSettings)

    @model_validator(mode="before")
    @classmethod
    def _kind_section(cls, data: Any) -> Any:
        if not isinstance(data, dict) or isinstance(data.get("settings"), KindSettings):
            return data
        data = dict(data)
        kind = data.get("kind", DEFAULT_KIND)
        if not isinstance(kind, str):
            raise ValueError("kind must be a name, e.g. mof or crystal")
        try:
            schema = kind_schema(kind)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        section = data.pop(kind, None)
        if section is None:
            section = {}
        if not isinstance(section, dict):
            raise ValueError(f"'{kind}:' must be a mapping of settings")
        section = dict(section)
        generic = set(cls.model_fields) - {"settings"}
        flat = [key for key in list(data) if key not in generic
                and key in schema.settings.model_fields and key not in kind_classes()]
        for key in flat:
            section.setdefault(key, data.pop(key))
        if flat:
            _deprecated(f"config keys {', '.join(sorted(flat))} belong in the '{kind}:' "
                        "section now; read them from the top level this time")
        for other in kind_classes():
            if other != kind and other in data:
                raise ValueError(f"section '{other}:' is for {other} campaigns, "
                                 f"but this campaign's kind is {kind}")
        try:
            data["settings"] = schema.settings.model_validate(section)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in (kind, *first["loc"]))
            raise ValueError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
        return data

    @model_serializer(mode="wrap")
    def _section_named_after_kind(self, handler):
        data = handler(self)
        data[self.kind] = data.pop("settings")
        return data


_warned: set[str] = set()


def _deprecated(message: str) -> None:
    """One line on stderr per distinct message and process."""
    if message not in _warned:
        _warned.add(message)
        print(f"mofgen: deprecated: {message}", file=sys.stderr)


class Runner(_Record):
    """The ``mofgen run`` process driving a campaign (one at a time)."""

    host: str
    pid: int
    started: dt.datetime
    heartbeat: dt.datetime


class CampaignDoc(_Document):
    id: str = Field(alias="_id")
    kind: str = DEFAULT_KIND
    config: CampaignConfig = Field(default_factory=CampaignConfig)
    status: Literal["created", "running", "stopped", "finished"] = "created"
    counters: dict[str, int] = Field(default_factory=dict)
    runner: Runner | None = None
    references: dict[str, Any] | None = None  # crystal campaigns: the hull's phases (References)
    # the last failure of each campaign-wide stage: {"params_key", "message", "time"}
    failures: dict[str, dict[str, Any]] = Field(default_factory=dict)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)



def shipped_configs() -> dict[str, str]:
    """Configs that ship with mofgen, by name (``--config demo``)."""
    from importlib import resources

    folder = resources.files("mofgen") / "data" / "configs"
    return {f.name.rsplit(".", 1)[0]: str(f) for f in folder.iterdir() if f.name.endswith(".yaml")}


def load_config(path: str) -> CampaignConfig:
    """Read a campaign config (YAML or JSON file, or a shipped config's name).

    Any problem is one :class:`InvalidInput` line.
    """
    import os

    import yaml

    if not os.path.exists(path) and path in shipped_configs():
        path = shipped_configs()[path]
    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise InvalidInput(f"cannot read config {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"config {path} is not a text file (YAML or JSON)") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"config {path} is not valid YAML/JSON: {exc}".splitlines()[0]) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of 5000 digits, deep nesting
        raise InvalidInput(f"config {path} cannot be read: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200]}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"config {path} must be a mapping, got {type(data).__name__}")
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ").splitlines()[0]
        raise InvalidInput(f"config {path}: {where + ': ' if where else ''}{message}") from None
    except RecursionError:
        raise InvalidInput(f"config {path} is nested too deeply") from None
