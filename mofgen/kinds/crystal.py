"""Crystal campaigns (exa-AMD, ../papers/exa-amd.txt; Star-gen, ../papers/star-gen.txt):
substituted candidates → validity + de-duplication + batched ML energy screen → CHGNet
relaxation and energy above the campaign's hull → fine-tuning of the screener.

Crystals skip adsorption (simulated → retrained). The science lives in
:mod:`mofgen.crystal`; this module declares the kind: ladder, ``crystal:`` settings,
records, policy, start hook (the hull) and presentation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import Field, field_validator

from mofgen.documents import (
    CampaignConfig,
    CampaignDoc,
    KindSettings,
    Stage,
    State,
    jsonable,
)
from mofgen.errors import InvalidInput
from mofgen.kinds.base import (
    CampaignKind,
    Chart,
    Column,
    Cumulative,
    Figure,
    Histogram,
    ReadmeSection,
)
from mofgen.policy import Decision, Policy
from mofgen.records import (
    CRYSTAL_KEY,
    E_ABOVE_HULL,
    FORMATION_ENERGY,
    NEAR_HULL,
    PREDICTED_FORMATION_ENERGY,
    RELAX_METHOD,
    RELAXED_ENERGY,
    SCREEN_METHOD,
    CrystalSimulateRecord,
    CrystalValidateRecord,
    RetrainRecord,
    finished,
    get_path,
)

S = State


class CrystalSettings(KindSettings):
    """The ``crystal:`` section: chemical system, generation, screen, hull, retraining."""

    system: str = Field(default="", validate_default=True)  # chemical system, e.g. Li-Fe-O
    # a name in mofgen.crystal.generators.generators(): template | substitution | pyxtal | …
    generator: str = "template"
    prototypes: list[str] | None = None  # the generator's prototype names; None = all
    substitution_threshold: float = Field(default=1e-3, gt=0, lt=1)
    template_max_atoms: int = Field(default=24, gt=0, le=1000)  # sites of a template cell
    random_max_atoms: int = Field(default=16, gt=0, le=200)  # pyxtal cell size
    random_max_coefficient: int = Field(default=6, gt=0, le=20)  # pyxtal stoichiometries
    candidates_per_batch: int = Field(default=8, gt=0, le=100_000)
    max_formation_energy_eV: float = Field(default=-0.2, ge=-20, le=20)  # eV/atom screen
    hull_threshold_eV: float = Field(default=0.1, ge=0, le=10)  # eV/atom "near hull" flag
    screen_batch_size: int = Field(default=16, gt=0, le=100_000)
    relax_steps: int = Field(default=200, gt=0, le=100_000)  # CHGNet FIRE steps
    # FIRE steps per reference phase: small cells converge in far fewer; bounds start cost
    reference_relax_steps: int = Field(default=150, gt=0, le=100_000)
    # binary reference phases relaxed at the start (besides elements and curated phases)
    max_references: int = Field(default=8, ge=0, le=1000)
    references_file: str | None = None  # your phases: CIF, JSON list or references.json
    builtin_references: bool = True  # false: only the file's phases (plus elements it lacks)
    retrain_min_relaxed: int = Field(default=8, gt=1, le=10**6)  # relaxed before a retrain
    retrain_epochs: int = Field(default=30, gt=0, le=10_000)
    held_out_fraction: float = Field(default=0.25, gt=0, lt=1)

    @field_validator("system", mode="before")
    @classmethod
    def _canonical_system(cls, value: Any) -> str:
        from mofgen.crystal.prototypes import MAX_SYSTEM_ELEMENTS, parse_system

        if not isinstance(value, str) or not value:
            raise ValueError("a crystal campaign needs a chemical system, e.g. Li-Fe-O")
        try:
            return "-".join(parse_system(value, max_elements=MAX_SYSTEM_ELEMENTS))
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None

    @field_validator("references_file", mode="before")
    @classmethod
    def _absolute_path(cls, value: Any) -> Any:
        """Relative to where the campaign is started (stored absolute)."""
        import os

        if isinstance(value, str) and value:
            return os.path.abspath(os.path.expanduser(value))
        return value


class CrystalPolicy(Policy):
    """exa-AMD's funnel on the same queues.

    * generate until the generator's candidate sequence is exhausted (backpressure and
      budget as for every kind);
    * validate the newest generated crystals in one batch per job (gpu: batched ML
      inference), one batch in flight at a time;
    * simulate (relax + hull, cpu) the lowest predicted formation energies first;
    * retrain the screener once ``retrain_min_relaxed`` relaxed crystals wait, and at the
      end of generation on whatever is left, whenever the training set has grown.
    """

    def decide(self, flight: dict[str, Any]) -> list[Decision]:
        return [*self._simulate(flight), *self._validate(flight), *self.generate(flight),
                *self._retrain(flight)]

    def exhausted(self) -> bool:
        doc = self.db.campaigns.find_one({"_id": self.campaign}, {"counters": 1}) or {}
        return bool((doc.get("counters") or {}).get("generation_exhausted"))

    def _simulate(self, flight) -> list[Decision]:
        order = PREDICTED_FORMATION_ENERGY
        # every validated crystal has one; saying so lets an index skip the others
        picked = self.pick("simulate", (order, 1), self.free("cpu", flight), flight,
                           guard={order: {"$lt": 1e9}})
        if not picked:
            return []
        return [self.decision("simulate", 2, doc_ids=picked,
                              reason=f"{len(picked)} validated crystal(s) by {order} asc",
                              evidence={"first": picked[:5],
                                        "queue_free": self.free("cpu", flight)})]

    def _validate(self, flight) -> list[Decision]:
        if flight["stages"].get("validate", 0) or self.depth("gpu") == 0:
            return []
        picked = self.pick("validate", ("created_at", -1), self.settings.screen_batch_size,
                           flight)
        if not picked:
            return []
        return [self.decision("validate", 3, doc_ids=picked,
                              reason=f"screen {len(picked)} generated crystal(s) in one batch",
                              evidence={"first": picked[:5]})]

    def _retrain(self, flight) -> list[Decision]:
        if flight["stages"].get("retrain", 0) or self.depth("gpu") == 0:
            return []
        base = {"campaign": self.campaign}
        waiting = self.db.structures.count_documents({**base, "state": S.SIMULATED.value})
        if waiting == 0:
            return []
        settled = self.exhausted() and not any(flight["stages"].get(s) for s in (
            "generate", "validate", "simulate")) and self.db.structures.count_documents(
            {**base, "state": {"$in": [S.GENERATED.value, S.VALIDATED.value]}}) == 0
        if waiting < self.settings.retrain_min_relaxed and not settled:
            return []
        ids = sorted(d["_id"] for d in self.db.structures.find(
            {**base, RELAXED_ENERGY: {"$ne": None}}, {"_id": 1}))
        last = self.last_model("screener")
        last_size = len(last["training_set_ids"]) if last else 0
        if len(ids) < 2 or len(ids) <= last_size:
            return []
        return [self.decision("retrain", 5, params={"training_ids": ids},
                              reason=f"fine-tune the screener on {len(ids)} relaxed crystals",
                              evidence={"waiting": waiting, "previous_set": last_size,
                                        "end_of_generation": settled})]


class CrystalKind(CampaignKind):
    name = "crystal"
    settings = CrystalSettings
    ladder = (
        Stage("generate", None, S.GENERATED, "gpu", scope="campaign"),
        Stage("validate", S.GENERATED, S.VALIDATED, "gpu", CrystalValidateRecord,
              scope="batch"),
        Stage("simulate", S.VALIDATED, S.SIMULATED, "cpu", CrystalSimulateRecord),
        Stage("retrain", S.SIMULATED, S.RETRAINED, "gpu", RetrainRecord, scope="campaign"),
    )
    indexes = (
        [(CRYSTAL_KEY, 1)],  # de-dup buckets, across campaigns
        [("campaign", 1), (PREDICTED_FORMATION_ENERGY, 1)],
        [("campaign", 1), (E_ABOVE_HULL, 1)],
        [("campaign", 1), (FORMATION_ENERGY, 1)],
        [("campaign", 1), (finished("validate"), 1)],
        [("campaign", 1), (finished("simulate"), 1)],
    )
    columns = (  # energies in eV/atom
        Column("e_above_hull", "E above hull", E_ABOVE_HULL, "eV/atom", sort=1),
        Column("formation_energy", "E formation", FORMATION_ENERGY, "eV/atom", sort=1),
        Column("screen_formation_energy", "E formation (screen)",
               PREDICTED_FORMATION_ENERGY, "eV/atom", sort=1),
        Column("crystal_key", "bucket", CRYSTAL_KEY),
        Column("prototype", "prototype", "origin.prototype"),
        Column("substitution", "substitution", "origin.substitution"),
        Column("near_hull", "near hull", NEAR_HULL),
    )

    def check_config(self, config: CampaignConfig) -> None:
        from mofgen.crystal.campaign import check_config

        check_config(config)

    def makers(self, config: CampaignConfig) -> dict[str, Any]:
        from mofgen.flows.crystal import (
            CrystalGenerateMaker,
            CrystalRetrainMaker,
            CrystalSimulateMaker,
            CrystalValidateMaker,
        )

        s: CrystalSettings = config.settings
        return {
            "generate": CrystalGenerateMaker(),
            "validate": CrystalValidateMaker(),
            "simulate": CrystalSimulateMaker(relax_steps=s.relax_steps,
                                             hull_threshold_eV=s.hull_threshold_eV),
            "retrain": CrystalRetrainMaker(),
        }

    def policy(self, db, campaign: str, config: CampaignConfig) -> CrystalPolicy:
        return CrystalPolicy(db, campaign, config)

    def on_start(self, db, campaign: str, config: CampaignConfig,
                 say: Callable[[str], None]) -> None:
        """The hull every crystal is measured against, relaxed once per campaign."""
        from mofgen.crystal.campaign import ensure_references

        ensure_references(db, campaign, config, say=say)

    def progress(self, db, campaign: str, config: CampaignConfig) -> str:
        limit = config.settings.hull_threshold_eV  # indexed, unlike near_hull
        near = db.structures.count_documents({"campaign": campaign,
                                              E_ABOVE_HULL: {"$lte": limit}})
        return f"{near} within {limit} eV/atom of the hull" if near else ""

    def submit(self, db, campaign: str, structure, origin: dict[str, Any]) -> tuple[str, bool]:
        from mofgen.crystal.campaign import insert_crystal

        return insert_crystal(db, campaign, structure, origin)

    # ----------------------------------------------------------------- read side
    def summary(self, campaign: CampaignDoc) -> dict[str, Any]:
        from mofgen.crystal.phase_diagram import references_summary

        return {"system": campaign.config.settings.system,
                "references": references_summary(campaign.references)}

    def card(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Origin (prototype, substitution), the screen and the hull, energies in eV/atom."""
        origin = [{"label": "crystal key", "key": CRYSTAL_KEY, "value": get_path(doc, CRYSTAL_KEY)}]
        for key, value in (doc.get("origin") or {}).items():
            if key == "substitution" and isinstance(value, dict):
                value = ", ".join(f"{a} → {b}" for a, b in value.items())
            origin.append({"label": key, "key": f"origin.{key}", "value": value})

        def table(stage: str, keys: tuple[str, ...], **kw: str) -> dict[str, Any]:
            record = doc.get(stage) or {}
            return {**kw, "rows": [
                {"label": k + (" (eV/atom)" if k.endswith("_per_atom") or k in (
                    "e_above_hull", "hull_threshold") else ""),
                 "key": f"{stage}.{k}", "value": record[k]} for k in keys if k in record]}

        return {"title": "Crystal", "tables": [
            {"id": "crystal-origin", "title": None, "rows": origin, "empty": ""},
            table("validate", ("energy_per_atom", "formation_energy_per_atom", "method",
                               "screener_version"),
                  id="crystal-screen", title="Screen (CHGNet single point, unrelaxed)",
                  empty="not screened yet"),
            table("simulate", ("energy_per_atom", "formation_energy_per_atom", "e_above_hull",
                               "near_hull", "hull_threshold", "converged", "relax_steps",
                               "method"),
                  id="crystal-hull", title="Relaxed: energy above hull",
                  empty="not relaxed yet"),
        ]}

    def charts(self, campaign: CampaignDoc) -> tuple[Chart, ...]:
        """The phase diagram, the E_hull histogram and the near-hull discoveries over time."""
        s: CrystalSettings = campaign.config.settings
        threshold = s.hull_threshold_eV

        def phase_diagram(db):
            from mofgen.crystal.phase_diagram import phase_diagram_data

            return phase_diagram_data(db, campaign.id, campaign.references, s.system,
                                      threshold)

        return (
            Figure(id="phase-diagram", key="phase_diagram", title="Convex hull",
                   draw="phase_diagram", data=phase_diagram),
            Histogram(id="ehull", key="ehull_hist", path=E_ABOVE_HULL, unit="eV/atom",
                      noun="crystals", width_if_flat=0.01, marker=threshold,
                      title="Energy above hull of simulated crystals",
                      empty="no simulated crystals yet"),
            Cumulative(id="near-hull", key="near_hull_cumulative", path=E_ABOVE_HULL,
                       upper=threshold, inclusive=True, time=finished("simulate"),
                       title=f"Crystals near the hull (E_hull ≤ {threshold:g} eV/atom)"),
        )

    def export_fields(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Energies in eV/atom: ``formation_energy_per_atom``, ``energy_per_atom`` and
        ``e_above_hull`` of the relaxed structure; the screen's single point on the
        unrelaxed candidate is ``screen_formation_energy_per_atom``."""
        fields = {
            "e_above_hull": get_path(doc, E_ABOVE_HULL),
            "near_hull": get_path(doc, NEAR_HULL),
            "formation_energy_per_atom": get_path(doc, FORMATION_ENERGY),
            "energy_per_atom": get_path(doc, RELAXED_ENERGY),
            "screen_formation_energy_per_atom": get_path(doc, PREDICTED_FORMATION_ENERGY),
            "energy_method": get_path(doc, RELAX_METHOD) or get_path(doc, SCREEN_METHOD),
            "prototype": get_path(doc, "origin.prototype"),
            "crystal_key": get_path(doc, CRYSTAL_KEY),
        }
        return {k: v for k, v in fields.items() if v is not None}

    def export_metadata(self, campaign: CampaignDoc) -> dict[str, Any]:
        refs = campaign.references
        entries = (refs or {}).get("entries") or []
        return {
            "units": {"e_above_hull": "eV/atom (negative: below the references' hull)",
                      "formation_energy_per_atom": "eV/atom", "energy_per_atom": "eV/atom",
                      "hull_threshold": "eV/atom", "lengths": "Å"},
            "system": campaign.config.settings.system,
            "references": {"method": refs.get("method"), "file": "references.json",
                           "phases": [(e.get("data") or {}).get("name") for e in entries]}
            if refs else None,
        }

    def export_files(self, campaign: CampaignDoc) -> dict[str, str]:
        """``references.json``: the phases that define the hull (References.as_dict())."""
        if not campaign.references:
            return {}
        return {"references.json": json.dumps(jsonable(campaign.references), indent=1,
                                              sort_keys=True) + "\n"}

    def export_readme(self, meta: dict[str, Any]) -> ReadmeSection:
        from mofgen.export.optimade import OPTIMADE_API_VERSION, PROVIDER_PREFIX

        p = PROVIDER_PREFIX
        refs = meta.get("references") or {}
        phases = ", ".join(str(x) for x in refs.get("phases", [])) or "none stored"
        return ReadmeSection(
            about=f"""{meta['count']} crystal structures of the {meta.get('system')} system
exported by mofgen (substitution candidates screened with CHGNet, relaxed, and placed on
the convex hull of known phases).""",
            files="- `structures.jsonl`: one JSON document per line, the full mofgen record "
                  f"""(validates as
  `mofgen.documents.StructureDoc`): generated and relaxed structures (pymatgen dicts), the
  origin (prototype, substitution, probability), the screen (`validate.energy_per_atom`,
  `validate.formation_energy_per_atom`), the relaxation and hull (`simulate.energy_per_atom`,
  `simulate.formation_energy_per_atom`, `simulate.e_above_hull`, `simulate.near_hull`), all
  in eV/atom, and the `history` of transitions with worker, duration and software versions.
- `cif/<id>.cif`: final geometry (relaxed where simulated) in P1.
- `optimade.jsonl`: OPTIMADE {OPTIMADE_API_VERSION} JSON Lines (header line, then one
  `structures` entry per line); mofgen fields carry the `{p}` prefix, e.g.
  `{p}e_above_hull`, `{p}formation_energy_per_atom` (eV/atom) and
  `{p}prototype`.
- `references.json`: the reference phases that define the hull ({refs.get('method')}:
  {phases}), as `mofgen.crystal.energy.References.as_dict()` (pymatgen
  ComputedStructureEntry dicts); energies above hull are measured against these.
""")
