"""The README's main job: ``mofgen run --config demo`` goes through all five stages.

Real codes throughout (the shipped generator, RDKit/Open Babel, the assembler, LAMMPS,
CHGNet, QEq, Zeo++, RASPA2, fine-tuning), small settings from the shipped demo config,
in which retraining starts after 2 stable structures instead of MOFA's 64.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mofgen.documents import LinkerDoc, ModelVersionDoc, StructureDoc
from mofgen.stores.connection import connect

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_campaign_reaches_every_stage_and_retrains(tmp_path):
    db_dir = str(tmp_path / "store")
    run = subprocess.run(
        [sys.executable, "-m", "mofgen.cli", "run", "--db", db_dir, "--campaign", "demo",
         "--config", "demo", "--minutes", "10"],
        cwd=tmp_path, capture_output=True, text=True, timeout=1500,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    check_demo_campaign(db_dir)


def check_demo_campaign(db_dir: str, sampled_from_retrained: bool = True) -> None:
    """Every stage reached, a retrained generator (sampled from, unless a shorter budget
    ends the run before generation resumes after backpressure), every document valid."""
    status = subprocess.run(
        [sys.executable, "-m", "mofgen.cli", "status", "--db", db_dir, "--json"],
        capture_output=True, text=True, timeout=120)
    (report,) = json.loads(status.stdout)["campaigns"]
    reached = report["reached"]
    assert reached["generated"] >= 1 and reached["validated"] >= 1
    assert reached["simulated"] >= 1 and reached["adsorbed"] >= 1, reached
    uptake = next(c for c in report["best"] if c["key"] == "co2_uptake")
    assert uptake["unit"] == "mol/kg" and uptake["top"] and uptake["top"][0]["value"] > 0

    db = connect(db_dir, create=False)
    assert db.collection("fireworks").count_documents({"state": "FIZZLED"}) == 0
    trained = list(db.models.find({"campaign": "demo", "kind": "generator"}))
    assert trained, "retraining registered a new generator version"
    assert all(m["parent"] and m["training_set_ids"] for m in trained)
    for version in trained:  # each measured at registration on 64 samples per anchor
        for anchor in ("COO", "cyano"):
            assert version["metrics"][f"{anchor}_samples"] >= 64
            assert f"{anchor}_validity" in version["metrics"]
    assert db.gridfs().exists(trained[0]["checkpoint_file_id"])
    versions = {m["_id"] for m in trained}
    if sampled_from_retrained:  # the whole 10-minute budget: the loop has turned twice
        promoted = [m for m in trained if m["metrics"]["promoted"]]
        assert len(promoted) >= 2, [m["hyperparameters"]["promotion"] for m in trained]
        learning = {row["version"]: row for row in report["learning"]}
        assert any(learning[m["_id"]]["generated"] for m in promoted
                   if m["_id"] in learning), "a promoted version generated structures"
        assert db.linkers.count_documents({"campaign": "demo",
                                           "model_version": {"$in": sorted(versions)}}) > 0, \
            "later generations sampled from a retrained version"
    assert db.linkers.count_documents({"campaign": "demo", "fate": "used"}) >= 2
    assert reached["retrained"] >= 1 or db.structures.count_documents(
        {"campaign": "demo", "retrain_versions": {"$ne": []}}) >= 1
    for doc in db.structures.find({"campaign": "demo"}):
        StructureDoc.from_mongo(doc)  # everything the pipeline wrote is a valid document
    for doc in db.linkers.find({"campaign": "demo"}):
        LinkerDoc.from_mongo(doc)
    for doc in db.models.find():
        ModelVersionDoc.from_mongo(doc)
    db.close()
