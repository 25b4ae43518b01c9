"""What a campaign kind is: the one interface the engine asks instead of branching on kinds.

A kind (MOF, crystal, …) declares its data model — a ladder of stages, each with its typed
record (:class:`mofgen.documents.Stage`), and a settings section for the campaign config —
and the behaviour the kind-agnostic engine needs from it: the stage Makers, the policy,
a start hook, the indexes its queries use, and how the read side (status, dashboard,
export) presents its structures. Everything has a sensible default here, so a new kind
overrides only what it does differently; a kind is one module (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mofgen.documents import (
    CampaignConfig,
    KindSchema,
    KindSettings,
    Stage,
    State,
    as_utc,
)
from mofgen.records import get_path

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mofgen.documents import CampaignDoc
    from mofgen.export.record import ExportContext
    from mofgen.policy import Policy

IndexSpec = list[tuple[str, int]]


@dataclass(frozen=True)
class Column:
    """A value shown for each structure: status lists, the dashboard table, export units.

    ``path`` is a stored field path (:mod:`mofgen.records`); ``sort`` is the direction that
    puts the best first (1 ascending, -1 descending), or 0 if the table cannot sort by it
    (sortable columns need an index on ``(campaign, path)``).
    """

    key: str
    label: str
    path: str
    unit: str = ""
    sort: int = 0
    digits: int = 3

    def value(self, doc: dict[str, Any]) -> Any:
        return get_path(doc, self.path)


# ------------------------------------------------------------------------- read-side specs
@dataclass(frozen=True, kw_only=True)
class Chart:
    """One plot of the campaign page. A kind declares what to plot; the dashboard computes
    the data with bounded queries (counts per bin, small samples) and draws it.

    ``id`` names the plot (``plot-<id>`` on the page), ``key`` its data in the charts JSON.
    """

    id: str
    key: str
    title: str


@dataclass(frozen=True, kw_only=True)
class Histogram(Chart):
    """Counts of a stored number in equal bins from min(lowest, 0) to the highest value;
    ``marker`` draws a threshold line, ``empty`` is said when nothing has the number yet."""

    path: str
    unit: str
    noun: str = "structures"
    bins: int = 20
    width_if_flat: float = 1.0  # bin width when every value is the same
    marker: float | None = None
    empty: str = ""


@dataclass(frozen=True, kw_only=True)
class Cumulative(Chart):
    """Structures whose ``path`` is below ``upper`` (``inclusive``: at or below), counted
    over the campaign's time bins by the time at ``time`` (e.g. when the stage finished)."""

    path: str
    upper: float
    inclusive: bool = False
    time: str


@dataclass(frozen=True, kw_only=True)
class Samples(Chart):
    """A few values of ``path`` per run hour by the time at ``time`` (box plots)."""

    path: str
    time: str
    unit: str = ""


@dataclass(frozen=True, kw_only=True)
class Figure(Chart):
    """A figure the kind computes itself: ``data(db)`` returns what the dashboard's figure
    builder named ``draw`` turns into a plotly figure (e.g. ``phase_diagram``)."""

    draw: str
    data: Callable[[Any], Any] = field(compare=False)


@dataclass(frozen=True)
class ReadmeSection:
    """A kind's part of an export's README: ``about`` is the opening sentence(s) after
    "Open database of" (the writer adds the states), ``files`` the markdown bullets that
    explain each file's fields."""

    about: str
    files: str


class CampaignKind(ABC):
    """Base of every campaign kind; subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    ladder: ClassVar[tuple[Stage, ...]]
    settings: ClassVar[type[KindSettings]] = KindSettings
    #: ``structures`` indexes for this kind's queries (each with ``campaign`` first)
    indexes: ClassVar[tuple[IndexSpec, ...]] = ()
    #: columns of the structure table and status lists; the first sortable is the default
    columns: ClassVar[tuple[Column, ...]] = ()

    # ----------------------------------------------------------------- data model
    @classmethod
    def schema(cls) -> KindSchema:
        return KindSchema(name=cls.name, ladder=cls.ladder, settings=cls.settings)

    def stage(self, name: str) -> Stage:
        return self.schema().stage(name)

    # ----------------------------------------------------------------- campaign engine
    def check_config(self, config: CampaignConfig) -> None:
        """Refuse, before anything is written, a config that names things that don't exist."""
        return None

    @abstractmethod
    def makers(self, config: CampaignConfig) -> dict[str, Any]:
        """One stage Maker per stage name (``mofgen.flows``), built from the config."""

    @abstractmethod
    def policy(self, db, campaign: str, config: CampaignConfig) -> Policy:
        """What to run next (``mofgen.policy``)."""

    def on_start(self, db, campaign: str, config: CampaignConfig,
                 say: Callable[[str], None]) -> None:
        """Once per daemon start, before the first decision (e.g. build the hull)."""
        return None

    # ----------------------------------------------------------------- read side
    def sort_columns(self) -> dict[str, Column]:
        return {c.key: c for c in self.columns if c.sort}

    def default_sort(self) -> str | None:
        return next(iter(self.sort_columns()), None)

    def best(self, db, campaign: str, limit: int = 5) -> list[dict[str, Any]]:
        """Status lists: the best ``limit`` structures by each sortable column, with units."""
        lists = []
        for column in self.sort_columns().values():
            cursor = db.structures.find(
                {"campaign": campaign, column.path: {"$ne": None}},
                {"_id": 1, column.path: 1, "identifiers.formula": 1},
            ).sort(column.path, column.sort).limit(limit)
            lists.append({
                "key": column.key, "label": column.label, "unit": column.unit,
                "order": "asc" if column.sort > 0 else "desc", "digits": column.digits,
                "top": [{"id": d["_id"], "value": column.value(d),
                         "formula": (d.get("identifiers") or {}).get("formula")}
                        for d in cursor]})
        return lists

    def status_extras(self, db, campaign: str, config: CampaignConfig) -> dict[str, Any]:
        """Kind-specific blocks of ``mofgen status --json`` (and the dashboard)."""
        return {}

    def status_tables(self, status: dict[str, Any]) -> list[dict[str, Any]]:
        """The blocks :meth:`status_extras` added, as tables for people (``mofgen status``
        and the dashboard): ``{"id", "title", "columns": [...], "rows": [[cell, ...]]}``."""
        return []

    def progress(self, db, campaign: str, config: CampaignConfig) -> str:
        """Extra text for ``mofgen run``'s progress line ("" for none)."""
        return ""

    def ladder_states(self) -> list[str]:
        """The states on the ladder, in order (funnels, ``export --min-state``): what each
        stage consumes and produces (a kind's first stage may consume submitted ones)."""
        states = [s for stage in self.ladder for s in (stage.source, stage.target) if s]
        return [state.value for state in dict.fromkeys(states)]

    def states(self) -> list[str]:
        """Every state this kind's structures can be in: the ladder's, then the off-ladder
        ones (rejected, failed); state tables show these."""
        return [*self.ladder_states(), State.REJECTED.value, State.FAILED.value]

    def projection(self) -> dict[str, int]:
        """The fields a table row reads (never the structures themselves)."""
        fields = ["_id", "state", "kind", "identifiers.formula", "created_at", "updated_at"]
        fields += [c.path for c in self.columns]
        return dict.fromkeys(fields, 1)

    def row(self, doc: dict[str, Any]) -> dict[str, Any]:
        """One structure as a table row (dashboard, status): ``columns`` by key."""
        row = {"id": doc["_id"], "state": doc.get("state"),
               "formula": (doc.get("identifiers") or {}).get("formula")}
        row.update({c.key: c.value(doc) for c in self.columns})
        row["created_at"] = as_utc(doc.get("created_at"))
        return row

    def summary(self, campaign: CampaignDoc) -> dict[str, Any]:
        """Facts of a campaign beyond the generic ones (status, dashboard), e.g. its system;
        JSON-able, merged into the campaign summary."""
        return {}

    def card(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        """What a structure's page shows of this kind (None: nothing extra)::

            {"title": str,
             "tables": [{"id", "title", "empty", "rows": [{"label", "key", "value"}]}],
             "molecules": [{"smiles", "caption"}]}

        ``key`` is the stored path shown (``data-key`` on the page); mappings and lists are
        shown as JSON, so format what should read otherwise.
        """
        return None

    def charts(self, campaign: CampaignDoc) -> tuple[Chart, ...]:
        """The campaign page's plots beyond the funnel and the throughput (every kind has
        those), in page order."""
        return ()

    def export_fields(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Provider fields this kind adds to a structure's OPTIMADE entry, without the
        provider prefix (the writer adds ``_mofgen_``); ``None`` values are dropped."""
        return {}

    def export_metadata(self, campaign: CampaignDoc) -> dict[str, Any]:
        """Kind-specific entries of an export's ``metadata.json`` (units, references, …)."""
        return {"units": {c.key: c.unit for c in self.columns if c.unit}}

    def export_record_model(self) -> type[BaseModel] | None:
        """The model of this kind's database records (``records.jsonl``; the README's field
        table is generated from it), or ``None``: the kind writes no records."""
        return None

    def export_record(self, doc: dict[str, Any], context: ExportContext,
                      cif_file: str) -> dict[str, Any]:
        """One structure's database record as JSON (aliases as keys, ``None`` kept), an
        instance of :meth:`export_record_model`; ``cif_file`` is its CIF in the export.

        The export calls this only for kinds whose :meth:`export_record_model` is not
        ``None``; a kind that declares a model must override it (reaching here is a bug).
        """
        raise NotImplementedError(f"{self.name} campaigns publish no database records")

    def export_files(self, campaign: CampaignDoc) -> dict[str, str]:
        """Extra files of an export, relative name → text (e.g. the hull's references)."""
        return {}

    def export_readme(self, meta: dict[str, Any]) -> ReadmeSection:
        """This kind's part of the export README, from the export's ``metadata.json``."""
        return ReadmeSection(
            about=f"{meta['count']} {meta['kind']} structures exported by mofgen.",
            files="- `structures.jsonl`: one JSON document per line, the full mofgen record "
                  "(validates as\n  `mofgen.documents.StructureDoc`).\n"
                  "- `cif/<id>.cif`: final geometry (relaxed where simulated) in P1.\n"
                  "- `optimade.jsonl`: OPTIMADE JSON Lines (header line, then one "
                  "`structures` entry\n  per line).\n")

    # ----------------------------------------------------------------- submissions
    def submit(self, db, campaign: str, structure, origin: dict[str, Any]) -> tuple[str, bool]:
        """Store a user's structure in a campaign of this kind; ``(id, created)``."""
        from mofgen.errors import InvalidInput

        raise InvalidInput(f"campaign {campaign!r} is a {self.name} campaign, which does not "
                           "take submitted structures")
