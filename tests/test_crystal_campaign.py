"""Crystal campaigns on the campaign engine: config, storing once, batched validation, and a
whole Li-Fe-O campaign (real CHGNet, small settings) interrupted by kill -9 and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pymatgen.core import Structure
from pymatgen.core.operations import SymmOp

from mofgen.campaigns import open_campaign
from mofgen.crystal.campaign import insert_crystal
from mofgen.crystal.dedup import find_duplicate, prekey
from mofgen.crystal.prototypes import reference_phases
from mofgen.documents import CampaignConfig, StructureDoc
from mofgen.stores.connection import connect
from tests.helpers.polling import wait_for

REPO = Path(__file__).resolve().parents[1]
CRYSTAL = {"kind": "crystal", "crystal": {"system": "Li-Fe-O"}}


def mofgen(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mofgen.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def copies(s: Structure) -> dict[str, Structure]:
    """The same crystal rotated, translated, and as a supercell."""
    rotated = s.copy()
    rotated.apply_operation(SymmOp.from_axis_angle_and_translation([1, 2, 3], 37.0))
    translated = s.copy()
    translated.translate_sites(list(range(len(s))), [0.13, 0.27, 0.41])
    return {"rotated": rotated, "translated": translated, "supercell": s * (2, 1, 1)}


# ------------------------------------------------------------------------ config errors
@pytest.mark.parametrize("args, message", [
    (["--kind", "crystal"], "needs a chemical system"),
    (["--system", "Li-Qq"], "'Qq' is not an element"),
    (["--system", "Li-Am"], "not covered by CHGNet"),
])
def test_bad_crystal_campaigns_are_refused_before_anything_is_written(db_dir, args, message):
    result = mofgen("run", "--db", db_dir, "--campaign", "bad", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    db = connect(db_dir)
    assert db.campaigns.count_documents({}) == 0
    db.close()


def test_bad_crystal_settings_in_a_config_file(db_dir, tmp_path):
    for crystal, message in [({"generator": "dream"}, "unknown crystal generator 'dream'"),
                             ({"generator": "substitution", "prototypes": ["nonsense"]},
                              "unknown prototype(s) nonsense"),
                             ({"prototypes": ["nonsense"]}, "unknown template(s) nonsense"),
                             ({"hull_threshold_eV": -1}, "crystal.hull_threshold_eV")]:
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump({**CRYSTAL, "crystal": {"system": "Li-Fe-O",
                                                                  **crystal}}))
        result = mofgen("run", "--db", db_dir, "--campaign", "bad", "--config", str(config))
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1


# ------------------------------------------------------------------------ store once
def test_the_same_crystal_submitted_rotated_translated_and_as_supercell_is_stored_once(
        db_dir, tmp_path):
    db = connect(db_dir)
    open_campaign(db, "lifeo", CampaignConfig.model_validate(CRYSTAL))
    open_campaign(db, "other", CampaignConfig.model_validate(CRYSTAL))
    hematite = reference_phases(names=["Fe2O3"])[0].structure
    wustite = reference_phases(names=["FeO"])[0].structure
    files = []
    for name, s in {"hematite": hematite, **copies(hematite), "wustite": wustite}.items():
        path = tmp_path / f"{name}.cif"
        s.to(filename=str(path))
        files.append(str(path))

    result = mofgen("submit", "--db", db_dir, "--campaign", "lifeo", *files, "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["submitted"]
    assert [r["created"] for r in rows] == [True, False, False, False, True]
    assert len({r["id"] for r in rows[:4]}) == 1, "every copy maps to the stored hematite"
    assert db.structures.count_documents({"campaign": "lifeo"}) == 2
    stored = db.structures.find_one({"_id": rows[0]["id"]})
    assert stored["kind"] == "crystal"
    assert stored["identifiers"]["crystal_key"] == "Fe2O3:167:Fe4,O6"
    assert stored["state"] == "generated" and stored["origin"]["generator"] == "submitted"

    # another campaign proposing it again: still one document, which notes the campaign
    doc_id, created = insert_crystal(db, "other", copies(hematite)["supercell"])
    assert (doc_id, created) == (rows[0]["id"], False)
    assert db.structures.find_one({"_id": doc_id})["also_in"] == ["other"]
    assert db.structures.count_documents({}) == 2
    db.close()


def test_submit_refuses_bad_files_and_mof_campaigns_without_writing(db_dir, tmp_path):
    db = connect(db_dir)
    open_campaign(db, "lifeo", CampaignConfig.model_validate(CRYSTAL))
    open_campaign(db, "mofs", CampaignConfig())
    good = tmp_path / "good.cif"
    reference_phases(names=["Li2O"])[0].structure.to(filename=str(good))
    bad = tmp_path / "bad.cif"
    bad.write_text("data_nothing\n_cell_length_a 3\n")
    cases = [(["--campaign", "lifeo", str(good), str(bad)], "not a readable structure"),
             (["--campaign", "lifeo", str(tmp_path / "missing.cif")], "no such file"),
             (["--campaign", "mofs", str(good)], "is a mof campaign"),
             (["--campaign", "nope", str(good)], "unknown campaign 'nope'")]
    for args, message in cases:
        result = mofgen("submit", "--db", db_dir, *args)
        assert result.returncode != 0 and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
    assert db.structures.count_documents({}) == 0
    db.close()


# ------------------------------------------------------------------------ batched validate
@pytest.fixture(scope="module")
def small_references():
    """A Li-Fe-O hull from five phases, briefly relaxed (fast; enough to screen)."""
    from mofgen.crystal.energy import build_references

    names = ["Li (bcc)", "Fe (bcc)", "O2 (molecule)", "Li2O", "Fe2O3"]
    return build_references(reference_phases(names=names), steps=10)


def test_batched_validation_rejects_invalid_duplicate_and_unstable_crystals(
        db, small_references):
    from mofgen.flows._stage import run_job
    from mofgen.flows.crystal import CrystalValidateMaker

    config = CampaignConfig.model_validate(CRYSTAL)
    open_campaign(db, "screen", config)
    db.campaigns.update_one({"_id": "screen"},
                            {"$set": {"references": small_references.as_dict()}})
    li2o = reference_phases(names=["Li2O"])[0].structure
    hematite = reference_phases(names=["Fe2O3"])[0].structure
    # (uniformly scaled copies would be duplicates: StructureMatcher compares at equal volume)
    squeezed = li2o.copy()
    squeezed.apply_strain([-0.88, 0, 0])  # atoms 0.39 A apart: fails min_distance (0.5 A)
    stretched = hematite.copy()
    stretched.apply_strain([0, 0, 1.5])  # c x2.5, Fe-O bonds broken: E_f above -0.2 eV/atom
    ids = {}
    for name, s in [("li2o", li2o), ("hematite", hematite), ("squeezed", squeezed),
                    ("stretched", stretched)]:
        ids[name], created = insert_crystal(db, "screen", s)
        assert created, name
    # a copy that slipped in past the insert-time check (e.g. two generators racing)
    supercell = copies(li2o)["supercell"]
    twin = StructureDoc.from_structure(supercell, "screen", kind="crystal",
                                       identifiers={"crystal_key": prekey(supercell)})
    db.structures.insert_one(twin.to_mongo())
    ids["twin"] = twin.id

    report = run_job(CrystalValidateMaker(), db.target, "screen", list(ids.values()), {})
    assert {r["outcome"] for r in report["results"]} <= {"validated", "rejected"}
    docs = {name: db.structures.find_one({"_id": i}) for name, i in ids.items()}
    for name in ("li2o", "hematite"):
        assert docs[name]["state"] == "validated", docs[name].get("rejection")
        assert docs[name]["validate"]["formation_energy_per_atom"] < -1.0, name
    assert docs["squeezed"]["rejection"]["value"] < 0.5  # shortest distance, A
    assert "min_distance" in [c["name"] for c in docs["squeezed"]["validate"]["checks"]
                              if not c["passed"]]
    assert docs["twin"]["rejection"]["reason"] == f"duplicate of {ids['li2o']}"
    assert docs["stretched"]["rejection"]["threshold"] == -0.2
    assert docs["stretched"]["rejection"]["value"] > -0.2
    for doc in docs.values():
        assert "lock" not in doc
        StructureDoc.from_mongo(doc)


# ------------------------------------------------------------------------ whole campaign
SMALL = {**CRYSTAL, "queue_depth_per_worker": 2,
         "resources": {"gpu": 1, "cpu": 1, "mpi": 0},
         "crystal": {"system": "Li-Fe-O", "generator": "substitution", "relax_steps": 100,
                     "substitution_threshold": 1e-5, "candidates_per_batch": 3,
                     "reference_relax_steps": 100, "retrain_min_relaxed": 3,
                     "retrain_epochs": 10}}
#: Known stable phases the candidates reproduce (the hull is built from the same phases,
#: relaxed the same way): they must land on the hull within relaxation noise. 0.05 eV/atom
#: allows for the 100-step, 0.05 eV/A FIRE cap on both sides; exa-AMD's flag is 0.1.
KNOWN = {"Li2O": "antifluorite", "Fe2O3": "corundum", "Fe3O4": "spinel"}
ON_HULL_TOLERANCE = 0.05  # eV/atom


def _run(db_dir: str, config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mofgen.cli", "run", "--db", db_dir, "--campaign", "lifeo",
         "--config", str(config), "--minutes", "40"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)


def test_li_fe_o_campaign_survives_kill_9_and_finds_the_known_phases_on_the_hull(
        db_dir, tmp_path):
    config = tmp_path / "lifeo.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    first = _run(db_dir, config)
    db = connect(db_dir)

    def simulated_and_busy():
        done = db.structures.count_documents({"campaign": "lifeo",
                                              "simulate.e_above_hull": {"$ne": None}})
        leased = db.structures.find_one({"campaign": "lifeo", "lock": {"$ne": None}})
        return leased if done >= 1 and leased else None

    interrupted = wait_for(simulated_and_busy, timeout_s=900)
    before = {d["_id"]: d["history"] for d in db.structures.find({"campaign": "lifeo"})}
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    time.sleep(1.5)  # orphaned launchers notice their parent is gone and exit

    second = _run(db_dir, config)
    output, _ = second.communicate(timeout=1800)
    assert second.returncode == 0, output
    assert "resumed after an interrupted run" in output
    assert "every candidate of the generator processed" in output, output

    for doc in db.structures.find({"campaign": "lifeo"}):
        if doc["_id"] in before:
            assert doc["history"][: len(before[doc["_id"]])] == before[doc["_id"]]
    again = db.structures.find_one({"_id": interrupted["_id"]})
    assert again["attempts"][interrupted["lock"]["stage"]] == 2, "the interrupted task re-ran"
    db.close()
    check_lifeo_campaign(db_dir, tmp_path)


def check_lifeo_campaign(db_dir: str, tmp_path: Path) -> None:
    """A finished Li-Fe-O campaign: every stage once, every candidate stored once, the
    known phases on the hull, the screener retrained, and an export."""
    db = connect(db_dir)
    docs = list(db.structures.find({"campaign": "lifeo"}))
    for doc in docs:
        reached = [h["to"] for h in doc["history"]]
        assert len(reached) == len(set(reached)), f"a stage ran twice: {reached}"
        assert doc["state"] in ("retrained", "rejected"), (doc["_id"], doc["state"],
                                                           doc.get("failure"))
        assert "lock" not in doc and "adsorb" not in doc
        StructureDoc.from_mongo(doc)

    # every candidate proposed once, stored once
    campaign = db.campaigns.find_one({"_id": "lifeo"})
    assert campaign["counters"]["generation_exhausted"] == 1
    assert campaign["counters"]["candidates_proposed"] == 9
    structures = [Structure.from_dict(d["structure"]) for d in docs]
    for i, s in enumerate(structures):
        assert find_duplicate(s, structures[:i]) is None, "a crystal was stored twice"

    # the known phases it was seeded from are on the hull; flags follow the threshold
    relaxed = [d for d in docs if (d.get("simulate") or {}).get("e_above_hull") is not None]
    for formula, prototype in KNOWN.items():
        hits = [d for d in relaxed if d["identifiers"]["formula"] == formula
                and d["origin"]["prototype"] == prototype]
        assert hits, f"{formula} ({prototype}) never relaxed"
        e_hull = hits[0]["simulate"]["e_above_hull"]
        assert abs(e_hull) <= ON_HULL_TOLERANCE, (formula, e_hull)
    for d in relaxed:
        assert d["simulate"]["near_hull"] == (d["simulate"]["e_above_hull"] <= 0.1)
    assert any(d["identifiers"]["formula"] == "LiFeO2" and d["simulate"]["near_hull"]
               for d in relaxed), "a LiFeO2 ordering near the hull"

    # the screener was fine-tuned on the campaign's relaxed crystals
    screeners = list(db.models.find({"kind": "screener", "campaign": "lifeo"})
                     .sort("created_at", 1))
    assert screeners and set(screeners[-1]["training_set_ids"]) == {d["_id"] for d in relaxed}
    assert {"mae_before_eV_per_atom", "mae_after_eV_per_atom"} <= set(screeners[-1]["metrics"])
    assert all(d["state"] == "retrained" and d["retrain"]["model_version"] for d in relaxed)
    db.close()

    # the result exports like a MOF campaign
    out = tmp_path / "export"
    result = mofgen("export", "--db", db_dir, "--campaign", "lifeo", "--out", str(out),
                    "--json")
    assert result.returncode == 0, result.stderr
    lines = (out / "structures.jsonl").read_text().splitlines()
    assert len(lines) == len(docs)
    record = next(json.loads(x) for x in lines if json.loads(x).get("simulate"))
    assert record["simulate"]["e_above_hull"] is not None
