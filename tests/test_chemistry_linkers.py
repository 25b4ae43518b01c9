"""Linker processing and anchors: raw heavy-atom coordinates -> valid linker, and every kind
of broken input rejected with its reason (never another exception)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from rdkit import Chem

from mofgen.chemistry import (
    LinkerRejected,
    LinkerRejection,
    ProcessedLinker,
    detect_anchors,
    load_linker,
    process_linker,
    process_smiles,
    try_process_linker,
)
from mofgen.errors import InvalidInput
from tests.conftest import REFERENCE  # noqa: E402

KNOWN = {
    "BDC": ("OC(=O)c1ccc(cc1)C(=O)O", "COO"),
    "BPDC": ("OC(=O)c1ccc(cc1)-c1ccc(cc1)C(=O)O", "COO"),
    "NDC": ("OC(=O)c1ccc2cc(ccc2c1)C(=O)O", "COO"),
    "TPDC": ("OC(=O)c1ccc(cc1)-c1ccc(cc1)-c1ccc(cc1)C(=O)O", "COO"),
    "NH2-BDC": ("Nc1cc(ccc1C(=O)O)C(=O)O", "COO"),
    "NO2-BDC": ("OC(=O)c1ccc(C(=O)O)c([N+](=O)[O-])c1", "COO"),
    "CH3-BDC": ("Cc1cc(ccc1C(=O)O)C(=O)O", "COO"),
    "pyrazine": ("c1cnccn1", "cyano"),
    "bipy": ("c1cc(ccn1)-c1ccncc1", "cyano"),
    "DABCO": ("C1CN2CCN1CC2", "cyano"),
    "dicyanobenzene": ("N#Cc1ccc(cc1)C#N", "cyano"),
}


def heavy_atoms(linker: ProcessedLinker, noise: float = 0.0, seed: int = 0):
    """What a diffusion model emits: heavy atoms only, slightly off ideal positions."""
    mol = linker.mol()
    keep = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    pos = mol.GetConformer().GetPositions()[keep]
    pos = pos + np.random.default_rng(seed).normal(0.0, noise, pos.shape)
    return [mol.GetAtomWithIdx(i).GetSymbol() for i in keep], pos


@pytest.fixture(scope="module")
def known():
    return {name: process_smiles(smi, anchor) for name, (smi, anchor) in KNOWN.items()}


# ------------------------------------------------------------------ valid linkers


@pytest.mark.parametrize("name", list(KNOWN))
def test_raw_heavy_atoms_recover_the_molecule(name, known):
    reference = known[name]
    symbols, coords = heavy_atoms(reference, noise=0.03, seed=len(name))
    linker = process_linker(symbols, coords, KNOWN[name][1].upper())
    assert linker.perception in {"rdkit", "openbabel"}
    clean = process_linker(*heavy_atoms(reference), KNOWN[name][1], perception=("rdkit",))
    assert clean.smiles == linker.smiles  # RDKit's own perception on undistorted input
    assert linker.smiles == Chem.MolToSmiles(Chem.MolFromSmiles(KNOWN[name][0]))
    assert linker.inchikey == Chem.MolToInchiKey(Chem.MolFromSmiles(KNOWN[name][0]))
    mol = linker.mol()
    assert Chem.GetFormalCharge(mol) == 0
    assert sum(a.GetNumRadicalElectrons() for a in mol.GetAtoms()) == 0
    assert linker.formula == reference.formula
    assert linker.mmff_energy is not None and np.isfinite(linker.mmff_energy)
    # hydrogens with sensible geometry after MMFF: X-H bonds 0.95-1.12 A
    pos = mol.GetConformer().GetPositions()
    for bond in mol.GetBonds():
        a, b = bond.GetBeginAtom(), bond.GetEndAtom()
        if 1 in (a.GetAtomicNum(), b.GetAtomicNum()):
            d = np.linalg.norm(pos[a.GetIdx()] - pos[b.GetIdx()])
            assert 0.95 < d < 1.12


@pytest.mark.parametrize("name", ["BDC", "NH2-BDC", "NO2-BDC", "bipy", "DABCO",
                                  "dicyanobenzene"])
def test_openbabel_perception_agrees(name, known):
    symbols, coords = heavy_atoms(known[name], noise=0.02)
    linker = process_linker(symbols, coords, KNOWN[name][1], perception=("openbabel",))
    assert linker.perception == "openbabel"
    assert linker.smiles == known[name].smiles


def test_rdkit_failure_falls_back_to_openbabel(known):
    """A bent 'nitrile' defeats the geometric rules; Open Babel still assigns bond orders."""
    symbols, coords = heavy_atoms(known["dicyanobenzene"])
    mol = known["dicyanobenzene"].mol()
    # bend one C#N: move the N off the axis so the nitrile carbon angle drops below 155 deg
    n_idx = [i for i, s in enumerate(symbols) if s == "N"][0]
    c_idx = int(np.argsort(np.linalg.norm(coords - coords[n_idx], axis=1))[1])
    axis = coords[n_idx] - coords[c_idx]
    side = np.cross(axis, [0.0, 0.0, 1.0])
    side = side / np.linalg.norm(side) if np.linalg.norm(side) > 1e-6 else np.array([1.0, 0, 0])
    coords[n_idx] = coords[c_idx] + 1.16 * (0.85 * axis / np.linalg.norm(axis) + 0.53 * side)
    assert mol is not None
    result = try_process_linker(symbols, coords, "cyano")
    assert isinstance(result, ProcessedLinker | LinkerRejection)
    if isinstance(result, ProcessedLinker):
        assert result.perception in {"rdkit", "openbabel"}
        assert Chem.GetFormalCharge(result.mol()) == 0


def test_reference_prompt_fragments(tmp_path):
    """MOFA's own benzoic-acid prompt coordinates: a valid molecule, but one anchor only."""
    doc = yaml.safe_load((REFERENCE / "zn-paddle-pillar" /
                          "template_carboxyl_benzene_prompt.yml").read_text())
    rows = [ln.split() for ln in doc["xyzs"][0].splitlines()[2:] if ln.strip()]
    symbols = [r[0] for r in rows]
    coords = np.array([[float(v) for v in r[1:4]] for r in rows])
    with pytest.raises(LinkerRejected) as info:
        process_linker(symbols, coords, "COO")
    assert info.value.check == "anchors" and "only one" in info.value.reason
    # both prompts together are two molecules, which DiffLinker has to link
    rows2 = [ln.split() for ln in doc["xyzs"][1].splitlines()[2:] if ln.strip()]
    both = symbols + [r[0] for r in rows2]
    coords2 = np.vstack([coords, [[float(v) for v in r[1:4]] for r in rows2]])
    assert try_process_linker(both, coords2, "COO").check == "disconnected"


def test_processed_linker_round_trip(known):
    linker = known["NH2-BDC"]
    again = ProcessedLinker.from_dict(linker.as_dict())
    assert again == linker
    assert ProcessedLinker.model_validate_json(linker.model_dump_json()) == linker
    assert again.to_xyz().splitlines()[0] == str(len(linker.symbols))


# ------------------------------------------------------------------ anchors


def test_carboxylate_dummies_replace_the_acid(known):
    bdc = known["BDC"]
    assert bdc.anchor == "COO" and bdc.n_anchors == 2
    assert sorted(bdc.symbols) == sorted(["C"] * 6 + ["H"] * 4 + ["At"] * 2)
    pos = bdc.positions
    for dummy, attach in zip(bdc.dummy_indices, bdc.attach_indices):
        assert bdc.symbols[dummy] == "At" and bdc.symbols[attach] == "C"
        assert np.linalg.norm(pos[dummy] - pos[attach]) == pytest.approx(1.49, abs=0.05)
    # the At dummies sit exactly where the relaxed carboxyl carbons were
    mol = bdc.mol()
    carboxyl = [a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() == "C"
                and sum(n.GetSymbol() == "O" for n in a.GetNeighbors()) == 2]
    acid_c = mol.GetConformer().GetPositions()[carboxyl]
    at = pos[bdc.dummy_indices]
    assert np.min(np.linalg.norm(at[:, None] - acid_c[None], axis=-1), axis=1) == \
        pytest.approx([0.0, 0.0], abs=1e-4)


@pytest.mark.parametrize("name,group", [("dicyanobenzene", "nitrile"), ("pyrazine", "pyridyl"),
                                        ("bipy", "pyridyl"), ("DABCO", "cage_amine")])
def test_n_donor_dummies_two_angstrom_beyond_n(name, group, known):
    linker = known[name]
    assert linker.anchor == "cyano" and set(linker.anchor_groups) == {group}
    pos = linker.positions
    centre = pos[[i for i, s in enumerate(linker.symbols) if s not in {"Fr", "H"}]].mean(axis=0)
    for dummy, n in zip(linker.dummy_indices, linker.attach_indices):
        assert linker.symbols[dummy] == "Fr" and linker.symbols[n] == "N"
        assert np.linalg.norm(pos[dummy] - pos[n]) == pytest.approx(2.0, abs=1e-6)
        # pointing away from the linker
        assert np.linalg.norm(pos[dummy] - centre) > np.linalg.norm(pos[n] - centre) + 1.9
    if group == "nitrile":
        for dummy, n in zip(linker.dummy_indices, linker.attach_indices):
            c = [j for i, j in linker.bonds if i == n] + [i for i, j in linker.bonds if j == n]
            c = [k for k in c if linker.symbols[k] == "C"][0]
            u, v = pos[c] - pos[n], pos[dummy] - pos[n]
            cos = np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v)
            assert cos == pytest.approx(-1.0, abs=1e-3)  # C#N...Fr collinear


def test_detect_anchors_on_arbitrary_molecules():
    def kinds(smiles):
        return sorted((a.kind, a.group) for a in detect_anchors(Chem.MolFromSmiles(smiles)))

    assert kinds("OC(=O)c1ccncc1") == [("COO", "carboxylic_acid"), ("cyano", "pyridyl")]
    assert kinds("OC(=O)c1cc(cc(c1)C(=O)O)C(=O)O") == [("COO", "carboxylic_acid")] * 3
    assert kinds("Nc1ccccc1") == []  # an aniline NH2 does not bind like a pillar
    assert kinds("CC(=O)N(C)C") == []  # nor does an amide N
    assert kinds("CC(=O)OC") == []  # an ester is not a carboxylate anchor
    assert kinds("N#Cc1ccccc1") == [("cyano", "nitrile")]
    assert kinds("[O-]C(=O)c1ccccc1") == [("COO", "carboxylate")]
    assert kinds("OC(=O)c1ccncc1") == kinds("OC(=O)c1ccncc1")  # deterministic
    with_h = Chem.AddHs(Chem.MolFromSmiles("OC(=O)c1ccc(cc1)C(=O)O"))
    acid = detect_anchors(with_h, "coo")
    assert len(acid) == 2 and all(len(a.remove) == 4 for a in acid)  # C, O, O and the H


def test_anchor_names_case_insensitive(known):
    symbols, coords = heavy_atoms(known["BDC"])
    assert process_linker(symbols, coords, "coo").anchor == "COO"
    symbols, coords = heavy_atoms(known["pyrazine"])
    assert process_linker(symbols, coords, "Cyano").anchor == "cyano"
    assert try_process_linker(symbols, coords, "sulfonate").check == "input"


# ------------------------------------------------------------------ rejections


def _assert_rejected(call, check, words=()):
    with pytest.raises(LinkerRejected) as info:
        call()
    assert info.value.check == check, info.value.reason
    assert isinstance(info.value, InvalidInput)  # the CLI prints it as one line
    assert "\n" not in str(info.value)
    for word in words:
        assert word in info.value.reason
    return info.value


def test_overlapping_atoms_rejected(known):
    symbols, coords = heavy_atoms(known["BDC"])
    coords[3] = coords[2] + [0.2, 0.0, 0.0]
    err = _assert_rejected(lambda: process_linker(symbols, coords, "COO"), "overlap",
                           ["overlap"])
    assert "0.20 A" in err.reason


def test_pentavalent_carbon_rejected(known):
    symbols, coords = heavy_atoms(known["BDC"])
    ring_c = 2
    # two extra carbons bonded to an aromatic carbon that already has three neighbours
    axis = np.cross(coords[1] - coords[ring_c], coords[3] - coords[ring_c])
    axis /= np.linalg.norm(axis)
    extra = [coords[ring_c] + 1.5 * axis, coords[ring_c] - 1.5 * axis]
    _assert_rejected(lambda: process_linker(symbols + ["C", "C"], np.vstack([coords, extra]),
                                            "COO"),
                     "valence", ["5 bonded neighbours", "valence 4"])


def test_charged_fragments_rejected(known):
    _assert_rejected(lambda: process_smiles("[O-]C(=O)c1ccc(cc1)C(=O)[O-]"), "charge", ["-2"])
    _assert_rejected(lambda: process_smiles("C[N+](C)(C)c1ccc(cc1)C(=O)O"), "charge")
    # as raw coordinates: a nitrogen with four carbon neighbours is an ammonium cation
    n = np.zeros(3)
    tetra = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3) * 1.49
    _assert_rejected(lambda: process_linker(["N", "C", "C", "C", "C"], np.vstack([n, tetra]),
                                            "COO"), "charge", ["charged"])


def test_molecule_without_anchor_rejected(known):
    _assert_rejected(lambda: process_smiles("c1ccc(cc1)-c1ccccc1", "COO"), "anchors", ["no COO"])
    _assert_rejected(lambda: process_smiles("c1ccc(cc1)-c1ccccc1"), "anchors")
    symbols, coords = heavy_atoms(known["pyrazine"])
    _assert_rejected(lambda: process_linker(symbols, coords, "COO"), "anchors",
                     ["no COO", "cyano"])


@pytest.mark.parametrize("symbols,coords,check", [
    ([], [], "input"),
    (["C", "C"], [[0, 0, 0], [np.nan, 0, 0]], "input"),
    (["C", "Xx"], [[0, 0, 0], [1.5, 0, 0]], "input"),
    (["C", "Zn"], [[0, 0, 0], [1.9, 0, 0]], "input"),
    (["C", "C", "C"], [[0, 0, 0], [1.5, 0, 0]], "input"),
    (["C", "C", "C", "C"], [[0, 0, 0], [1.5, 0, 0], [10, 0, 0], [11.5, 0, 0]], "disconnected"),
    ("CCO", "not coordinates", "input"),
])
def test_malformed_inputs_rejected(symbols, coords, check):
    result = try_process_linker(symbols, coords, "COO")
    assert isinstance(result, LinkerRejection) and result.check == check


def test_files_empty_garbage_and_missing(tmp_path):
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    garbage = tmp_path / "garbage.xyz"
    garbage.write_bytes(b"\x00\xff this is not xyz\n\x13\x37")
    bad_mol = tmp_path / "bad.mol"
    bad_mol.write_text("nonsense\n" * 5)
    _assert_rejected(lambda: load_linker(str(empty)), "input", ["empty"])
    _assert_rejected(lambda: load_linker(str(garbage)), "input")
    _assert_rejected(lambda: load_linker(str(bad_mol)), "input")
    _assert_rejected(lambda: load_linker(str(tmp_path / "missing.xyz")), "input")
    _assert_rejected(lambda: load_linker("C1CC(("), "input", ["SMILES"])
    _assert_rejected(lambda: load_linker(""), "input")


def test_linker_files_are_processed(tmp_path, known):
    symbols, coords = heavy_atoms(known["BPDC"], noise=0.03)
    xyz = tmp_path / "bpdc.xyz"
    xyz.write_text(f"{len(symbols)}\nraw\n" + "\n".join(
        f"{s} {x} {y} {z}" for s, (x, y, z) in zip(symbols, coords)))
    assert load_linker(str(xyz)).smiles == known["BPDC"].smiles
    mol_file = tmp_path / "dabco.mol"
    mol_file.write_text(known["DABCO"].molblock)
    assert load_linker(str(mol_file)).anchor == "cyano"
    smi = tmp_path / "ndc.smi"
    smi.write_text(KNOWN["NDC"][0] + " NDC\n")
    assert load_linker(str(smi)).smiles == known["NDC"].smiles


def test_random_coordinates_never_crash():
    """Fuzz: random clouds of atoms are either processed or rejected, nothing else."""
    rng = np.random.default_rng(7)
    outcomes = set()
    for _ in range(60):
        n = int(rng.integers(2, 14))
        symbols = list(rng.choice(["C", "C", "C", "N", "O", "S", "F"], n))
        coords = rng.uniform(0, 1.0 + 0.5 * n, (n, 3))
        result = try_process_linker(symbols, coords, str(rng.choice(["COO", "cyano"])))
        outcomes.add(result.check if isinstance(result, LinkerRejection) else "ok")
    assert outcomes - {"ok"}  # mostly rejected, each with a named check
    assert "internal" not in outcomes
