"""Any chemical system: the prototype library, the generators and their cursor, reference
phases built from the library, a references file of the user's, and a whole Mg-Al-O
campaign started from nothing but the system's name."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Composition, Lattice, Structure

from mofgen.campaigns import open_campaign
from mofgen.crystal.compositions import passes_smact
from mofgen.crystal.generators import generator_for, substitute, template_plan
from mofgen.crystal.library import templates
from mofgen.crystal.random_structures import attempt, compositions
from mofgen.crystal.references import binary_candidates, elemental_phases, load_references_file
from mofgen.documents import CampaignConfig
from mofgen.errors import InvalidInput
from mofgen.stores.connection import connect

REPO = Path(__file__).resolve().parents[1]


def mofgen(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mofgen.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


# -------------------------------------------------------------------------- the library
def test_the_prototype_library_has_at_least_100_distinct_prototypes():
    library = templates()
    assert len(library) >= 100
    assert len({t.name for t in library}) == len(library)
    by_origin = defaultdict(int)
    for t in library:
        by_origin[t.origin] += 1
        assert t.source and t.structure.is_ordered and len(t.structure) <= 32
    # fluorite CaF2 is antifluorite Na2O with the elements swapped: one of the 11 hand-built
    assert by_origin["aflow"] >= 100 and by_origin["mofgen"] == 10 and by_origin["ase"] >= 1
    # distinct: no two are the same structure under any relabelling of their elements
    groups = defaultdict(list)
    for t in library:  # a duplicate has the same anonymous formula and number of sites
        groups[(t.structure.composition.anonymized_formula, len(t.structure))].append(t)
    matcher = StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False)
    for members in groups.values():
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                assert not matcher.fit_anonymous(a.structure, b.structure), (a.name, b.name)
    names = {t.name for t in library}
    assert {"rocksalt", "spinel", "perovskite", "olivine"} <= names  # hand-built
    assert "fluorite" not in names and "antifluorite" in names
    assert not any(n.startswith("A2BC4_cF56_227") for n in names)  # AFLOW spinel = hand-built
    with pytest.raises(InvalidInput, match="unknown template"):
        templates(["no-such-prototype"])


# ---------------------------------------------------------------------- template generator
def test_template_substitution_covers_the_system_charge_balanced_and_rescaled():
    plan = template_plan("Mg-Al-O")
    assert len(plan) > 300
    formulas = [substitute(name, mapping).composition.reduced_formula for name, mapping in plan]
    assert all(passes_smact(f) for f in formulas)
    assert all({el.symbol for el in Composition(f).elements} <= {"Mg", "Al", "O"}
               for f in formulas)
    # the whole system first: ternaries precede binaries
    sizes = [len(Composition(f).elements) for f in formulas]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 3
    assert {"MgAl2O4", "MgO", "Al2O3"} <= set(formulas)
    # rock salt's A <-> B swap gives the same crystal: MgO in rock salt is proposed once
    assert sum(1 for name, m in plan
               if name == "rocksalt" and set(dict(m).values()) == {"Mg", "O"}) == 1
    # CsCl (B2) has the same swap
    assert sum(1 for name, m in plan
               if name == "cesiumchloride" and set(dict(m).values()) == {"Mg", "Al"}) == 1
    # MgO in rock salt from NaCl: 9.34 A^3/atom measured (a = 4.212 A, Wyckoff 1963);
    # Slater radii put it within 10 %
    mgo = substitute("rocksalt", (("Cl", "O"), ("Na", "Mg")))
    assert mgo.volume / len(mgo) == pytest.approx(9.34, rel=0.10)


def test_random_structures_are_reproducible_and_screened():
    comps = compositions("Mg-Al-O", 6, 16)
    assert comps and all(passes_smact(c.reduced_formula) for c in comps)
    assert "MgO" in {c.reduced_formula for c in comps}
    made = [attempt("Mg-Al-O", 3, i) for i in range(6)]
    made = [c for c in made if c is not None]
    assert len(made) >= 2, "pyxtal placed nothing in six attempts"
    for c in made:
        assert c.generator == "pyxtal" and 2 <= c.extra["spacegroup"] <= 230
        assert len(c.structure) <= 16
        assert c.structure.get_space_group_info(symprec=0.1)[1] >= 2
        again = attempt("Mg-Al-O", 3, c.extra["attempt"])
        assert again.structure == c.structure  # a resumed campaign proposes the same
    other = [attempt("Mg-Al-O", 4, c.extra["attempt"]) for c in made]
    assert any(o is None or o.structure != c.structure for o, c in zip(other, made))


# ---------------------------------------------------------------------- resumable cursor
GENERATE = """
import sys
from mofgen.flows._stage import run_job
from mofgen.flows.crystal import CrystalGenerateMaker
print(run_job(CrystalGenerateMaker(), sys.argv[1], sys.argv[2], [], {})["start"])
"""


@pytest.mark.parametrize("generator", ["template", "pyxtal"])
def test_a_restarted_campaign_continues_the_generator_where_it_stopped(db, generator):
    from mofgen.flows._stage import run_job
    from mofgen.flows.crystal import CrystalGenerateMaker

    config = CampaignConfig.model_validate({"kind": "crystal", "crystal": {
        "system": "Mg-Al-O", "generator": generator, "candidates_per_batch": 3}})
    open_campaign(db, "cursor", config)
    first = run_job(CrystalGenerateMaker(), db.target, "cursor", [], {})
    assert "start" in first, first
    assert first["start"] == 0 and first["proposed"] == 3
    cursor = db.campaigns.find_one({"_id": "cursor"})["counters"]["generator_cursor"]
    assert cursor == first["cursor"] >= 3
    # a new process (nothing cached) continues at the stored cursor
    second = subprocess.run([sys.executable, "-c", GENERATE, db.target, "cursor"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert int(second.stdout.split()[-1]) == cursor
    counters = db.campaigns.find_one({"_id": "cursor"})["counters"]
    assert counters["candidates_proposed"] == 6 and counters["generator_cursor"] > cursor
    assert not counters.get("generation_exhausted")

    # what was stored is the generator's sequence from 0, each candidate once
    docs = list(db.structures.find({"campaign": "cursor"}).sort("created_at", 1))
    expected = generator_for(generator)(config, 0, 6).candidates
    assert len(docs) == 6
    for doc, candidate in zip(docs, expected):
        stored = Structure.from_dict(doc["structure"])
        assert stored.composition.reduced_formula == candidate.formula
        assert StructureMatcher().fit(stored, candidate.structure)
        assert doc["origin"]["generator"] == generator


def test_chained_generators_run_one_after_the_other_and_resume_in_either_part():
    from mofgen.crystal.generators import CHAIN_STRIDE

    config = CampaignConfig.model_validate({"kind": "crystal", "crystal": {
        "system": "Mg-Al-O", "generator": "template+pyxtal",
        "prototypes": ["rocksalt", "cesiumchloride"]}})
    template, pyxtal = generator_for("template"), generator_for("pyxtal")
    plan = template(config, 0, 1000)
    assert plan.exhausted and 0 < len(plan.candidates) < 20
    chained = generator_for("template+pyxtal")
    first = chained(config, 0, len(plan.candidates) + 3)  # crosses into pyxtal's part
    assert first.cursor == CHAIN_STRIDE and not first.exhausted
    assert [c.formula for c in first.candidates] == [c.formula for c in plan.candidates]
    assert {c.generator for c in first.candidates} == {"template"}
    second = chained(config, first.cursor, 3)  # resumed: pyxtal from its own start
    expected = pyxtal(config, 0, 3)
    assert second.cursor == CHAIN_STRIDE + expected.cursor and not second.exhausted
    assert [c.structure for c in second.candidates] == [c.structure for c in expected.candidates]
    with pytest.raises(InvalidInput, match="unknown crystal generator 'template\\+nope'"):
        generator_for("template+nope")


# ---------------------------------------------------------------------- reference phases
def test_reference_phases_of_any_system_are_built_from_the_library():
    oxygen = elemental_phases("O")
    assert [p.name for p in oxygen] == ["O2 (molecule)"] and not oxygen[0].relax_cell
    magnesium = elemental_phases("Mg")
    assert 1 < len(magnesium) <= 3 and magnesium[0].name == "Mg (hcp)"
    assert any("A_oC8_64_f" in p.name for p in elemental_phases("Ga"))  # alpha-Ga (A11)
    binaries = binary_candidates("Mg-Al-O")
    formulas = {p.structure.composition.reduced_formula for p in binaries}
    assert {"MgO", "Al2O3"} <= formulas
    assert all(passes_smact(f) for f in formulas)
    assert all(len(p.structure.composition.elements) == 2 for p in binaries)


def _references_file(tmp_path: Path, items) -> str:
    path = tmp_path / "refs.json"
    path.write_text(json.dumps(items))
    return str(path)


def test_a_reference_phase_whose_relaxation_collapsed_is_dropped_from_the_hull():
    """Energies per atom from a real Hf-Si-O campaign (2026-11-30): a SiO2 template relaxed
    to 17 g/cm3 and -25.08 eV/atom, which put hafnon 8.4 eV/atom above the hull."""
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    from mofgen.crystal.energy import collapse_reason
    from mofgen.crystal.references import drop_collapsed

    def entry(name, species, energy_per_atom):
        structure = Structure(Lattice.cubic(3 * len(species)), species,
                              [[i / len(species), 0, 0] for i in range(len(species))])
        return ComputedStructureEntry(structure, energy_per_atom * len(species),
                                      data={"name": name})

    entries = [entry("O2", ["O", "O"], -4.819), entry("Si", ["Si"], -5.314),
               entry("Hf", ["Hf"], -9.933), entry("HfO2", ["Hf", "O", "O"], -10.61),
               entry("SiO2 (collapsed)", ["Si", "O", "O"], -25.084)]
    kept, dropped = drop_collapsed(entries)
    assert dropped == ["SiO2 (collapsed)"]
    assert [e.data["name"] for e in kept] == ["O2", "Si", "Hf", "HfO2"]  # E_f(HfO2) = -4.09
    assert collapse_reason(-4.09) is None
    assert "collapsed" in collapse_reason(-20.1)


def test_a_references_file_is_checked_line_by_line(tmp_path):
    mgo = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.21), ["Mg", "O"],
                                    [[0, 0, 0], [0.5, 0.5, 0.5]])
    good = load_references_file(_references_file(tmp_path, [
        {"name": "periclase", "structure": mgo.as_dict()},
        {"name": "MgO given", "cif": mgo.to(fmt="cif"), "energy_per_atom": -6.0,
         "method": "chgnet-0.3.0"}]), "Mg-Al-O", "chgnet-0.3.0")
    assert [p.name for p in good.to_relax] == ["periclase"]
    assert good.computed[0].energy_per_atom == pytest.approx(-6.0)
    cif = tmp_path / "mgo.cif"
    mgo.to(filename=str(cif))
    assert len(load_references_file(cif, "Mg-O").to_relax) == 1

    squeezed = mgo.copy()
    squeezed.scale_lattice(mgo.volume * 0.01)
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    cases = [
        ([{"structure": nacl.as_dict()}], "outside the system Al-Mg-O"),
        ([{"structure": mgo.as_dict(), "energy_per_atom": -6.0}], "needs \"method\""),
        ([{"structure": mgo.as_dict(), "energy_per_atom": -6.0, "method": "mace"}],
         "needs \"method\""),
        ([{"structure": mgo.as_dict(), "energy_per_atom": "low", "method": "chgnet-0.3.0"}],
         "finite number"),
        ([{"structure": squeezed.as_dict()}], "shortest interatomic distance"),
        ([{"cif": "data_x\n"}], "not a readable structure"),
        ([{"name": "x"}], "needs 'structure'"),
        ([{"structure": mgo.as_dict(), "colour": "red"}], "unknown key(s) colour"),
        ([], "non-empty JSON list"),
    ]
    for items, message in cases:
        with pytest.raises(InvalidInput, match=None) as error:
            load_references_file(_references_file(tmp_path, items), "Mg-Al-O",
                                 "chgnet-0.3.0")
        assert message in str(error.value) and "\n" not in str(error.value), str(error.value)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="not JSON"):
        load_references_file(tmp_path / "bad.json", "Mg-O")
    with pytest.raises(InvalidInput, match="no such file"):
        load_references_file(tmp_path / "missing.json", "Mg-O")


def test_bad_systems_and_references_files_are_one_line_before_anything_is_written(
        db_dir, tmp_path):
    bad = tmp_path / "refs.json"
    bad.write_text(json.dumps([{"structure": Structure(
        Lattice.cubic(4), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).as_dict()}]))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"kind": "crystal", "crystal": {
        "system": "Mg-Al-O", "references_file": str(bad)}}))
    cases = [(["--kind", "crystal", "--system", "Mg-Xx-O"], "'Xx' is not an element"),
             (["--kind", "crystal", "--system", "Mg-Am-O"], "not covered by CHGNet"),
             (["--kind", "crystal", "--system", "Li-Na-K-Rb-Cs"], "at most 4 elements"),
             (["--config", str(config)], "outside the system Al-Mg-O"),
             (["--kind", "crystal", "--system", "Mg-O", "--config", str(tmp_path / "no.yaml")],
              "cannot read config")]
    for args, message in cases:
        result = mofgen("run", "--db", db_dir, "--campaign", "bad", *args, timeout=300)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    db = connect(db_dir)
    assert db.campaigns.count_documents({}) == 0
    db.close()


# ---------------------------------------------------------------------- a whole campaign
def test_a_mg_al_o_campaign_runs_end_to_end_from_nothing_but_its_name(db_dir):
    result = mofgen("run", "--db", db_dir, "--campaign", "mgalo", "--kind", "crystal",
                    "--system", "Mg-Al-O", "--max-structures", "3", "--minutes", "60",
                    timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hull of Al-Mg-O" in result.stdout

    db = connect(db_dir)
    campaign = db.campaigns.find_one({"_id": "mgalo"})
    refs = campaign["references"]
    assert refs["method"] == "chgnet-0.3.0"
    formulas = {Composition(e["composition"]).reduced_formula for e in refs["entries"]}
    assert {"Mg", "Al", "O2"} <= formulas and "MgO" in formulas  # elements + binaries
    assert refs["meta"]["counts"]["binaries"] >= 1
    assert campaign["counters"]["generator_cursor"] >= 3

    docs = list(db.structures.find({"campaign": "mgalo"}))
    assert len(docs) >= 3
    assert all(d["origin"]["generator"] == "template" for d in docs)
    placed = [d for d in docs if (d.get("simulate") or {}).get("e_above_hull") is not None]
    assert placed, [(d["state"], d.get("rejection")) for d in docs]
    for d in placed:
        assert {el for el in Composition(d["identifiers"]["formula"]).as_dict()} <= {
            "Mg", "Al", "O"}
        assert d["simulate"]["near_hull"] == (d["simulate"]["e_above_hull"] <= 0.1)
    db.close()
