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
import math
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mofgen.errors import InvalidInput


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _as_utc(value: Any) -> Any:
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
        return _as_utc(value).isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


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
        return _as_utc(value)

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
    """A nested record: known fields typed, stage-specific extras kept."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    @field_validator("*", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        return _as_utc(value)


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
    crystal_key: str | None = None  # "<reduced formula>:<space group>", de-dup bucket (crystals)


class StageRecord(_Record):
    """Numbers a stage wrote (e.g. ``validate.strain``, ``adsorb.co2_uptake`` in mol/kg)."""

    finished: dt.datetime | None = None


class Failure(_Record):
    stage: str
    message: str
    attempts: int = 1


class Rejection(_Record):
    stage: str
    reason: str
    value: float | None = None
    threshold: float | None = None


class StructureDoc(_Document):
    """A candidate MOF or crystal: one document from generation to retraining."""

    id: str = Field(alias="_id")
    campaign: str
    kind: Literal["mof", "crystal"] = "mof"
    state: State = State.GENERATED
    structure: dict[str, Any]
    linkers: list[LinkerRef] = Field(default_factory=list)
    node: str | None = None
    identifiers: Identifiers = Field(default_factory=Identifiers)
    validate_record: StageRecord | None = Field(default=None, alias="validate")
    simulate_record: StageRecord | None = Field(default=None, alias="simulate")
    adsorb_record: StageRecord | None = Field(default=None, alias="adsorb")
    retrain_record: StageRecord | None = Field(default=None, alias="retrain")
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
        kind: Literal["mof", "crystal"] = "mof",
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
class Thresholds(_Record):
    """MOFA's policy numbers (../papers/mofa.txt §III-C); every one is configurable."""

    stable_strain: float = 0.10
    retrain_strain: float = 0.25
    retrain_min_stable: int = 64
    retrain_min_adsorbed: int = 64
    min_pore_diameter_A: float = 3.3  # kinetic diameter of CO2 (Å)


class Resources(_Record):
    """How many workers of each FireWorks category a campaign expects."""

    gpu: int = 1
    cpu: int = 1
    mpi: int = 0


class Budget(_Record):
    minutes: float | None = None
    max_structures: int | None = None


class CrystalSettings(_Record):
    """Crystal campaigns (exa-AMD, ../papers/exa-amd.txt): generation, screen, hull."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    generator: str = "substitution"  # a name in mofgen.crystal.campaign.GENERATORS
    prototypes: list[str] | None = None  # shipped prototype names; None = all
    substitution_threshold: float = Field(default=1e-3, gt=0, lt=1)
    candidates_per_batch: int = Field(default=8, gt=0)
    max_formation_energy_eV: float = -0.2  # eV/atom; exa-AMD's screen keeps E_f below this
    hull_threshold_eV: float = Field(default=0.1, ge=0)  # eV/atom; exa-AMD flags E_hull below
    screen_batch_size: int = Field(default=16, gt=0)
    reference_relax_steps: int = Field(default=300, gt=0)
    retrain_min_relaxed: int = Field(default=8, gt=1)  # relaxed crystals before a retrain
    retrain_epochs: int = Field(default=30, gt=0)
    held_out_fraction: float = Field(default=0.25, gt=0, lt=1)


class CampaignConfig(_Record):
    """Everything that shapes a campaign, stored with it so results stay interpretable."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    kind: Literal["mof", "crystal"] = "mof"
    system: str | None = None  # crystal campaigns: the chemical system, e.g. "Li-Fe-O"
    crystal: CrystalSettings = Field(default_factory=CrystalSettings)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    resources: Resources = Field(default_factory=Resources)
    budget: Budget = Field(default_factory=Budget)
    md_steps: int = Field(default=2000, gt=0)
    gcmc_cycles: int = Field(default=1000, gt=0)
    temperature_K: float = Field(default=300.0, gt=0)
    pressure_bar: float = Field(default=0.1, gt=0)
    relax_steps: int = Field(default=200, gt=0)
    diffusion_steps: int = Field(default=100, gt=0)
    retrain_epochs: float = Field(default=2.0, gt=0)
    retrain_max_minutes: float = Field(default=10.0, gt=0)
    fidelity: Literal["mlip", "dft"] = "mlip"
    linkers_per_batch: int = Field(default=16, gt=0)
    queue_depth_per_worker: int = Field(default=2, gt=0)
    max_waiting_validation: int = Field(default=32, gt=0)  # generation backpressure
    anchors: list[str] = Field(default_factory=lambda: ["COO", "cyano"])
    seed: int = 0

    @model_validator(mode="after")
    def _system_for_crystals(self) -> CampaignConfig:
        if self.kind == "crystal":
            if not self.system:
                raise ValueError("a crystal campaign needs a chemical system, e.g. Li-Fe-O")
            from mofgen.crystal.prototypes import parse_system

            try:
                self.system = "-".join(parse_system(self.system))
            except InvalidInput as exc:
                raise ValueError(str(exc)) from None
        elif self.system:
            raise ValueError("'system' is for crystal campaigns (kind: crystal)")
        return self


class Runner(_Record):
    """The ``mofgen run`` process driving a campaign (one at a time)."""

    host: str
    pid: int
    started: dt.datetime
    heartbeat: dt.datetime


class CampaignDoc(_Document):
    id: str = Field(alias="_id")
    kind: Literal["mof", "crystal"] = "mof"
    config: CampaignConfig = Field(default_factory=CampaignConfig)
    status: Literal["created", "running", "stopped", "finished"] = "created"
    counters: dict[str, int] = Field(default_factory=dict)
    runner: Runner | None = None
    references: dict[str, Any] | None = None  # crystal campaigns: the hull's phases (References)
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
    except yaml.YAMLError as exc:
        raise InvalidInput(f"config {path} is not valid YAML/JSON: {exc}".splitlines()[0]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"config {path} must be a mapping, got {type(data).__name__}")
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidInput(f"config {path}: {where + ': ' if where else ''}{message}") from None
