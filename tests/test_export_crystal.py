"""Export of a crystal campaign: relaxed CIFs, JSON Lines, OPTIMADE with hull energies."""

from __future__ import annotations

import json

import pytest
from pymatgen.core import Structure

from mofgen.crystal.energy import References
from mofgen.documents import StructureDoc
from mofgen.export import export_campaign
from mofgen.export.queries import lowest_hull, structures_store
from mofgen.stores.connection import connect
from tests.helpers.exports import export_files
from tests.test_dashboard_crystal import CANDIDATES, SIMULATED, seed_crystal_store

pytestmark = pytest.mark.filterwarnings("ignore:Issues encountered while parsing CIF")


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("exportx") / "store")
    seed_crystal_store(path)
    return path


@pytest.fixture(scope="module")
def exported(target, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "fe-li-o"
    db = connect(target, create=False)
    try:
        report = export_campaign(db, "fe-li-o", out)
        stored = {d["_id"]: d for d in db.structures.find({"campaign": "fe-li-o"})}
    finally:
        db.close()
    return out, report, stored


def test_crystal_export_files(exported):
    out, report, stored = exported
    assert report.count == len(CANDIDATES) == len(stored)
    assert set(report.files) == {"structures.jsonl", "optimade.jsonl", "references.json"}

    for doc_id, doc in stored.items():  # CIFs: relaxed geometry where simulated
        read = Structure.from_file(out / "cif" / f"{doc_id}.cif")
        expected = Structure.from_dict((doc.get("simulate") or doc)["structure"])
        assert read.composition == expected.composition
        assert read.volume == pytest.approx(expected.volume, rel=1e-4)

    lines = (out / "structures.jsonl").read_text().splitlines()
    records = {json.loads(x)["_id"]: json.loads(x) for x in lines}
    assert sorted(records) == sorted(stored)
    for doc_id, record in records.items():
        doc = StructureDoc.model_validate(record)
        assert doc.kind == "crystal" and doc.origin["prototype"] == CANDIDATES[doc_id][3]
        hull = (record.get("simulate") or {}).get("e_above_hull")
        assert hull == (stored[doc_id].get("simulate") or {}).get("e_above_hull")

    from optimade.models import StructureResource

    opt = (out / "optimade.jsonl").read_text().splitlines()
    assert json.loads(opt[0])["x-optimade"]["meta"]["api_version"]
    assert len(opt) == len(stored) + 1
    for line in opt[1:]:
        entry = json.loads(line)
        StructureResource(**entry)
        attrs, doc = entry["attributes"], stored[entry["id"]]
        assert attrs["_mofgen_prototype"] == doc["origin"]["prototype"]
        assert attrs["_mofgen_kind"] == "crystal" and "_mofgen_linker_smiles" not in attrs
        assert attrs["_mofgen_crystal_key"] == doc["identifiers"]["crystal_key"]
        if entry["id"] in SIMULATED:
            assert attrs["_mofgen_e_above_hull"] == doc["simulate"]["e_above_hull"]
            assert attrs["_mofgen_formation_energy_per_atom"] == (
                doc["simulate"]["formation_energy_per_atom"])
            assert attrs["_mofgen_near_hull"] == doc["simulate"]["near_hull"]
            assert attrs["nsites"] == len(doc["simulate"]["structure"]["sites"])
        else:
            assert "_mofgen_e_above_hull" not in attrs
            assert "_mofgen_formation_energy_per_atom" not in attrs
        if "validate" in doc:
            assert attrs["_mofgen_screen_formation_energy_per_atom"] == (
                doc["validate"]["formation_energy_per_atom"])

    meta = json.loads((out / "metadata.json").read_text())
    assert meta["kind"] == "crystal" and meta["system"] == "Fe-Li-O"
    assert meta["units"]["e_above_hull"].startswith("eV/atom")
    assert meta["units"]["formation_energy_per_atom"] == "eV/atom"
    assert "co2_uptake" not in meta["units"]
    assert meta["references"]["method"] == "chgnet-0.3.0" and "FeO" in meta["references"]["phases"]
    refs = References.from_dict(json.loads((out / "references.json").read_text()))
    assert len(refs.entries) == 7 and refs.phase_diagram  # the hull can be rebuilt
    readme = (out / "README.md").read_text()
    assert "_mofgen_e_above_hull" in readme and "references.json" in readme and "Fe-Li-O" in readme


def test_crystal_reexport_is_deterministic(target, tmp_path):
    digests = [export_files(target, "fe-li-o", tmp_path / name, min_state="simulated")
               for name in ("a", "b")]
    assert digests[0] == digests[1]
    assert sorted(k for k in digests[0] if k.startswith("cif/")) == [
        f"cif/{i}.cif" for i in sorted(SIMULATED)]


def test_crystal_campaign_without_references(target, tmp_path):
    db = connect(target, create=False)
    try:
        report = export_campaign(db, "empty", tmp_path / "e")
    finally:
        db.close()
    assert report.count == 0 and not (tmp_path / "e" / "references.json").exists()
    meta = json.loads((tmp_path / "e" / "metadata.json").read_text())
    assert meta["references"] is None and meta["units"]["e_above_hull"]


def test_lowest_hull_query(target):
    store = structures_store(target)
    store.connect()
    try:
        best = lowest_hull(store, "fe-li-o", limit=2)
        near = lowest_hull(store, "fe-li-o", max_e_above_hull=0.1)
    finally:
        store.close()
    assert [d["_id"] for d in best] == ["crystal-c", "crystal-a"]
    assert best[0]["origin"]["prototype"] == "spinel" and "structure" not in best[0]
    assert [d["_id"] for d in near] == ["crystal-c", "crystal-a"]
