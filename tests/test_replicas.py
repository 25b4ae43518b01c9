"""Replicas and uncertainty (issue 16): N independent MD / GCMC runs per structure, their
mean and spread in the records, and the policy ranking by a confidence bound.

The stage tests run real LAMMPS and RASPA2 with tiny settings; the policy tests seed
documents whose point and bound orders differ.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics

import pytest
from pymatgen.core import Structure

from mofgen.campaigns import open_campaign
from mofgen.documents import CampaignConfig, StructureDoc
from mofgen.engines.lammps_md import NptStability
from mofgen.engines.raspa import T95_BLOCKS, GcmcAdsorption
from mofgen.engines.results import StabilityResult
from mofgen.flows._stage import run_job
from mofgen.flows.validate import replica_record
from mofgen.kinds import get_kind
from mofgen.kinds.mof import MofPolicy
from mofgen.records import MofAdsorbRecord, MofValidateRecord
from mofgen.states import StateMachine
from mofgen.statistics import summarize_replicas
from tests.conftest import HMOF0, small_structure

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
Z = 1.645


@pytest.fixture(scope="module")
def pillared_mof() -> Structure:
    """Zn2(BDC)2(DABCO), 54 atoms, from the assembler (as tests/test_campaign_engine.py)."""
    from mofgen.chemistry import assemble_mof

    return assemble_mof(["OC(=O)c1ccc(cc1)C(=O)O"], pillar="C1CN2CCN1CC2").structure


def campaign_with(db, name: str, structure: Structure, **mof) -> tuple[CampaignConfig, str]:
    config = CampaignConfig.model_validate({"mof": mof})
    open_campaign(db, name, config)
    doc = StructureDoc.from_structure(structure, name)
    assert StateMachine(db.structures, worker="seed").create(doc)
    return config, doc.id


# ----------------------------------------------------------------------------- statistics
def test_summary_of_one_replica_has_no_spread():
    one = summarize_replicas([0.07])
    assert (one.mean, one.std, one.sem, one.n) == (0.07, None, None, 1)
    two = summarize_replicas([0.05, 0.07])
    assert two.mean == pytest.approx(0.06)
    assert two.std == pytest.approx(statistics.stdev([0.05, 0.07]))
    assert two.sem == pytest.approx(two.std / math.sqrt(2))
    with pytest.raises(ValueError):
        summarize_replicas([])


def test_single_replica_record_keeps_spread_unknown():
    """One run: std and sem None (not 0), the bound is the point value, decided as before."""
    md = NptStability(steps=10)
    run = StabilityResult(strain=0.3, steps=10, protocol={"seed": md.seed}, stable=False)
    record = MofValidateRecord.model_validate(
        {**replica_record([run], md, Z), "finished": T0})
    assert record.replicas == 1 and record.strain_replicas == [0.3]
    assert record.strain_std is None and record.strain_sem is None
    assert record.strain_upper == record.strain == 0.3
    assert record.status == "rejected" and "0.300 >= 0.25" in record.reason


# ----------------------------------------------------------------------------- validate
@pytest.mark.slow
def test_two_replica_validate_stores_mean_and_spread(db, tmp_path, monkeypatch, pillared_mof):
    """The campaign's settings build the stage; two LAMMPS runs with velocity seeds seed
    and seed + 1; the record holds their mean, spread and bound."""
    monkeypatch.chdir(tmp_path)
    config, doc_id = campaign_with(db, "rep", pillared_mof, stability_replicas=2,
                                   md_steps=200)
    maker = get_kind("mof").makers(config)["validate"]
    assert maker.replicas == 2 and maker.md.preset == "demo-avg"
    out = run_job(maker, db.target, "rep", [doc_id], {})
    assert out["results"][0]["outcome"] in ("validated", "rejected"), out
    doc = db.structures.find_one({"_id": doc_id})
    v = doc["validate"]
    MofValidateRecord.model_validate(v)  # what is stored is the declared record
    assert v["replicas"] == 2
    assert v["replica_seeds"] == [maker.md.seed, maker.md.seed + 1]
    strains = v["strain_replicas"]
    assert len(strains) == 2 and all(0 <= s < 1 for s in strains)
    assert v["strain"] == pytest.approx(statistics.mean(strains), abs=1e-15)
    assert v["strain_std"] > 0, "different velocity seeds give different strains"
    assert v["strain_std"] == pytest.approx(statistics.stdev(strains))
    assert v["strain_sem"] == pytest.approx(v["strain_std"] / math.sqrt(2))
    assert v["strain_upper"] == pytest.approx(v["strain"] + Z * v["strain_sem"])
    assert v["confidence_z"] == Z
    # each replica ran in its own directory with its own seed, typed once
    work = tmp_path / f"validate-{doc_id}"
    for i, seed in enumerate(v["replica_seeds"]):
        script = (work / f"replica-{i}" / "in.md").read_text()
        assert f"velocity        all create 300.0 {seed} " in script
    assert (work / "replica-0" / "typing.log").exists()
    assert not (work / "replica-1" / "typing.log").exists()
    # the decision is on the mean
    stable = v["strain"] < config.settings.thresholds.stable_strain
    assert v["stable"] is stable and (doc["state"] == "validated") is stable


# ----------------------------------------------------------------------------- adsorb
@pytest.mark.slow
def test_two_replica_adsorption_combines_replica_spread_and_block_errors(db, tmp_path,
                                                                         monkeypatch):
    """Two RASPA2 runs (20 + 10 cycles, no charges) with RandomSeed seed and seed + 1."""
    from mofgen.flows.adsorb import AdsorbMaker

    monkeypatch.chdir(tmp_path)
    hmof0 = Structure.from_file(HMOF0)
    _, doc_id = campaign_with(db, "ads", hmof0)
    db.structures.update_one({"_id": doc_id}, {"$set": {"state": "simulated"}})
    gcmc = GcmcAdsorption(cycles=20, init_cycles=10, print_every=10, use_charges=False)
    maker = AdsorbMaker(gcmc=gcmc, replicas=2, confidence_z=Z)
    out = run_job(maker, db.target, "ads", [doc_id], {})
    assert out["results"][0]["outcome"] == "adsorbed", out
    a = db.structures.find_one({"_id": doc_id})["adsorb"]
    MofAdsorbRecord.model_validate(a)
    # RASPA2 reports the seed it used: the ones we set
    assert a["replica_seeds"] == [gcmc.seed, gcmc.seed + 1]
    uptakes, blocks = a["co2_uptake_replicas"], a["co2_uptake_replica_errors"]
    assert len(uptakes) == 2 and uptakes[0] != uptakes[1]
    assert a["co2_uptake"] == pytest.approx(statistics.mean(uptakes))
    sem = statistics.stdev(uptakes) / math.sqrt(2)
    block = math.sqrt(blocks[0] ** 2 + blocks[1] ** 2) / 2
    assert a["co2_uptake_sem"] == pytest.approx(sem)
    assert a["co2_uptake_error"] == pytest.approx(max(sem, block))
    assert a["co2_uptake_lower"] == pytest.approx(a["co2_uptake"] - Z * a["co2_uptake_error"])
    # RASPA2's own "+/-" is a 95 % half-width: the block standard error is it / t(4)
    assert a["uptake_stderr_mol_per_kg"] == pytest.approx(block)
    assert a["uptake_error_mol_per_kg"] == pytest.approx(block * T95_BLOCKS)


# ----------------------------------------------------------------------------- policy
def seed_docs(db, campaign: str, rows: list[tuple[str, dict, dict | None]]) -> None:
    for i, (state, validate, adsorb) in enumerate(rows):
        data = StructureDoc.from_structure(small_structure(i), campaign,
                                           doc_id=f"s{i:03d}").to_mongo()
        data.update(state=state, created_at=T0 + dt.timedelta(minutes=i), validate=validate,
                    history=[{"from": "none", "to": "generated", "time": T0}])
        if adsorb is not None:
            data["adsorb"] = adsorb
        db.structures.insert_one(data)


def policy(db, **mof) -> MofPolicy:
    config = CampaignConfig.model_validate({
        "resources": {"gpu": 1, "cpu": 1}, "queue_depth_per_worker": 3,
        "mof": {"thresholds": {"retrain_min_stable": 2, "retrain_min_adsorbed": 2}, **mof}})
    return MofPolicy(db, "c", config)


def decide(p: MofPolicy) -> dict:
    flight = {"docs": {}, "stages": {}, "ready": {}, "running": {}}
    return {d.stage: d for d in p.decide(flight)}


def strain(mean: float, sem: float | None) -> dict:
    return {"strain": mean, "strain_sem": sem, "strain_upper": mean + Z * (sem or 0.0)}


# s000 has the lowest mean strain but replicas that disagree; its bound is the worst
WAITING = [("simulated", strain(0.02, 0.03), None),    # upper 0.069
           ("simulated", strain(0.04, 0.001), None),   # upper 0.042
           ("simulated", strain(0.05, None), None)]    # upper 0.050


def test_adsorb_picks_by_strain_bound_when_set(db):
    seed_docs(db, "c", WAITING)
    point = decide(policy(db))["adsorb"]
    assert point.doc_ids == ["s000", "s001", "s002"]
    assert "validate.strain asc" in point.reason and "point value" in point.reason
    bound = decide(policy(db, rank_by="confidence_bound"))["adsorb"]
    assert bound.doc_ids == ["s001", "s002", "s000"]
    assert "validate.strain_upper asc" in bound.reason
    assert "confidence bound, z = 1.645" in bound.reason
    assert bound.evidence["rank_by"] == "confidence_bound"


def test_simulate_picks_by_strain_bound_when_set(db):
    seed_docs(db, "c", [("validated", *row[1:]) for row in WAITING])
    assert decide(policy(db))["simulate"].doc_ids == ["s000", "s001", "s002"]
    bound = decide(policy(db, rank_by="confidence_bound"))["simulate"]
    assert bound.doc_ids == ["s001", "s002", "s000"]


def test_retrain_takes_top_adsorbers_by_lower_bound_when_set(db):
    def uptake(mean: float, error: float) -> dict:
        return {"co2_uptake": mean, "co2_uptake_error": error,
                "co2_uptake_lower": mean - Z * error}

    seed_docs(db, "c", [
        ("adsorbed", strain(0.01, None), uptake(3.0, 1.0)),   # lower 1.36
        ("adsorbed", strain(0.01, None), uptake(2.5, 0.5)),   # lower 1.68
        ("adsorbed", strain(0.01, None), uptake(2.0, 0.05)),  # lower 1.92
        ("adsorbed", strain(0.01, None), uptake(1.0, 0.01)),  # lower 0.98
    ])
    point = decide(policy(db))["retrain"]
    assert point.params["training_ids"] == ["s000", "s001"]
    assert "top adsorbers by adsorb.co2_uptake;" in point.reason
    bound = decide(policy(db, rank_by="confidence_bound"))["retrain"]
    assert bound.params["training_ids"] == ["s002", "s001"]
    assert "adsorb.co2_uptake_lower" in bound.reason and "confidence bound" in bound.reason


def test_replica_settings_are_validated():
    from pydantic import ValidationError

    for bad in ({"stability_replicas": 0}, {"adsorption_replicas": 17},
                {"rank_by": "bound"}, {"confidence_z": 0.5},
                {"stability_replicas": 2, "stability_protocol": "mofa"}):
        with pytest.raises(ValidationError):
            CampaignConfig.model_validate({"mof": bad})
    config = CampaignConfig.model_validate({"mof": {"adsorption_replicas": 3,
                                                    "confidence_z": 2.0}})
    adsorb = get_kind("mof").makers(config)["adsorb"]
    assert (adsorb.replicas, adsorb.confidence_z) == (3, 2.0)
