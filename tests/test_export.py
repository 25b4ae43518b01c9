"""Open-database export: CIF, JSON Lines and OPTIMADE round-trip a seeded campaign."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pymatgen.core import Structure

from mofgen.chemistry import assemble_mof
from mofgen.documents import StructureDoc
from mofgen.errors import InvalidInput, NotFound
from mofgen.export import export_campaign
from mofgen.stores.connection import connect
from tests.conftest import BACKENDS, forget_target, new_target
from tests.helpers.exports import export_files
from tests.helpers.seed import seed_campaign

LINKERS = ["OC(=O)c1ccc(cc1)C(=O)O", "OC(=O)c1ccc(C(=O)O)cc1C"]


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request, tmp_path_factory):
    """A seeded campaign on the embedded store and on the wire-protocol server."""
    target = new_target(request, tmp_path_factory, "export")
    db = connect(target)
    structures = [assemble_mof([s], pillar="C1CN2CCN1CC2").structure for s in LINKERS]
    ids = seed_campaign(db, "demo", 40, structures, smiles=LINKERS)
    seed_campaign(db, "other", 5, structures, smiles=LINKERS, seed=3)
    db.close()
    yield target, ids
    forget_target(target)


def test_export_round_trips(seeded, tmp_path):
    target, ids = seeded
    db = connect(target, create=False)
    try:
        report = export_campaign(db, "demo", tmp_path / "out")
        stored = {d["_id"]: d for d in db.structures.find({"campaign": "demo"})}
    finally:
        db.close()
    out = tmp_path / "out"
    assert report.count == len(ids) == 40

    # every CIF reads back with the stored composition; relaxed ones carry charges
    cifs = sorted((out / "cif").glob("*.cif"))
    assert len(cifs) == 40
    charged = 0
    for path in cifs:
        doc = stored[path.stem]
        read = Structure.from_file(path)
        assert read.composition.reduced_formula == doc["identifiers"]["formula"]
        assert read.composition == Structure.from_dict(doc["structure"]).composition
        if "simulate" in doc:
            text = path.read_text()
            assert "_atom_site_charge" in text
            charged += 1
    assert charged > 0

    # JSON Lines validate against the document model and keep every stage's numbers
    lines = (out / "structures.jsonl").read_text().splitlines()
    assert len(lines) == 40
    for line in lines:
        record = json.loads(line)
        doc = StructureDoc.model_validate(record)
        original = stored[doc.id]
        assert doc.state == original["state"]
        assert (record.get("adsorb") or {}).get("co2_uptake") == (
            original.get("adsorb") or {}).get("co2_uptake")
        assert record["history"][0]["versions"]  # provenance: software versions
        assert record["linkers"][0]["model_version"] == "gen-v0"
    assert [json.loads(x)["_id"] for x in lines] == sorted(stored)

    # OPTIMADE entries validate with optimade-python-tools
    from optimade.models import StructureResource

    opt_lines = (out / "optimade.jsonl").read_text().splitlines()
    assert json.loads(opt_lines[0])["x-optimade"]["meta"]["api_version"]
    for line in opt_lines[1:]:
        entry = StructureResource(**json.loads(line))
        assert entry.attributes.nsites == len(Structure.from_dict(stored[entry.id]["structure"]))
        assert entry.attributes.chemical_formula_reduced
    assert len(opt_lines) == 41

    meta = json.loads((out / "metadata.json").read_text())
    assert meta["licence"] == "CC-BY-4.0"
    assert meta["config"]["mof"]["thresholds"]["stable_strain"] == 0.1
    assert "Licence" in (out / "README.md").read_text()


def test_reexport_is_deterministic(seeded, tmp_path):
    target, _ = seeded
    digests = [export_files(target, "demo", tmp_path / name, min_state="adsorbed")
               for name in ("a", "b")]
    assert digests[0] == digests[1]
    assert len(digests[0]) > 4


def test_min_state_and_query_select(seeded, tmp_path):
    target, _ = seeded
    db = connect(target, create=False)
    try:
        report = export_campaign(db, "demo", tmp_path / "o", formats="jsonl",
                                 min_state="adsorbed",
                                 query='{"adsorb.co2_uptake": {"$gt": 1}}')
        expected = db.structures.count_documents({
            "campaign": "demo", "state": {"$in": ["adsorbed", "retrained"]},
            "adsorb.co2_uptake": {"$gt": 1}})
        with pytest.raises(InvalidInput, match="--query"):
            export_campaign(db, "demo", tmp_path / "x", query="{not json")
        with pytest.raises(InvalidInput, match="--min-state"):
            export_campaign(db, "demo", tmp_path / "x", min_state="rejected")
        with pytest.raises(InvalidInput, match="--format"):
            export_campaign(db, "demo", tmp_path / "x", formats="xyz")
        with pytest.raises(NotFound):
            export_campaign(db, "nope", tmp_path / "x")
    finally:
        db.close()
    assert report.count == expected > 0
    assert not (tmp_path / "o" / "cif").exists()
    for line in (tmp_path / "o" / "structures.jsonl").read_text().splitlines():
        assert json.loads(line)["adsorb"]["co2_uptake"] > 1


def test_export_cli(seeded, tmp_path):
    target, _ = seeded
    run = [sys.executable, "-m", "mofgen.cli", "export", "--db", target, "--campaign", "other",
           "--out", str(tmp_path / "cli"), "--format", "cif,jsonl", "--json"]
    result = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["count"] == 5
    bad = subprocess.run(run[:-3] + ["--query", "[1]"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert "--query" in bad.stderr and "Traceback" not in bad.stderr
