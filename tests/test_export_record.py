"""records.jsonl: the database record of a MOF (issue 16, "the export a MOF database user
expects").

One document of a seeded campaign gets stage records from real runs (LAMMPS MD through
the validate Maker, LAMMPS QEq charges, Zeo++ pores, RASPA2 GCMC through the adsorb
Maker, all short); another carries replica fields as the validate/adsorb stages store
them when they run several replicas (seeded numbers: this tests what the export makes of
stored fields, not the replicas themselves).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
from types import SimpleNamespace

import pytest
from pydantic import Field
from pymatgen.core import Structure

from mofgen.chemistry import assemble_mof
from mofgen.errors import InvalidInput
from mofgen.export import export_campaign
from mofgen.export.record import Quantity, RecordModel, glossary
from mofgen.stores.connection import connect
from tests.helpers.exports import export_files
from tests.helpers.seed import seed_campaign

LINKERS = ["OC(=O)c1ccc(cc1)C(=O)O", "OC(=O)c1ccc(C(=O)O)cc1C"]
STRAIN_REPLICAS = [0.031, 0.045, 0.038]
UPTAKE_REPLICAS = [1.10, 1.25]
QUANTITY_KEYS = {"value", "unit", "uncertainty", "uncertainty_type"}


def _real_records(structure: Structure, workdir) -> dict:
    """validate, simulate and adsorb records from real (short) runs, validated by the
    stage record classes as the state machine does before writing."""
    from mofgen.engines.charges import ChargeEquilibration
    from mofgen.engines.lammps_md import NptStability
    from mofgen.engines.raspa import GcmcAdsorption
    from mofgen.engines.zeopp import PoreAnalysis
    from mofgen.flows.adsorb import AdsorbMaker
    from mofgen.flows.validate import ValidateMaker
    from mofgen.records import MofAdsorbRecord, MofSimulateRecord, MofValidateRecord

    ctx = SimpleNamespace(workdir=workdir / "md")
    md = NptStability.from_preset("demo-avg", steps=100, minimize_steps=0)
    validate = ValidateMaker(md=md).compute({"structure": structure.as_dict()}, ctx).record
    charges = ChargeEquilibration().run(structure, workdir / "qeq")
    charged = structure.copy()
    charged.add_site_property("charge", charges.charges)
    pores = PoreAnalysis(surface_samples_per_atom=200, volume_samples=2000).run(
        charged, workdir / "zeo")
    simulate = {"charges": charges.model_dump(mode="json", exclude={"structure"}),
                "structure": charged.as_dict(), "pores": pores.model_dump(mode="json")}
    gcmc = GcmcAdsorption(cycles=10, init_cycles=5, print_every=5)
    adsorb = AdsorbMaker(gcmc=gcmc).compute({"structure": structure.as_dict(),
                                             "simulate": simulate},
                                            SimpleNamespace(workdir=workdir / "gcmc")).record
    assert pores.ok and charges.ok and adsorb["status"] == "ok", adsorb.get("reason")
    return {"validate": MofValidateRecord.model_validate(validate).model_dump(mode="json"),
            "simulate": MofSimulateRecord.model_validate(simulate).model_dump(mode="json"),
            "adsorb": MofAdsorbRecord.model_validate(adsorb).model_dump(mode="json")}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A seeded campaign: ``full`` has real stage records, ``replicas`` replica fields."""
    target = str(tmp_path_factory.mktemp("records") / "store")
    db = connect(target)
    structures = [assemble_mof([s], pillar="C1CN2CCN1CC2").structure for s in LINKERS]
    ids = seed_campaign(db, "demo", 12, structures, smiles=LINKERS)
    adsorbed = [d["_id"] for d in db.structures.find(
        {"campaign": "demo", "state": {"$in": ["adsorbed", "retrained"]}}, {"_id": 1})]
    full, replicas = sorted(adsorbed)[:2]
    doc = db.structures.find_one({"_id": full})
    records = _real_records(Structure.from_dict(doc["structure"]),
                            tmp_path_factory.mktemp("runs"))
    db.structures.update_one({"_id": full}, {"$set": records})
    db.close()
    return SimpleNamespace(target=target, ids=ids, full=full, replicas=replicas)


@pytest.fixture(scope="module")
def exported(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    files = [export_files(store.target, "demo", out / name) for name in ("a", "b")]
    records = [json.loads(line) for line in files[0]["records.jsonl"].decode().splitlines()]
    return SimpleNamespace(files=files, out=out / "a", records={r["source_id"]: r
                                                                 for r in records})


def _is_quantity(value) -> bool:
    return isinstance(value, dict) and {"value", "unit"} <= set(value) <= QUANTITY_KEYS


def record_paths(value, prefix: str = "", mappings: frozenset[str] = frozenset()) -> set[str]:
    """Every key path of a record as the README names it: ``a.b``, ``a.list[].c``; a
    quantity is one path (its value/unit/uncertainty keys are explained once), the free
    mappings in ``mappings`` are leaves."""
    paths: set[str] = set()
    if isinstance(value, dict) and not _is_quantity(value) and prefix not in mappings:
        for key, item in value.items():
            path = (f"{prefix}.{key}" if prefix else key) + ("[]" if isinstance(item, list)
                                                              else "")
            paths.add(path)
            paths |= record_paths(item, path, mappings)
    elif isinstance(value, list):
        for item in value:
            paths |= record_paths(item, prefix, mappings)
    return paths


def _undocumented(record: dict, readme: str, mappings: frozenset[str]) -> set[str]:
    """Paths the README does not name (a list that is null here is named ``x[]``)."""
    return {p for p in record_paths(record, mappings=mappings)
            if f"`{p}`" not in readme and f"`{p}[]`" not in readme}


# ----------------------------------------------------------------------------- tests
def test_record_carries_every_field_with_units(store, exported):
    from rdkit import Chem

    db = connect(store.target, create=False)
    try:
        doc = db.structures.find_one({"_id": store.full})
    finally:
        db.close()
    r = exported.records[store.full]

    # identity, release, licence
    assert r["id"].startswith("mofgen-") and len(r["id"]) == 7 + 24
    assert r["content_hash"]["value"].startswith(r["id"][7:])
    assert r["release"] == max(
        json.loads(x)["updated_at"] for x in
        exported.files[0]["structures.jsonl"].decode().splitlines())[:10].replace("-", ".")
    assert r["licence"] == "CC-BY-4.0" and r["schema"] == "mofgen-mof-record-v1"
    assert r["cif_file"] == f"cif/{store.full}.cif" and (exported.out / r["cif_file"]).exists()

    # charges with the method named, one per published site
    charges = r["charges"]
    assert charges["method"] == doc["simulate"]["charges"]["method"]
    assert "QEq" in charges["method"] and charges["unit"] == "e"
    assert charges["values"] == pytest.approx(doc["simulate"]["charges"]["charges"])
    assert len(charges["values"]) == r["n_sites"] == len(doc["structure"]["sites"])
    assert charges["total"]["unit"] == "e" and abs(charges["total"]["value"]) < 1e-3

    # Zeo++ descriptors with the probe radius, each with its unit
    pores, stored = r["pores"], doc["simulate"]["pores"]
    assert pores["probe_radius"] == {"value": 1.65, "unit": "Å", "uncertainty": None,
                                     "uncertainty_type": None}
    units = {"lcd": "Å", "pld": "Å", "asa_per_cell": "Å^2", "asa_gravimetric": "m^2/g",
             "pore_volume_per_cell": "Å^3", "pore_volume_gravimetric": "cm^3/g",
             "void_fraction": "1", "density": "g/cm^3"}
    for key, unit in units.items():
        assert pores[key]["unit"] == unit and pores[key]["value"] > 0, key
    assert pores["lcd"]["value"] == stored["lcd_A"]
    assert pores["pore_volume_gravimetric"]["value"] == stored["pore_volume_cm3_per_g"]

    # adsorption: NIST-ISODB-like, conditions and force field with units
    ads, stored = r["adsorption"], doc["adsorb"]
    co2_key = Chem.MolToInchiKey(Chem.MolFromSmiles("O=C=O"))
    assert ads["adsorbates"] == [{"name": "CO2", "InChIKey": co2_key}]
    assert ads["category"] == "sim" and ads["isotherm_type"] == "absolute"
    assert (ads["temperature"], ads["temperatureUnits"]) == (300.0, "K")
    assert (ads["pressureUnits"], ads["adsorptionUnits"]) == ("bar", "mol/kg")
    point = ads["isotherm_data"][0]
    assert point["pressure"] == 0.1
    assert point["total_adsorption"] == stored["co2_uptake"]
    assert point["total_adsorption_uncertainty"] == stored["co2_uptake_error"]
    assert point["uncertainty_type"] == "standard error (RASPA2 blocks; replicas)"
    assert point["species_data"][0]["InChIKey"] == co2_key
    sim = ads["simulation"]
    assert sim["force_field"]["mixing_rule"] == "Lorentz-Berthelot"
    assert sim["force_field"]["framework"].startswith("UFF")
    assert "TraPPE" in sim["force_field"]["adsorbate"]
    assert sim["force_field"]["tail_corrections"] is False
    assert sim["cutoff"]["value"] == 12.8 and sim["cutoff"]["unit"] == "Å"
    assert (sim["cycles"], sim["init_cycles"]) == (10, 5)
    assert sim["charges_used"] and sim["charges_method"] == charges["method"]
    assert sim["conditions_source"] == "record" and sim["software_version"].startswith("RASPA2")
    assert ads["adsorbent"]["hashkey"] == r["content_hash"]["value"]

    # stability: protocol and result; one replica here, so no spread
    stab = r["stability"]
    assert stab["protocol_name"] == "demo-avg" and stab["protocol"]["steps"] == 100
    assert stab["strain"]["value"] == doc["validate"]["strain"]
    assert stab["strain"]["unit"] == "1" and stab["strain"]["uncertainty"] is None
    assert stab["temperature"]["unit"] == "K" and stab["timestep"]["unit"] == "fs"
    assert stab["pressure"]["unit"] == "atm"
    assert stab["strain_std"] is None and stab["strain_sem"] is None
    # one replica (the default): its strain is the list's one value, no spread
    assert stab["strain_replicas"] == [stab["strain"]["value"]] and stab["replicas"] == 1
    assert stab["strain_formula"] == "lagrangian"

    # validity flags, MOFChecker-style, on the published geometry
    val = r["validity"]
    assert val["has_carbon"] and val["has_hydrogen"] and val["has_metal"]
    assert val["has_atomic_overlaps"] is False and val["is_porous"] is True
    assert val["has_high_charges"] is False and val["passed"] is True
    assert {c["check"] for c in val["checks"]} >= {"overlap", "bond_length", "connectivity",
                                                    "charge", "density", "min_distance"}

    # lineage
    lin = r["lineage"]
    assert lin["generator_model_version"] == "gen-v0"
    assert lin["generator_model_lineage"] == ["gen-v0"]
    assert lin["mofgen_version"] == "0.1.0"
    assert lin["parent_linkers"][0]["smiles"] == doc["linkers"][0]["smiles"]
    assert lin["parent_linkers"][0]["linker_id"] == doc["linkers"][0]["linker_id"]
    assert lin["software_versions"]["lammps"] == ["2024.8"]

    # the OPTIMADE entry carries the ID and the headline numbers as provider fields
    from optimade.models import StructureResource

    entries = [json.loads(x) for x in
               exported.files[0]["optimade.jsonl"].decode().splitlines()[1:]]
    entry = next(e for e in entries if e["id"] == store.full)
    StructureResource(**entry)
    attrs = entry["attributes"]
    assert attrs["_mofgen_record_id"] == r["id"]
    assert attrs["_mofgen_charge_method"] == charges["method"]
    assert attrs["_mofgen_lcd_A"] == pores["lcd"]["value"]
    assert attrs["_mofgen_probe_radius_A"] == 1.65
    assert attrs["_mofgen_pore_volume_cm3_per_g"] == pores["pore_volume_gravimetric"]["value"]
    assert attrs["_mofgen_adsorption_temperature_K"] == 300.0
    assert attrs["_mofgen_co2_uptake_error_mol_per_kg"] == point["total_adsorption_uncertainty"]


def test_replica_uncertainties_are_exported(store, tmp_path):
    """Replica fields as the validate and adsorb stages store them (flows/validate.py,
    flows/adsorb.py: the mean, and one standard error)."""
    db = connect(store.target, create=False)
    try:
        before = db.structures.find_one({"_id": store.replicas})
        db.structures.update_one({"_id": store.replicas}, {"$set": {
            "validate.strain": statistics.fmean(STRAIN_REPLICAS),
            "validate.strain_std": statistics.stdev(STRAIN_REPLICAS),
            "validate.strain_sem": statistics.stdev(STRAIN_REPLICAS) / 3 ** 0.5,
            "validate.strain_replicas": STRAIN_REPLICAS, "validate.replicas": 3,
            "adsorb.co2_uptake": statistics.fmean(UPTAKE_REPLICAS),
            "adsorb.co2_uptake_error": statistics.stdev(UPTAKE_REPLICAS) / 2 ** 0.5,
            "adsorb.co2_uptake_replicas": UPTAKE_REPLICAS}})
        export_campaign(db, "demo", tmp_path, formats="records",
                        query={"_id": store.replicas})
    finally:
        db.structures.replace_one({"_id": store.replicas}, before)
        db.close()
    r = json.loads((tmp_path / "records.jsonl").read_text())
    stab = r["stability"]
    sem = statistics.stdev(STRAIN_REPLICAS) / 3 ** 0.5
    assert stab["strain_replicas"] == STRAIN_REPLICAS and stab["replicas"] == 3
    assert stab["strain"]["value"] == pytest.approx(statistics.fmean(STRAIN_REPLICAS))
    assert stab["strain"]["uncertainty"] == pytest.approx(sem)
    assert "standard error over 3 replicas" in stab["strain"]["uncertainty_type"]
    assert stab["strain_std"]["value"] == pytest.approx(statistics.stdev(STRAIN_REPLICAS))
    assert stab["strain_sem"]["value"] == pytest.approx(sem)
    point = r["adsorption"]["isotherm_data"][0]
    assert r["adsorption"]["replicas"] == UPTAKE_REPLICAS
    assert point["total_adsorption"] == pytest.approx(statistics.fmean(UPTAKE_REPLICAS))
    assert point["total_adsorption_uncertainty"] == pytest.approx(
        statistics.stdev(UPTAKE_REPLICAS) / 2 ** 0.5)
    # the seeded adsorb record has no conditions: they come from the campaign config
    assert r["adsorption"]["simulation"]["conditions_source"] == "campaign config"
    assert r["adsorption"]["temperature"] == 300.0


def _canonical(structure: Structure) -> str:
    """The README's recipe, written out independently of mofgen.export.record."""
    def fmt(x: float) -> str:
        return f"{round(x, 4) + 0.0:.4f}"

    lines = []
    for site in structure:
        coords = [round(float(f) % 1.0, 4) for f in site.frac_coords]
        lines.append(site.species_string + " " + " ".join(fmt(0.0 if c >= 1 else c)
                                                          for c in coords))
    lattice = " ".join(fmt(x) for row in structure.lattice.matrix for x in row)
    return "\n".join(["mofgen-structure-v1", f"lattice {lattice}", f"sites {len(lines)}",
                      *sorted(lines)]) + "\n"


def test_content_hash_is_stable_and_follows_the_structure(store, exported, tmp_path):
    assert exported.files[0]["records.jsonl"] == exported.files[1]["records.jsonl"]
    db = connect(store.target, create=False)
    first, second = (db.structures.find_one({"_id": i}) for i in store.ids[:2])
    try:
        structure = Structure.from_dict(first["structure"])
        digest = hashlib.sha256(_canonical(structure).encode()).hexdigest()
        assert exported.records[store.ids[0]]["content_hash"]["value"] == digest

        moved = structure.copy()
        moved.translate_sites([0], [0.01, 0.0, 0.0], frac_coords=True)
        shuffled = Structure.from_sites(
            list(reversed(Structure.from_dict(second["structure"]).sites)))
        db.structures.update_one({"_id": store.ids[0]},
                                 {"$set": {"structure": moved.as_dict()}})
        db.structures.update_one({"_id": store.ids[1]},
                                 {"$set": {"structure": shuffled.as_dict()}})
        export_campaign(db, "demo", tmp_path / "c", formats="records", release="1.0.0")
    finally:
        for doc in (first, second):
            db.structures.replace_one({"_id": doc["_id"]}, doc)
        db.close()
    again = {json.loads(x)["source_id"]: json.loads(x)
             for x in (tmp_path / "c" / "records.jsonl").read_text().splitlines()}
    assert again[store.ids[0]]["id"] != exported.records[store.ids[0]]["id"]  # moved atom
    assert again[store.ids[1]]["id"] == exported.records[store.ids[1]]["id"]  # site order
    assert again[store.ids[2]]["id"] == exported.records[store.ids[2]]["id"]
    assert {r["release"] for r in again.values()} == {"1.0.0"}


def test_readme_documents_every_record_field(store, exported):
    from mofgen.kinds.mof_record import MofRecord

    readme = exported.files[0]["README.md"].decode()
    mappings = frozenset(d.path for d in glossary(MofRecord) if d.mapping)
    assert mappings == {"stability.protocol", "lineage.software_versions"}
    paths = set()
    for record in exported.records.values():
        assert not _undocumented(record, readme, mappings), record["source_id"]
        paths |= record_paths(record, mappings=mappings)
    assert len(paths) > 120  # the full record was walked, not an empty one
    for unit in ("| `pores.lcd` | Å |", "| `adsorption.temperature` | K |",
                 "| `pores.pore_volume_gravimetric` | cm^3/g |", "| `charges.total` | e |"):
        assert unit in readme
    assert "mofgen-structure-v1" in readme and "Licence: **CC-BY-4.0**" in readme

    # the check fails on a field the README does not name
    extra = json.loads(json.dumps(exported.records[store.full]))
    extra["pores"]["secret_number"] = 1.0
    assert _undocumented(extra, readme, mappings) == {"pores.secret_number"}

    # and a record model cannot declare a field without a description or a unit
    class Undescribed(RecordModel):
        x: float

    class Unitless(RecordModel):
        q: Quantity = Field(description="no unit")

    for model in (Undescribed, Unitless):
        with pytest.raises(ValueError, match="description|unit"):
            glossary(model)


def test_bad_release_and_licence_are_one_line(store, tmp_path):
    db = connect(store.target, create=False)
    try:
        with pytest.raises(InvalidInput, match="--release"):
            export_campaign(db, "demo", tmp_path / "x", release="no spaces please")
        with pytest.raises(InvalidInput, match="--licence"):
            export_campaign(db, "demo", tmp_path / "x", licence="")
    finally:
        db.close()
    assert not (tmp_path / "x").exists()  # nothing half-written
    bad = subprocess.run([sys.executable, "-m", "mofgen.cli", "export", "--db", store.target,
                          "--campaign", "demo", "--out", str(tmp_path / "y"),
                          "--release", "a b"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert "--release" in bad.stderr and "Traceback" not in bad.stderr
