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
         "--config", "demo", "--minutes", "9"],
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
    assert report["best_uptake"] and report["best_uptake"][0]["co2_uptake_mol_per_kg"] > 0

    db = connect(db_dir, create=False)
    trained = list(db.models.find({"campaign": "demo", "kind": "generator"}))
    assert trained, "retraining registered a new generator version"
    assert all(m["parent"] and m["training_set_ids"] for m in trained)
    assert db.gridfs().exists(trained[0]["checkpoint_file_id"])
    versions = {m["_id"] for m in trained}
    if sampled_from_retrained:
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
