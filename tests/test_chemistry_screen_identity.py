"""Geometric screen (which check failed, by how much), identity hashes, near-duplicates and
the ``mofgen assemble`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.core.operations import SymmOp

from mofgen.chemistry import (
    ScreenResult,
    assemble_mof,
    is_near_duplicate,
    linker_identity,
    near_duplicates,
    process_linker,
    process_smiles,
    screen_structure,
    structure_hash,
)
from mofgen.chemistry.screen import ochemdb_thresholds
from mofgen.cli import main
from tests.conftest import REFERENCE  # noqa: E402

BDC = "OC(=O)c1ccc(cc1)C(=O)O"
NH2_BDC = "Nc1cc(ccc1C(=O)O)C(=O)O"
DABCO = "C1CN2CCN1CC2"


@pytest.fixture(scope="module")
def dmof():
    return assemble_mof([process_smiles(BDC)], pillar=process_smiles(DABCO))


def _failed(result: ScreenResult) -> dict:
    return {f.check: f for f in result.failures}


# ------------------------------------------------------------------ screen


@pytest.mark.parametrize("name", ["hMOF-0", "hMOF-5000000", "hMOF-6000000"])
def test_reference_hmofs_pass(name):
    result = screen_structure(Structure.from_file(REFERENCE / "hmof" / f"{name}.cif"))
    assert result.passed, result.reason


def test_overlap_reported_with_value_and_threshold(dmof):
    s = dmof.structure.copy()
    h = next(i for i, site in enumerate(s) if site.specie.symbol == "H")
    s.append("H", s[h].coords + [0.3, 0.0, 0.0], coords_are_cartesian=True)
    failed = _failed(screen_structure(s))
    assert "overlap" in failed
    assert failed["overlap"].value == pytest.approx(0.3, abs=0.01)
    assert failed["overlap"].threshold == pytest.approx(ochemdb_thresholds()[("H", "H")][0],
                                                        abs=1e-3)


def test_compressed_cell_fails(dmof):
    s = dmof.structure.copy()
    s.scale_lattice(s.volume * 0.6)
    result = screen_structure(s)
    assert not result.passed
    assert {"overlap", "bond_length"} & set(_failed(result))
    assert result.reason  # one line for the rejected document


def test_missing_linker_breaks_charge_balance(dmof):
    s = dmof.structure.copy()
    s.remove_sites([i for i, site in enumerate(s) if site.properties["fragment"] == 1])
    failed = _failed(screen_structure(s))
    assert failed["charge"].value == pytest.approx(2.0)  # Zn2(+4) with 2 of 4 carboxylates
    assert failed["charge"].threshold == 0.0


def test_bent_bond_and_overcoordination_flagged(dmof):
    s = dmof.structure.copy()
    c = next(i for i, site in enumerate(s) if site.specie.symbol == "C"
             and site.properties["role"] == "linker")
    neighbour = s.get_neighbors(s[c], 1.6)[0]
    direction = neighbour.coords - s[c].coords
    s.append("C", s[c].coords + 0.35 * direction, coords_are_cartesian=True)
    failed = _failed(screen_structure(s))
    assert "bond_angle" in failed or "overlap" in failed
    assert "coordination" in failed or "overlap" in failed


def test_detached_linker_fails_connectivity(dmof):
    s = dmof.structure.copy()
    moved = [i for i, site in enumerate(s) if site.properties["fragment"] == 3]  # the pillar
    s.translate_sites(moved, [0.0, 0.0, 1.2], frac_coords=False)
    result = screen_structure(s)
    assert not result.passed


def test_screen_result_round_trip(dmof):
    result = screen_structure(dmof.structure)
    assert result.passed and result.n_atoms == len(dmof.structure) and result.n_bonds > 0
    assert ScreenResult.from_dict(result.as_dict()) == result
    assert ScreenResult.model_validate_json(result.model_dump_json()) == result


# ------------------------------------------------------------------ identity


def test_structure_hash_invariances(dmof):
    s = dmof.structure
    reference = structure_hash(s)
    shuffled = Structure.from_sites([s[i] for i in np.random.default_rng(1).permutation(len(s))])
    moved = s.copy()
    moved.translate_sites(list(range(len(s))), [0.31, 0.17, 0.05])
    rotated = s.copy()
    rotated.apply_operation(SymmOp.from_axis_angle_and_translation([1, 2, 3], 37.0))
    noisy = s.copy()
    noisy.perturb(0.03)
    from_cif = Structure.from_str(dmof.to_cif(), fmt="cif")
    for variant in (shuffled, moved, rotated, noisy, from_cif):
        assert structure_hash(variant) == reference
    other = assemble_mof([process_smiles(NH2_BDC)], pillar=process_smiles(DABCO))
    assert structure_hash(other.structure) != reference


def test_same_mof_generated_twice_is_one_identity():
    """Two generations of the same linker (different raw coordinates) -> same keys."""
    reference = process_smiles(BDC)
    mol = reference.mol()
    heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    symbols = [mol.GetAtomWithIdx(i).GetSymbol() for i in heavy]
    pos = mol.GetConformer().GetPositions()[heavy]
    rng = np.random.default_rng(3)
    first = process_linker(symbols, pos + rng.normal(0, 0.03, pos.shape), "COO")
    second = process_linker(symbols[::-1], (pos + rng.normal(0, 0.03, pos.shape))[::-1], "COO")
    pillar = process_smiles(DABCO)
    mof1 = assemble_mof([first], pillar=pillar)
    mof2 = assemble_mof([second], pillar=pillar)
    assert structure_hash(mof1.structure) == structure_hash(mof2.structure)
    assert linker_identity(mof1.smiles, mof1.node, mof1.topology) == \
        linker_identity(mof2.smiles, mof2.node, mof2.topology)
    assert is_near_duplicate(mof1.structure, mof2.structure)


def test_linker_identity_rules():
    key = linker_identity([BDC, DABCO], "zn_paddlewheel", "pcu")
    assert key == linker_identity([DABCO, "O=C(O)c1ccc(C(O)=O)cc1"], "Zn_Paddlewheel", "PCU")
    assert key != linker_identity([NH2_BDC, DABCO], "zn_paddlewheel", "pcu")
    assert key != linker_identity([BDC, DABCO], "cu_paddlewheel", "pcu")
    assert key != linker_identity([BDC, DABCO], "zn_paddlewheel", "nbo")
    with pytest.raises(ValueError):
        linker_identity(["C1CC(("], "zn4o", "pcu")


def test_near_duplicates_grouped(dmof):
    noisy = dmof.structure.copy()
    noisy.perturb(0.05)
    other = assemble_mof([process_smiles(BDC)], node="zn4o").structure
    groups = near_duplicates([dmof.structure, other, noisy])
    assert sorted(groups) == [[0, 2], [1]]
    assert not is_near_duplicate(dmof.structure, other)


# ------------------------------------------------------------------ command line


def test_cli_assemble_writes_cif_and_json(tmp_path, capsys):
    out = tmp_path / "dmof.cif"
    code = main(["assemble", "--linker", BDC, "--pillar", DABCO, "--out", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["screen"]["passed"]
    back = Structure.from_file(out)
    assert back.composition.reduced_formula == report["formula"]
    assert report["cell"]["c"] == pytest.approx(back.lattice.c, abs=1e-3)
    assert len(report["structure_hash"]) == 32


def test_cli_human_output_and_zn4o(capsys):
    assert main(["assemble", "--linker", BDC, "--node", "zn4o"]) == 0
    out = capsys.readouterr().out
    assert "zn4o" in out and "screen: passed" in out


@pytest.mark.parametrize("argv,words", [
    (["--linker", "C1CC((", "--pillar", DABCO], "SMILES"),
    (["--linker", "/nonexistent/linker.xyz", "--pillar", DABCO], "no such"),
    (["--linker", "c1ccccc1", "--pillar", DABCO], "anchor"),
    (["--linker", BDC], "pillar"),
    (["--linker", BDC, "--pillar", DABCO, "--node", "unobtainium"], "unknown node"),
    (["--linker", BDC, "--pillar", DABCO, "--out", "x.txt"], ".cif"),
])
def test_cli_bad_input_is_one_line(argv, words, capsys):
    code = main(["assemble", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err and words in err


def test_cli_garbage_file(tmp_path, capsys):
    garbage = tmp_path / "linker.xyz"
    garbage.write_bytes(b"\x00\x01garbage\n")
    assert main(["assemble", "--linker", str(garbage), "--pillar", DABCO]) == 2
    assert capsys.readouterr().err.count("\n") == 1
