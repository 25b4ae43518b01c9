"""Assembly + screen of known MOFs: CIFs that pymatgen and ase read back, cells that follow
the linker lengths, and geometry that matches MOFA's reference node and hMOF-0 (IRMOF-1)."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase.io import read as ase_read
from pymatgen.core import Composition, Structure
from rdkit import Chem
from rdkit.Chem.rdMolDescriptors import CalcMolFormula

from mofgen.chemistry import (
    AssembledMOF,
    AssemblyError,
    assemble_mof,
    process_smiles,
    screen_structure,
)
from tests.conftest import REFERENCE  # noqa: E402

COO_LINKERS = {
    "BDC": "OC(=O)c1ccc(cc1)C(=O)O",
    "BPDC": "OC(=O)c1ccc(cc1)-c1ccc(cc1)C(=O)O",
    "NDC": "OC(=O)c1ccc2cc(ccc2c1)C(=O)O",
    "TPDC": "OC(=O)c1ccc(cc1)-c1ccc(cc1)-c1ccc(cc1)C(=O)O",
    "NH2-BDC": "Nc1cc(ccc1C(=O)O)C(=O)O",
    "NO2-BDC": "OC(=O)c1ccc(C(=O)O)c([N+](=O)[O-])c1",
    "CH3-BDC": "Cc1cc(ccc1C(=O)O)C(=O)O",
}
PILLARS = {
    "pyrazine": "c1cnccn1",
    "bipy": "c1cc(ccn1)-c1ccncc1",
    "DABCO": "C1CN2CCN1CC2",
}


@pytest.fixture(scope="module")
def linkers():
    return {name: process_smiles(smi, "COO") for name, smi in COO_LINKERS.items()}


@pytest.fixture(scope="module")
def pillars():
    return {name: process_smiles(smi, "cyano") for name, smi in PILLARS.items()}


def _xyz_positions(path: Path, element: str) -> np.ndarray:
    lines = path.read_text().splitlines()
    rows = [ln.split() for ln in lines[2:2 + int(lines[0])]]
    return np.array([[float(v) for v in r[1:4]] for r in rows if r[0] == element])


def _opposite_span(points: np.ndarray, start: int) -> float:
    """Distance from dummy ``start`` to the dummy farthest from it (its pcu partner)."""
    return float(np.max(np.linalg.norm(points - points[start], axis=1)))


def _formula_minus_h(smiles: str, n_h: int) -> Composition:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    return Composition(CalcMolFormula(mol)) - Composition({"H": n_h})


def _round_trip(mof: AssembledMOF, tmp_path: Path, name: str) -> tuple[Structure, object]:
    path = mof.write_cif(tmp_path / f"{name}.cif")
    return Structure.from_file(path), ase_read(path)


# ------------------------------------------------------------------ paddle-wheel pcu


@pytest.mark.parametrize("name", list(COO_LINKERS))
@pytest.mark.parametrize("pillar_name", list(PILLARS))
def test_pillared_paddlewheel_pcu(name, pillar_name, linkers, pillars, tmp_path):
    linker, pillar = linkers[name], pillars[pillar_name]
    mof = assemble_mof([linker], pillar=pillar, node="zn_paddlewheel", topology="pcu")

    result = screen_structure(mof.structure)
    assert result.passed, result.reason

    back, atoms = _round_trip(mof, tmp_path, f"{name}-{pillar_name}")
    # Zn2(dicarboxylate)2(pillar): the acid loses its two protons, the pillar stays neutral
    expected = (Composition("Zn2") + 2 * _formula_minus_h(COO_LINKERS[name], 2)
                + _formula_minus_h(PILLARS[pillar_name], 0))
    assert back.composition.almost_equals(expected)
    assert Composition(atoms.get_chemical_formula()).almost_equals(expected)
    assert len(atoms) == len(back) == len(mof.structure)
    assert Counter(s.properties["role"] for s in mof.structure)["node"] == 14  # Zn2 C4 O8
    assert all(lbl.endswith(("_node", "_linker")) for lbl in (s.label for s in back))

    # cell: node dummy span + linker length along each axis (independent of the assembler)
    node_file = REFERENCE / "nodes" / "zinc_paddle_pillar.xyz"
    at, fr = _xyz_positions(node_file, "At"), _xyz_positions(node_file, "Fr")
    expected_a = _opposite_span(at, 0) + linker.span
    expected_c = _opposite_span(fr, 0) + pillar.span
    a, b, c = back.lattice.abc
    assert a == pytest.approx(expected_a, rel=0.03)
    assert b == pytest.approx(expected_a, rel=0.03)
    assert c == pytest.approx(expected_c, rel=0.03)
    assert np.allclose(atoms.cell.lengths(), back.lattice.abc, atol=1e-3)


def test_paddlewheel_matches_reference_node(linkers, pillars):
    """Zn-Zn, Zn-O and Zn-N in the assembled MOF are those of MOFA's reference node."""
    mof = assemble_mof([linkers["BDC"]], pillar=pillars["DABCO"])
    s = mof.structure
    ref = _xyz_positions(REFERENCE / "nodes" / "zinc_paddle_pillar.xyz", "Zn")
    ref_o = _xyz_positions(REFERENCE / "nodes" / "zinc_paddle_pillar.xyz", "O")
    ref_fr = _xyz_positions(REFERENCE / "nodes" / "zinc_paddle_pillar.xyz", "Fr")
    ref_zn_zn = np.linalg.norm(ref[0] - ref[1])
    ref_zn_o = np.sort(np.linalg.norm(ref_o[:, None] - ref[None], axis=-1).min(axis=1))
    zn = [i for i, site in enumerate(s) if site.specie.symbol == "Zn"]
    assert s.get_distance(zn[0], zn[1]) == pytest.approx(ref_zn_zn, rel=0.01)
    zn_o = sorted(min(s.get_distance(i, j) for j in zn) for i, site in enumerate(s)
                  if site.specie.symbol == "O")
    assert np.allclose(zn_o, ref_zn_o, rtol=0.01)
    # each Zn: four carboxylate O and one pillar N at the Fr site (~2.0 A)
    ref_zn_n = np.linalg.norm(ref_fr[:, None] - ref[None], axis=-1).min()
    for i in zn:
        n_dist = min(s.get_distance(i, j) for j, site in enumerate(s) if site.specie.symbol == "N")
        assert n_dist == pytest.approx(ref_zn_n, abs=0.05)
        donors = s.get_neighbors(s[i], 2.3)
        assert Counter(n.specie.symbol for n in donors) == {"O": 4, "N": 1}


def test_two_different_carboxylates_and_copper_node(linkers, pillars):
    mof = assemble_mof([linkers["BDC"], linkers["NDC"]], pillar=pillars["bipy"],
                       node="cu_paddlewheel")
    assert screen_structure(mof.structure).passed
    a, b, _ = mof.structure.lattice.abc
    assert b - a == pytest.approx(linkers["NDC"].span - linkers["BDC"].span, abs=0.1)
    assert mof.structure.composition["Cu"] == 2


# ------------------------------------------------------------------ Zn4O (IRMOF-1)


def test_irmof1_matches_hmof0(linkers, tmp_path):
    mof = assemble_mof([linkers["BDC"]], node="zn4o", topology="pcu")
    assert screen_structure(mof.structure).passed
    ours, _ = _round_trip(mof, tmp_path, "irmof1")
    ref = Structure.from_file(REFERENCE / "hmof" / "hMOF-0.cif")
    assert ours.composition.reduced_formula == ref.composition.reduced_formula
    for x, y in zip(sorted(ours.lattice.abc), sorted(ref.lattice.abc)):
        assert x == pytest.approx(y, rel=0.03)
    assert ours.lattice.angles == pytest.approx(ref.lattice.angles, abs=2.0)

    def zn_o(structure):
        return sorted(n.nn_distance for site in structure if site.specie.symbol == "Zn"
                      for n in structure.get_neighbors(site, 2.4) if n.specie.symbol == "O")

    ours_zn_o, ref_zn_o = zn_o(ours), zn_o(ref)
    assert len(ours_zn_o) == len(ref_zn_o) == 16  # 4 Zn x (3 carboxylate O + central O)
    assert np.mean(ours_zn_o) == pytest.approx(np.mean(ref_zn_o), rel=0.03)
    assert np.allclose(ours_zn_o, ref_zn_o, rtol=0.05)


@pytest.mark.parametrize("name", ["BPDC", "NH2-BDC", "TPDC"])
def test_irmof_series_cell_follows_linker(name, linkers):
    mof = assemble_mof([linkers[name]], node="zn4o")
    assert screen_structure(mof.structure).passed
    at = _xyz_positions(REFERENCE / "nodes" / "zinc_tetra.xyz", "At")
    expected = _opposite_span(at, 0) + linkers[name].span
    assert np.allclose(mof.structure.lattice.abc, expected, rtol=0.03)
    expected_formula = Composition("Zn4O") + 3 * _formula_minus_h(COO_LINKERS[name], 2)
    assert mof.structure.composition.almost_equals(expected_formula)


# ------------------------------------------------------------------ PORMAKE nets


def test_pormake_pcu_agrees_with_own_builder(linkers):
    from mofgen.chemistry.nodes import get_node
    from mofgen.chemistry.reticular import assemble_with_pormake

    own = assemble_mof([linkers["BDC"]], node="zn4o")
    pm = assemble_with_pormake(get_node("zn4o"), [linkers["BDC"]], "pcu")
    assert pm.engine == "pormake"
    assert pm.structure.composition.almost_equals(own.structure.composition)
    assert np.allclose(sorted(pm.structure.lattice.abc), sorted(own.structure.lattice.abc),
                       rtol=0.02)
    assert screen_structure(pm.structure).passed


def test_pormake_nbo_with_paddlewheel(linkers, tmp_path):
    mof = assemble_mof([linkers["BDC"]], node="cu_paddlewheel", topology="nbo")
    assert mof.engine == "pormake" and mof.topology == "nbo"
    result = screen_structure(mof.structure)
    assert result.passed, result.reason
    roles = Counter(s.properties["role"] for s in mof.structure)
    # Cu2(BDC)2: per paddle-wheel 14 node atoms (Cu2 C4 O8) and two C6H4 linker cores
    assert roles["node"] * 20 == roles["linker"] * 14
    back, atoms = _round_trip(mof, tmp_path, "nbo")
    assert back.composition.reduced_formula == Composition("Cu2C16H8O8").reduced_formula
    assert len(atoms) == len(back)


def test_unfit_nets_and_inputs_are_clear_errors(linkers, pillars):
    with pytest.raises(AssemblyError, match="pillar"):
        assemble_mof([linkers["BDC"]], node="zn_paddlewheel", topology="pcu")
    with pytest.raises(AssemblyError, match="unknown topology"):
        assemble_mof([linkers["BDC"]], node="zn4o", topology="notanet")
    with pytest.raises(AssemblyError, match="connectivity"):
        assemble_mof([linkers["BDC"]], node="zn4o", topology="dia")
    with pytest.raises(AssemblyError, match="COO"):
        assemble_mof([pillars["DABCO"]], pillar=pillars["DABCO"])
    with pytest.raises(AssemblyError, match="1 or 2"):
        assemble_mof([linkers["BDC"]] * 3, pillar=pillars["DABCO"])


def test_assembled_mof_round_trips_as_dict(linkers, pillars):
    mof = assemble_mof([linkers["BDC"]], pillar=pillars["pyrazine"])
    data = mof.as_dict()
    again = AssembledMOF.from_dict(data)
    assert again.structure == mof.structure
    assert again.linkers == mof.linkers and again.pillar == mof.pillar
    assert [s.label for s in again.structure] == [s.label for s in mof.structure]
    cif = mof.to_cif()
    assert Structure.from_str(cif, fmt="cif").composition == mof.structure.composition
    assert len(ase_read(io.StringIO(cif), format="cif")) == len(mof.structure)
