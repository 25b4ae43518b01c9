"""MOF campaigns (MOFA, ../papers/mofa.txt): generated linkers → assembled MOFs → LAMMPS
stability → CHGNet/CP2K relaxation, charges and pores → RASPA2 CO2 uptake → retraining.

The ladder, the ``mof:`` config section, the typed records, the policy and the read-side
presentation of a MOF campaign all live here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mofgen.documents import CampaignConfig, CampaignDoc, KindSettings, Stage, State
from mofgen.kinds.base import (
    CampaignKind,
    Chart,
    Column,
    Cumulative,
    Histogram,
    ReadmeSection,
    Samples,
)
from mofgen.policy import Decision, Policy
from mofgen.records import (
    CO2_UPTAKE,
    CO2_UPTAKE_ERROR,
    CO2_UPTAKE_LOWER,
    HEAT_OF_ADSORPTION,
    STRAIN,
    STRAIN_SEM,
    STRAIN_UPPER,
    MofAdsorbRecord,
    MofSimulateRecord,
    MofValidateRecord,
    RetrainRecord,
    finished,
    get_path,
)

S = State


class Thresholds(KindSettings):
    """MOFA's policy numbers (../papers/mofa.txt §III-C); every one is configurable."""

    stable_strain: float = Field(default=0.10, gt=0, le=1)
    retrain_strain: float = Field(default=0.25, gt=0, le=1)
    retrain_min_stable: int = Field(default=64, gt=0, le=10**6)
    retrain_min_adsorbed: int = Field(default=64, gt=0, le=10**6)
    min_pore_diameter_A: float = Field(default=3.3, gt=0, le=50)  # CO2 kinetic diameter


class MofSettings(KindSettings):
    """The ``mof:`` section of a campaign config: thresholds and every code's settings."""

    thresholds: Thresholds = Field(default_factory=Thresholds)
    # the validate stage's MD protocol: a preset of engines/lammps_md.py (README "Stability
    # labels": demo-avg is the cheapest whose labels two seeds rank alike)
    stability_protocol: str = "demo-avg"
    md_steps: int | None = Field(default=None, gt=0, le=10**8)  # 0.5 fs; None: the protocol's
    gcmc_cycles: int = Field(default=1000, gt=0, le=10**7)  # RASPA2 production cycles
    # replicas: independent runs averaged per structure (velocity / RASPA2 seeds seed + i);
    # the records keep the spread (README "Replicates and uncertainty")
    stability_replicas: int = Field(default=1, ge=1, le=16)
    adsorption_replicas: int = Field(default=1, ge=1, le=16)
    # what the policy ranks by: the point value (mean), or a confidence bound (strain
    # mean + z·sem ascending, uptake mean − z·error descending) that penalises spread
    rank_by: Literal["point", "confidence_bound"] = "point"
    confidence_z: float = Field(default=1.645, ge=1.0, le=3.0)  # one-sided 95 %
    temperature_K: float = Field(default=300.0, gt=0, le=2000)
    pressure_bar: float = Field(default=0.1, gt=0, le=1000)
    relax_steps: int = Field(default=200, gt=0, le=10**5)  # CHGNet optimiser steps
    diffusion_steps: int = Field(default=100, gt=0, le=10**4)
    # online learning (flows/retrain.py): fine-tuning, replay, promotion of new versions
    online_learning: bool = True  # off: the generator is never retrained (a baseline)
    retrain_steps: int = Field(default=300, gt=0, le=10**6)  # fine-tuning batches of 32
    retrain_max_minutes: float = Field(default=10.0, gt=0, le=10**4)
    retrain_lr: float = Field(default=5e-4, gt=0, le=1)
    replay_fraction: float = Field(default=0.5, ge=0, lt=1)  # corpus share of fine-tuning
    retrain_min_examples: int = Field(default=64, ge=0, le=10**5)  # replay tops up to this
    registration_samples: int = Field(default=64, ge=8, le=4096)  # per anchor
    min_validity: float = Field(default=0.30, ge=0, le=1)  # to promote a version
    max_validity_drop: float = Field(default=0.10, ge=0, le=1)  # below its parent's
    # improvements the discovery benchmark measures (README "Does learning help?")
    retrain_weighting: Literal["none", "strain"] = "none"  # strain: stable linkers count more
    retrain_prompts: Literal["all", "campaign"] = "all"  # campaign: prompts from its linkers
    # simulate and adsorb the stable structures (off: a stability-only campaign)
    run_simulation: bool = True
    fidelity: Literal["mlip", "dft"] = "mlip"
    # simulate stage's partial charges (README "Partial charges": eqeq beat qeq against
    # literature charges); dft = CP2K DDAPC, only with fidelity dft
    charge_method: Literal["eqeq", "qeq", "dft"] = "eqeq"
    linkers_per_batch: int = Field(default=16, gt=0, le=4096)
    anchors: list[Literal["COO", "cyano"]] = Field(default_factory=lambda: ["COO", "cyano"])

    @model_validator(mode="after")
    def _dft_charges_need_dft_fidelity(self) -> MofSettings:
        # DDAPC costs hours per MOF on two cores: 100x an MLIP campaign's whole simulate
        # stage, and a CHGNet cell is not the PBE minimum the density would be computed at
        if self.charge_method == "dft" and self.fidelity != "dft":
            raise ValueError("charge_method dft needs fidelity dft (DFT charges on a "
                             "CHGNet-relaxed cell cost hours per MOF); use eqeq or qeq")
        return self

    @field_validator("stability_protocol")
    @classmethod
    def _known_protocol(cls, name: str) -> str:
        from mofgen.engines.lammps_md import PRESETS

        if name not in PRESETS:
            raise ValueError(f"unknown stability protocol {name!r} (known: {', '.join(PRESETS)})")
        return name

    @model_validator(mode="after")
    def _replicas_can_differ(self) -> MofSettings:
        from mofgen.engines.lammps_md import PRESETS

        if self.stability_replicas > 1 and \
                not PRESETS[self.stability_protocol].get("initial_velocities", True):
            raise ValueError(f"stability_replicas={self.stability_replicas} needs a protocol "
                             f"with a velocity seed; {self.stability_protocol!r} starts atoms "
                             "at rest, so its replicas would not differ")
        return self


class MofPolicy(Policy):
    """MOFA's policy (§III-C) on the shared queues.

    * generate continuously (gpu), with backpressure (``Policy.generate``);
    * validate the most recently generated structures first (LIFO);
    * simulate and adsorb the most stable structures first (lowest lattice strain);
    * retrain once ``retrain_min_stable`` structures have strain below ``retrain_strain``
      and again whenever that set has grown; the set is the lower half by strain until
      ``retrain_min_adsorbed`` adsorption results exist, then the top adsorbers.

    ``rank_by: confidence_bound`` orders by the bounds the stages store instead of the
    means: strain by ``strain_upper`` (mean + z·sem) and uptake by ``co2_uptake_lower``
    (mean − z·error), so a structure whose replicas disagree waits behind one with the
    same mean measured consistently. Thresholds (stable, retraining) stay on the means.
    """

    # cpu stages in the order free slots are filled: finish expensive work first.
    CPU_ORDER = (("adsorb", "strain", 3), ("simulate", "strain", 2),
                 ("validate", "newest", 1))

    def order(self, what: str) -> tuple[str, int]:
        """The (field path, direction) that ranks ``what`` under ``rank_by``."""
        bound = self.settings.rank_by == "confidence_bound"
        return {"newest": ("created_at", -1),
                "strain": (STRAIN_UPPER if bound else STRAIN, 1),
                "uptake": (CO2_UPTAKE_LOWER if bound else CO2_UPTAKE, -1)}[what]

    def ranking(self) -> str:
        """How the decisions rank, for their reasons."""
        if self.settings.rank_by == "confidence_bound":
            return f"ranked by confidence bound, z = {self.settings.confidence_z:g}"
        return "ranked by point value"

    def decide(self, flight: dict[str, Any]) -> list[Decision]:
        return [*self._cpu(flight), *self.generate(flight), *self._retrain(flight)]

    def _cpu(self, flight) -> list[Decision]:
        free = self.free("cpu", flight)
        decisions = []
        for stage, what, priority in self.CPU_ORDER:
            if stage != "validate" and not self.settings.run_simulation:
                continue
            order = self.order(what)
            # every candidate sorted by strain has one (≥ 0): the guard lets an index
            # skip the structures without one
            guard = {order[0]: {"$gte": 0}} if what == "strain" else None
            picked = self.pick(stage, order, free, flight, guard)
            if picked:
                ranking = f" ({self.ranking()})" if what == "strain" else ""
                decisions.append(self.decision(
                    stage, priority, doc_ids=picked,
                    reason=f"{len(picked)} {self.schema.stage(stage).source.value} "
                           f"structure(s) by {order[0]} {'desc' if order[1] < 0 else 'asc'}"
                           + ranking,
                    evidence={"waiting_first": picked[:5], "queue_free": free,
                              "rank_by": self.settings.rank_by}))
                free -= len(picked)
        return decisions

    def _retrain(self, flight) -> list[Decision]:
        if flight["stages"].get("retrain", 0) or self.depth("gpu") == 0 or \
                not self.settings.online_learning:
            return []
        t = self.settings.thresholds
        stable_query = {"campaign": self.campaign, STRAIN: {"$lt": t.retrain_strain}}
        n_stable = self.db.structures.count_documents(stable_query)
        if n_stable < t.retrain_min_stable:
            return []
        adsorbed_query = {"campaign": self.campaign, CO2_UPTAKE: {"$ne": None}}
        n_adsorbed = self.db.structures.count_documents(adsorbed_query)
        last = self.last_model("generator")
        last_size = len(last["training_set_ids"]) if last else 0
        if n_adsorbed >= t.retrain_min_adsorbed:
            path, direction = self.order("uptake")
            cursor = self.db.structures.find(adsorbed_query, {"_id": 1}).sort(
                path, direction).limit(max(t.retrain_min_adsorbed, n_adsorbed // 2))
            basis = f"top adsorbers by {path}"
        else:
            path, direction = self.order("strain")
            cursor = self.db.structures.find(stable_query, {"_id": 1}).sort(
                path, direction).limit(max(1, n_stable // 2))
            basis = f"lower half by strain, sorted by {path}"
        ids = [d["_id"] for d in cursor]
        if last is not None and len(ids) <= last_size:
            return []
        if self.failed_with("retrain", {"training_ids": ids}):
            return []  # the same set failed already: wait until it has changed
        return [self.decision(
            "retrain", 5, params={"training_ids": ids},
            reason=f"retrain on {len(ids)} structures ({basis}; {self.ranking()})",
            evidence={"stable": n_stable, "adsorbed": n_adsorbed, "previous_set": last_size,
                      "parent": last["_id"] if last else None,
                      "rank_by": self.settings.rank_by},
        )]


class MofKind(CampaignKind):
    name = "mof"
    settings = MofSettings
    ladder = (
        Stage("generate", None, S.GENERATED, "gpu", scope="campaign"),
        Stage("validate", S.GENERATED, S.VALIDATED, "cpu", MofValidateRecord,
              lease_seconds=600),
        Stage("simulate", S.VALIDATED, S.SIMULATED, "cpu", MofSimulateRecord,
              lease_seconds=900),
        Stage("adsorb", S.SIMULATED, S.ADSORBED, "cpu", MofAdsorbRecord, lease_seconds=900),
        Stage("retrain", S.ADSORBED, S.RETRAINED, "gpu", RetrainRecord, scope="campaign"),
    )
    indexes = (
        [("campaign", 1), (STRAIN, 1)],
        [("campaign", 1), (CO2_UPTAKE, -1)],
        [("campaign", 1), (STRAIN_UPPER, 1)],  # rank_by: confidence_bound
        [("campaign", 1), (CO2_UPTAKE_LOWER, -1)],
        [("campaign", 1), (HEAT_OF_ADSORPTION, 1)],
        [("campaign", 1), (finished("validate"), 1)],
        [("campaign", 1), (finished("simulate"), 1)],
        [("campaign", 1), (finished("adsorb"), 1)],
        [("identifiers.linker_smiles", 1)],
        [("campaign", 1), ("linkers.model_version", 1)],
    )
    columns = (
        Column("co2_uptake", "CO2 uptake", CO2_UPTAKE, "mol/kg", sort=-1),
        Column("strain", "strain", STRAIN, "", sort=1),
        Column("heat", "heat of adsorption", HEAT_OF_ADSORPTION, "kJ/mol", sort=1, digits=1),
        Column("co2_uptake_error", "± uptake", CO2_UPTAKE_ERROR, "mol/kg"),
        Column("strain_sem", "± strain", STRAIN_SEM, ""),
        Column("co2_uptake_lower", "uptake bound", CO2_UPTAKE_LOWER, "mol/kg", sort=-1),
        Column("strain_upper", "strain bound", STRAIN_UPPER, "", sort=1),
        Column("linkers", "linkers", "linkers.smiles"),  # a list: see row()
    )

    def makers(self, config: CampaignConfig) -> dict[str, Any]:
        """Every stage's Maker from the ``mof:`` settings: the one place where campaign
        settings become calculation settings."""
        from mofgen.engines.charge_methods import charge_calculation
        from mofgen.engines.chgnet_relax import ChgnetRelaxation
        from mofgen.engines.cp2k_relax import Cp2kRelaxation
        from mofgen.engines.lammps_md import NptStability
        from mofgen.engines.raspa import GcmcAdsorption
        from mofgen.engines.zeopp import PoreAnalysis
        from mofgen.flows.adsorb import AdsorbMaker
        from mofgen.flows.simulate import SimulateMaker
        from mofgen.flows.validate import ValidateMaker

        s: MofSettings = config.settings
        t = s.thresholds
        relax = (Cp2kRelaxation() if s.fidelity == "dft"
                 else ChgnetRelaxation(steps=s.relax_steps))
        makers: dict[str, Any] = {
            "validate": ValidateMaker(md=NptStability.from_preset(
                s.stability_protocol, temperature_K=s.temperature_K,
                stable_strain=t.stable_strain, reject_strain=t.retrain_strain,
                **({"steps": s.md_steps} if s.md_steps else {})),
                replicas=s.stability_replicas, confidence_z=s.confidence_z),
            "simulate": SimulateMaker(relax=relax, charges=charge_calculation(
                s.charge_method), pores=PoreAnalysis(
                probe_radius_A=t.min_pore_diameter_A / 2)),
            "adsorb": AdsorbMaker(gcmc=GcmcAdsorption(
                temperature_K=s.temperature_K, pressure_bar=s.pressure_bar,
                cycles=s.gcmc_cycles), replicas=s.adsorption_replicas,
                confidence_z=s.confidence_z),
        }
        try:
            from mofgen.flows.generate import GenerateMaker
            from mofgen.flows.retrain import RetrainMaker
        except ImportError:  # the generator extra (torch) is not installed
            return makers
        makers["generate"] = GenerateMaker(n_linkers=s.linkers_per_batch,
                                           diffusion_steps=s.diffusion_steps, seed=config.seed)
        makers["retrain"] = RetrainMaker(
            steps=s.retrain_steps, max_minutes=s.retrain_max_minutes, lr=s.retrain_lr,
            replay_fraction=s.replay_fraction, min_examples=s.retrain_min_examples,
            registration_samples=s.registration_samples,
            diffusion_steps=s.diffusion_steps, min_validity=s.min_validity,
            max_validity_drop=s.max_validity_drop, weighting=s.retrain_weighting,
            prompts_from=s.retrain_prompts, seed=config.seed)
        return makers

    def policy(self, db, campaign: str, config: CampaignConfig) -> MofPolicy:
        return MofPolicy(db, campaign, config)

    def progress(self, db, campaign: str, config: CampaignConfig) -> str:
        best = db.structures.find_one({"campaign": campaign, CO2_UPTAKE: {"$ne": None}},
                                      {CO2_UPTAKE: 1}, sort=[(CO2_UPTAKE, -1)])
        if not best:
            return ""
        return f"best CO2 uptake {best['adsorb']['co2_uptake']:.3f} mol/kg"

    # ----------------------------------------------------------------- read side
    def status_extras(self, db, campaign: str, config: CampaignConfig) -> dict[str, Any]:
        """Is learning working? Per generator version: what it generated, how much of that
        was validated and which fraction was stable, with a 95 % interval."""
        return {"learning": learning_by_version(db, campaign, config)}

    def status_tables(self, status: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for row in status.get("learning", []):
            fraction = "–"
            if row["measured"]:
                low, high = row["stable_fraction_ci95"]
                fraction = f"{row['stable_fraction']:.2f} [{low:.2f}, {high:.2f}]"
            validity = ", ".join(f"{a} {v:.0%}" for a, v in sorted(row["validity"].items()))
            rows.append([row["version"], row["parent"] or "–", validity or "–",
                         row["verdict"] or ("in use" if row["promoted"] else "not promoted"),
                         row["generated"], row["validated"],
                         f"{row['stable']}/{row['measured']}", fraction])
        if not rows:
            return []
        return [{"id": "learning", "title": "Learning: what each generator version generated",
                 "columns": ["version", "parent", "validity at registration", "promotion",
                             "generated", "validated", "stable / measured",
                             "stable fraction [95 % CI]"], "rows": rows}]

    def row(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {**super().row(doc), "linkers": _linker_smiles(doc)}

    def card(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The linkers, drawn from their SMILES, with the anchor and the generator version."""
        return {"title": "Linkers", "molecules": [
            {"smiles": lk.get("smiles") or "",
             "caption": f"anchor {lk.get('anchor') or '–'} · "
                        f"model {lk.get('model_version') or '–'}"}
            for lk in doc.get("linkers") or []]}

    def charts(self, campaign: CampaignDoc) -> tuple[Chart, ...]:
        """Stable structures over time, strain per hour, and the CO2 uptake histogram."""
        s: MofSettings = campaign.config.settings
        stable = s.thresholds.stable_strain
        return (
            Cumulative(id="stable", key="stable_cumulative", path=STRAIN, upper=stable,
                       time=finished("validate"),
                       title=f"Stable structures found (strain < {stable:g})"),
            Samples(id="strain", key="strain_by_hour", path=STRAIN, time=finished("validate"),
                    title="Strain distribution per hour of the run (sample)"),
            Histogram(id="uptake", key="uptake_hist", path=CO2_UPTAKE, unit="mol/kg",
                      title=f"CO₂ uptake at {s.pressure_bar:g} bar, {s.temperature_K:g} K"),
        )

    def export_fields(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Flat OPTIMADE provider fields, units in the names; the full, documented record
        of each structure is in ``records.jsonl`` (:mod:`mofgen.kinds.mof_record`)."""
        from mofgen.kinds.mof_record import provider_fields

        return {"strain": get_path(doc, STRAIN),
                "co2_uptake_mol_per_kg": get_path(doc, CO2_UPTAKE),
                "linker_smiles": _linker_smiles(doc), **provider_fields(doc)}

    def export_record_model(self):
        from mofgen.kinds.mof_record import MofRecord

        return MofRecord

    def export_record(self, doc: dict[str, Any], context, cif_file: str) -> dict[str, Any]:
        from mofgen.kinds.mof_record import mof_record

        return mof_record(doc, context, cif_file).model_dump(mode="json", by_alias=True)

    def export_metadata(self, campaign: CampaignDoc) -> dict[str, Any]:
        return {"units": {
            "co2_uptake": "mol/kg", "heat_of_adsorption_kJ_per_mol": "kJ/mol",
            "strain": "max |eigenvalue| of the Lagrangian strain tensor (fraction)",
            "charge": "elementary charge", "lengths": "Å"}}

    def export_readme(self, meta: dict[str, Any]) -> ReadmeSection:
        from mofgen.export.optimade import OPTIMADE_API_VERSION, PROVIDER_PREFIX

        return ReadmeSection(
            about=f"""{meta['count']} {meta['kind']} structures exported by mofgen
(database-centric generative MOF discovery).""",
            files="- `structures.jsonl`: one JSON document per line, the full mofgen record "
                  f"""(validates as
  `mofgen.documents.StructureDoc`): generated and relaxed structures (pymatgen dicts),
  linker SMILES with the generator model version, every stage's numbers (`validate.strain`,
  `simulate`, `adsorb.co2_uptake` in mol/kg …) and the `history` of transitions with
  worker, duration and software versions.
- `cif/<id>.cif`: final geometry (relaxed where simulated) in P1 with `_atom_site_charge`
  where partial charges were computed.
- `optimade.jsonl`: OPTIMADE {OPTIMADE_API_VERSION} JSON Lines (header line, then one
  `structures` entry per line); mofgen fields carry the `{PROVIDER_PREFIX}` prefix.
""")


def _linker_smiles(doc: dict[str, Any]) -> list[str | None]:
    return [lk.get("smiles") for lk in doc.get("linkers") or []]


def learning_by_version(db, campaign: str, config: CampaignConfig) -> list[dict[str, Any]]:
    """For each generator version that generated structures in ``campaign`` (oldest
    first): counts generated, validated and measured, the stable fraction (strain below
    ``stable_strain`` among those whose strain was measured) with its 95 % Wilson interval,
    and the version's registration verdict and validity."""
    from mofgen.statistics import wilson_interval

    stable_strain = config.settings.thresholds.stable_strain
    base = {"campaign": campaign}
    # the campaign's versions and the ones they descend from (read from `models`, which
    # is small, instead of scanning the campaign's structures)
    docs = {d["_id"]: d for d in db.models.find({**base, "kind": "generator"})}
    for parent in {d.get("parent") for d in list(docs.values())} - set(docs) - {None}:
        docs[parent] = db.models.find_one({"_id": parent}) or {"_id": parent}
    first = db.structures.find_one(base, {"linkers.model_version": 1},
                                   sort=[("created_at", 1)])
    for ref in (first or {}).get("linkers", []):
        if ref.get("model_version") and ref["model_version"] not in docs:
            docs[ref["model_version"]] = db.models.find_one(
                {"_id": ref["model_version"]}) or {"_id": ref["model_version"]}
    versions = list(docs)

    def registered(version: str) -> str:
        return str((docs.get(version) or {}).get("created_at") or "")

    rows = []
    for version in sorted(versions, key=registered):
        mine = {**base, "linkers.model_version": version}
        measured = db.structures.count_documents({**mine, STRAIN: {"$gte": 0}})
        stable = db.structures.count_documents({**mine, STRAIN: {"$gte": 0,
                                                                  "$lt": stable_strain}})
        low, high = wilson_interval(stable, measured)
        doc = docs.get(version) or {}
        metrics = doc.get("metrics") or {}
        rows.append({
            "version": version, "parent": doc.get("parent"),
            "promoted": metrics.get("promoted", 1.0) != 0,
            "verdict": (doc.get("hyperparameters") or {}).get("promotion"),
            "validity": {k.removesuffix("_validity"): v for k, v in metrics.items()
                         if k.endswith("_validity")},
            "generated": db.structures.count_documents(mine),
            "validated": db.structures.count_documents({**mine, "history.to": "validated"}),
            "measured": measured, "stable": stable,
            "stable_fraction": stable / measured if measured else None,
            "stable_fraction_ci95": [low, high] if measured else None,
        })
    return rows
