"""Linker processing: raw generated coordinates -> a chemically valid, relaxed linker.

A diffusion model emits heavy atoms only. Following MOFA (section III-B) a linker is kept
only if bonds, bond orders and hydrogens can be assigned so that it is one neutral,
closed-shell molecule with normal valences that MMFF can relax; then its anchors are
turned into At/Fr dummies for assembly. Every way to fail is a :class:`LinkerRejected`
carrying the check that failed and a one-line reason, so a generate job records the
reason and moves on; nothing a bad input does escapes as another exception.

Bond orders come first from a geometric perception on RDKit molecules (hybridisation from
bond angles, ring planarity and bond lengths, then a maximum matching of the pi bonds);
when that finds no consistent assignment Open Babel's perception is tried, as MOFA did.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from pydantic import BaseModel, Field
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem, rdMolDescriptors

from mofgen.chemistry.anchors import AnchorKind, detect_anchors, dummy_linker, normalise_anchor
from mofgen.errors import InvalidInput

RDLogger.DisableLog("rdApp.*")

#: Elements a linker may contain (metals belong to nodes).
ORGANIC_ELEMENTS = frozenset({"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Br", "I"})
_MAX_NEUTRAL_BONDS = {"B": 3, "C": 4, "N": 3, "O": 2, "F": 1, "Si": 4, "P": 5, "S": 6,
                      "Cl": 1, "Br": 1, "I": 1}
_MAX_ION_BONDS = {"N": 4, "O": 3, "B": 4}  # only reachable as an ion: a charged fragment
_PT = Chem.GetPeriodicTable()
_BOND_FACTOR = 1.3  # connected if d < 1.3 (r_cov,i + r_cov,j), as RDKit's DetermineConnectivity
_OVERLAP_FACTOR = 0.55  # closer than 0.55 (r_cov,i + r_cov,j): two atoms on top of each other


class LinkerRejection(BaseModel):
    """Why a linker was discarded: the check that failed and a one-line reason."""

    check: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class LinkerRejected(InvalidInput):
    """A linker failed processing; ``.reason`` and ``.check`` say why."""

    def __init__(self, check: str, reason: str):
        super().__init__(f"linker rejected ({check}): {reason}")
        self.check = check
        self.reason = reason
        self.rejection = LinkerRejection(check=check, reason=reason)


class PerceptionError(ValueError):
    """One bond-order perception strategy found no consistent assignment."""


class ProcessedLinker(BaseModel):
    """A valid linker ready for assembly (MOFA's dummy-atom form) plus its identifiers."""

    smiles: str  # canonical SMILES of the neutral, H-complete molecule (acid form)
    inchikey: str
    formula: str
    anchor: AnchorKind
    anchor_groups: list[str]
    symbols: list[str]  # assembly form: anchors replaced by At (COO) / Fr (cyano) dummies
    coords: list[list[float]]
    bonds: list[tuple[int, int]]
    dummy_indices: list[int]
    attach_indices: list[int]  # attach_indices[i] is bonded to dummy_indices[i]
    perception: str  # "rdkit", "openbabel" or "smiles"
    mmff_energy: float | None = None
    molblock: str = Field(default="", repr=False)  # relaxed molecule with its anchors intact

    @property
    def n_anchors(self) -> int:
        return len(self.dummy_indices)

    @property
    def positions(self) -> np.ndarray:
        return np.asarray(self.coords, dtype=float)

    @property
    def span(self) -> float:
        """Distance between the atoms carrying the first two dummies (the linker length)."""
        a, b = self.attach_indices[:2]
        return float(np.linalg.norm(self.positions[a] - self.positions[b]))

    def mol(self) -> Chem.Mol:
        """The relaxed RDKit molecule with explicit hydrogens and intact anchor groups."""
        return Chem.MolFromMolBlock(self.molblock, removeHs=False)

    def to_xyz(self) -> str:
        lines = [str(len(self.symbols)), f"{self.smiles} anchor={self.anchor}"]
        lines += [f"{s} {x:.6f} {y:.6f} {z:.6f}" for s, (x, y, z) in zip(self.symbols, self.coords)]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessedLinker:
        return cls.model_validate(data)


# ---------------------------------------------------------------- public entry points


def process_linker(symbols: list[str], coords: Any, anchor: str,
                   perception: tuple[str, ...] = ("rdkit", "openbabel")) -> ProcessedLinker:
    """Raw coordinates (heavy atoms; any H are ignored and re-placed) -> ProcessedLinker.

    ``perception`` lists the bond-order strategies to try, in order. Raises
    :class:`LinkerRejected` with the failing check for every invalid input.
    """
    kind = _anchor_kind(anchor)
    try:
        heavy, xyz = _clean_input(symbols, coords)
        adjacency = _precheck_geometry(heavy, xyz)
        mol, method = _perceive(heavy, xyz, adjacency, perception)
        return _finish(mol, kind, method)
    except LinkerRejected:
        raise
    except Exception as exc:  # a toolkit choking on odd input is a rejection, not a crash
        raise LinkerRejected("internal", f"{type(exc).__name__}: {exc}") from exc


def process_smiles(smiles: str, anchor: str | None = None) -> ProcessedLinker:
    """A linker given as SMILES: embedded with ETKDG, relaxed with MMFF, anchors converted.

    ``anchor=None`` picks COO when the molecule has carboxylic acids, else N donors.
    """
    try:
        mol = Chem.MolFromSmiles(str(smiles).strip()) if str(smiles).strip() else None
        if mol is None:
            raise LinkerRejected("input", f"not a valid SMILES: {smiles!r}")
        _check_molecule(mol)
        kind = _anchor_kind(anchor) if anchor else _guess_anchor(mol)
        mol = Chem.AddHs(mol)
        params = AllChem.ETKDGv3()
        params.randomSeed = 0xF00D
        if AllChem.EmbedMolecule(mol, params) != 0:
            params.useRandomCoords = True
            if AllChem.EmbedMolecule(mol, params) != 0:
                raise LinkerRejected("embedding", "ETKDG could not embed the molecule in 3D")
        return _finish(mol, kind, "smiles")
    except LinkerRejected:
        raise
    except Exception as exc:
        raise LinkerRejected("internal", f"{type(exc).__name__}: {exc}") from exc


def try_process_linker(symbols: list[str], coords: Any,
                       anchor: str) -> ProcessedLinker | LinkerRejection:
    """Like :func:`process_linker` but returns the rejection instead of raising it."""
    try:
        return process_linker(symbols, coords, anchor)
    except LinkerRejected as exc:
        return exc.rejection


def load_linker(spec: str, anchor: str | None = None) -> ProcessedLinker:
    """A linker from a SMILES string or a file (.xyz raw coordinates, .mol/.sdf, .smi)."""
    path = Path(spec)
    looks_like_file = path.suffix.lower() in {".xyz", ".mol", ".sdf", ".smi", ".txt"}
    if not looks_like_file:
        return process_smiles(spec, anchor)
    if not path.is_file():
        raise LinkerRejected("input", f"no such linker file: {spec}")
    text = path.read_text(errors="replace")
    if not text.strip():
        raise LinkerRejected("input", f"empty linker file: {spec}")
    suffix = path.suffix.lower()
    if suffix in {".smi", ".txt"}:
        return process_smiles(text.split()[0], anchor)
    if suffix == ".xyz":
        symbols, coords = _parse_xyz(text, spec)
        return process_linker(symbols, coords, anchor or _guess_anchor_from_symbols(symbols))
    mol = Chem.MolFromMolBlock(text.split("$$$$")[0], removeHs=False)
    if mol is None or mol.GetNumConformers() == 0:
        raise LinkerRejected("input", f"cannot read a molecule from {spec}")
    symbols = [a.GetSymbol() for a in mol.GetAtoms()]
    coords = mol.GetConformer().GetPositions()
    return process_linker(symbols, coords, anchor or _guess_anchor(mol))


# ---------------------------------------------------------------- input checks


def _anchor_kind(anchor: str | None) -> AnchorKind:
    try:
        return normalise_anchor(anchor or "")
    except ValueError as exc:
        raise LinkerRejected("input", str(exc)) from exc


def _parse_xyz(text: str, source: str) -> tuple[list[str], np.ndarray]:
    lines = [ln for ln in text.splitlines()]
    try:
        n = int(lines[0].split()[0])
        rows = [ln.split() for ln in lines[2:2 + n]]
        symbols = [r[0] for r in rows]
        coords = np.array([[float(v) for v in r[1:4]] for r in rows])
        if len(symbols) != n or coords.shape != (n, 3):
            raise ValueError
    except (ValueError, IndexError):
        raise LinkerRejected("input", f"{source} is not an XYZ file") from None
    return symbols, coords


def _clean_input(symbols: list[str], coords: Any) -> tuple[list[str], np.ndarray]:
    """Symbols normalised, H dropped, shapes and elements checked."""
    if symbols is None or len(symbols) == 0:
        raise LinkerRejected("input", "empty linker: no atoms")
    try:
        xyz = np.asarray(coords, dtype=float).reshape(len(symbols), 3)
    except (TypeError, ValueError):
        raise LinkerRejected("input", "coordinates must be one (x, y, z) per atom") from None
    if not np.all(np.isfinite(xyz)):
        raise LinkerRejected("input", "coordinates contain NaN or infinity")
    names = [str(s).strip().capitalize() for s in symbols]
    for name in names:
        if _atomic_number(name) == 0:
            raise LinkerRejected("input", f"unknown element {name!r}")
        if name not in ORGANIC_ELEMENTS:
            raise LinkerRejected("input", f"element {name} does not belong in an organic linker")
    heavy = [i for i, s in enumerate(names) if s != "H"]
    if len(heavy) < 2:
        raise LinkerRejected("input", "fewer than two heavy atoms")
    return [names[i] for i in heavy], xyz[heavy]


def _atomic_number(symbol: str) -> int:
    try:
        return _PT.GetAtomicNumber(symbol)
    except RuntimeError:
        return 0


def _covalent_radii(symbols: list[str]) -> np.ndarray:
    return np.array([_PT.GetRcovalent(_PT.GetAtomicNumber(s)) for s in symbols])


def _precheck_geometry(symbols: list[str], xyz: np.ndarray) -> np.ndarray:
    """Overlaps, fragments and impossible valences, judged on the heavy atoms alone."""
    dist = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    radii = _covalent_radii(symbols)
    rsum = radii[:, None] + radii[None]
    np.fill_diagonal(dist, np.inf)
    ratio = dist / rsum
    i, j = np.unravel_index(np.argmin(ratio), ratio.shape)
    if ratio[i, j] < _OVERLAP_FACTOR:
        raise LinkerRejected(
            "overlap", f"atoms {symbols[i]}{i} and {symbols[j]}{j} overlap: {dist[i, j]:.2f} A "
            f"< {_OVERLAP_FACTOR * rsum[i, j]:.2f} A")
    adjacency = ratio < _BOND_FACTOR
    n_fragments = nx.number_connected_components(nx.from_numpy_array(adjacency.astype(int)))
    if n_fragments > 1:
        raise LinkerRejected("disconnected", f"{n_fragments} separate fragments, not one molecule")
    for k, (sym, degree) in enumerate(zip(symbols, adjacency.sum(axis=1))):
        if degree > _MAX_NEUTRAL_BONDS[sym]:
            if degree <= _MAX_ION_BONDS.get(sym, 0):
                raise LinkerRejected(
                    "charge", f"{sym}{k} has {degree} bonds, possible only as a charged ion")
            raise LinkerRejected(
                "valence", f"{sym}{k} has {degree} bonded neighbours, more than its valence "
                f"{_MAX_NEUTRAL_BONDS[sym]} allows")
    return adjacency


def _check_molecule(mol: Chem.Mol) -> None:
    """One neutral, closed-shell molecule."""
    n_fragments = len(Chem.GetMolFrags(mol))
    if n_fragments > 1:
        raise LinkerRejected("disconnected", f"{n_fragments} separate fragments, not one molecule")
    charge = Chem.GetFormalCharge(mol)
    if charge != 0:
        raise LinkerRejected("charge", f"net charge {charge:+d}; linkers must be neutral")
    radicals = sum(a.GetNumRadicalElectrons() for a in mol.GetAtoms())
    if radicals:
        raise LinkerRejected("valence", f"{radicals} unpaired electron(s): not a closed shell")
    metals = sorted({a.GetSymbol() for a in mol.GetAtoms()} - ORGANIC_ELEMENTS - {"*"})
    if metals:
        raise LinkerRejected("input", f"element {metals[0]} does not belong in an organic linker")


def _guess_anchor(mol: Chem.Mol) -> AnchorKind:
    kinds = {a.kind for a in detect_anchors(mol)}
    if "COO" in kinds:
        return "COO"
    if "cyano" in kinds:
        return "cyano"
    raise LinkerRejected("anchors", "no anchor group (carboxylic acid or N donor) found")


def _guess_anchor_from_symbols(symbols: list[str]) -> str:
    """Raw coordinates carry no bonds yet: oxygen means carboxylic acids, else N donors."""
    return "COO" if any(str(s).capitalize() == "O" for s in symbols) else "cyano"


# ---------------------------------------------------------------- bond orders


def _perceive(symbols: list[str], xyz: np.ndarray, adjacency: np.ndarray,
              strategies: tuple[str, ...] = ("rdkit", "openbabel")) -> tuple[Chem.Mol, str]:
    """RDKit geometric perception first, Open Babel where it finds no consistent answer."""
    runners = {"rdkit": lambda: _perceive_rdkit(symbols, xyz, adjacency),
               "openbabel": lambda: _perceive_openbabel(symbols, xyz)}
    errors = []
    for name in strategies:
        try:
            mol = runners[name]()
        except PerceptionError as exc:
            errors.append(f"{name}: {exc}")
            continue
        _check_molecule(mol)
        return mol, name
    raise LinkerRejected("bond_orders", "no valid bond orders (" + "; ".join(errors) + ")")


def _perceive_rdkit(symbols: list[str], xyz: np.ndarray, adjacency: np.ndarray) -> Chem.Mol:
    """Single bonds from distances, pi bonds from geometry, H from the remaining valence."""
    n = len(symbols)
    rw = Chem.RWMol()
    for sym in symbols:
        rw.AddAtom(Chem.Atom(sym))
    for i, j in zip(*np.nonzero(np.triu(adjacency))):
        rw.AddBond(int(i), int(j), Chem.BondType.SINGLE)
    rw.UpdatePropertyCache(strict=False)
    ring_list = [list(r) for r in Chem.GetSymmSSSR(rw)]
    planar = _planar_ring_atoms(ring_list, xyz)
    radii = _covalent_radii(symbols)
    neighbours = [[int(k) for k in np.nonzero(adjacency[i])[0]] for i in range(n)]

    def ratio(i: int, j: int) -> float:
        return float(np.linalg.norm(xyz[i] - xyz[j]) / (radii[i] + radii[j]))

    rings = {k for ring in ring_list for k in ring}
    need = [_pi_need(symbols[i], i, neighbours[i], xyz, planar, rings, ratio) for i in range(n)]
    # a nitrile / alkyne end is sp when its partner is: noise blurs one of the two signs
    for i in range(n):
        for j in neighbours[i]:
            if need[i] == 2 and len(neighbours[j]) == 1 and symbols[j] in {"C", "N"} \
                    and ratio(i, j) < 0.9:
                need[j] = 2
            if need[i] == 2 and len(neighbours[i]) == 1 and len(neighbours[j]) == 2 \
                    and _angle(xyz[neighbours[j][0]], xyz[j], xyz[neighbours[j][1]]) > 145.0:
                need[j] = 2
    nitro = _nitro_nitrogens(symbols, neighbours)
    for i in nitro:
        need[i] = 1
    # triple bonds between two sp atoms (nitriles, alkynes)
    pairs = [(a, b) for a in range(n) for b in neighbours[a] if a < b]
    for i, j in sorted(pairs, key=lambda p: ratio(*p)):
        if need[i] == 2 and need[j] == 2:
            rw.GetBondBetweenAtoms(i, j).SetBondType(Chem.BondType.TRIPLE)
            need[i] = need[j] = 0
    if any(v == 2 for v in need):
        raise PerceptionError("sp atom without a triple-bond partner")
    graph = nx.Graph()
    for i in range(n):
        for j in neighbours[i]:
            if i < j and need[i] == 1 and need[j] == 1:
                graph.add_edge(i, j, weight=2.0 - ratio(i, j))
    matched = nx.max_weight_matching(graph, maxcardinality=True)
    for i, j in matched:
        rw.GetBondBetweenAtoms(i, j).SetBondType(Chem.BondType.DOUBLE)
    paired = {k for pair in matched for k in pair}
    for i in range(n):
        if need[i] == 1 and i not in paired and symbols[i] in {"C", "B", "Si"}:
            raise PerceptionError(f"{symbols[i]}{i} is planar but has no double-bond partner")
    for i in nitro:
        rw.GetAtomWithIdx(i).SetFormalCharge(1)
        for o in neighbours[i]:
            if symbols[o] == "O" and len(neighbours[o]) == 1 and o not in paired:
                rw.GetAtomWithIdx(o).SetFormalCharge(-1)
                rw.GetAtomWithIdx(o).SetNoImplicit(True)
    conf = Chem.Conformer(n)
    for i, p in enumerate(xyz):
        conf.SetAtomPosition(i, p.tolist())
    rw.AddConformer(conf, assignId=True)
    mol = rw.GetMol()
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:
        raise PerceptionError(str(exc).splitlines()[0]) from None
    return Chem.AddHs(mol, addCoords=True)


def _pi_need(sym: str, i: int, nbrs: list[int], xyz: np.ndarray, planar: set[int],
             rings: set[int], ratio: Any) -> int:
    """Pi bonds atom ``i`` needs judged from geometry: 0 (sp3), 1 (sp2) or 2 (sp)."""
    degree = len(nbrs)
    if sym in {"C", "Si"}:
        if degree >= 4:
            return 0
        if degree == 3:
            return 1 if i in planar or _angle_sum(i, nbrs, xyz) > 345.0 else 0
        if degree == 2:
            angle = _angle(xyz[nbrs[0]], xyz[i], xyz[nbrs[1]])
            # sp3 ~109.5, sp2 ~120; a puckered ring is sp3 unless the angle says otherwise
            sp2_above = 117.0 if i in rings and i not in planar else 114.0
            return 2 if angle > 155.0 else 1 if (angle > sp2_above or i in planar) else 0
        r = ratio(i, nbrs[0]) if degree else 1.0
        return 2 if r < 0.83 else 1 if r < 0.92 else 0
    if sym == "B":
        return 0
    if sym == "N":
        if degree >= 3:
            return 0
        if degree == 2:
            angle = _angle(xyz[nbrs[0]], xyz[i], xyz[nbrs[1]])
            return 2 if angle > 160.0 else 1 if (angle > 113.0 or i in planar) else 0
        r = ratio(i, nbrs[0]) if degree else 1.0
        return 2 if r < 0.84 else 1 if r < 0.92 else 0
    if sym in {"O", "S"}:
        return 1 if degree == 1 and ratio(i, nbrs[0]) < 0.94 else 0
    return 0


def _nitro_nitrogens(symbols: list[str], neighbours: list[list[int]]) -> list[int]:
    return [i for i, s in enumerate(symbols) if s == "N" and len(neighbours[i]) == 3
            and sum(symbols[o] == "O" and len(neighbours[o]) == 1 for o in neighbours[i]) == 2]


def _planar_ring_atoms(rings: list[list[int]], xyz: np.ndarray) -> set[int]:
    """Atoms of flat 5- and 6-membered rings: candidates for aromatic/sp2."""
    flat: set[int] = set()
    for ring in rings:
        if len(ring) not in (5, 6):
            continue
        pts = xyz[list(ring)] - xyz[list(ring)].mean(axis=0)
        deviation = np.abs(pts @ np.linalg.svd(pts)[2][2]).max()
        # internal angles of a flat ring average 120 (6) / 108 (5) degrees; a boat such as
        # DABCO's is flat-ish but its sp3 angles average ~110
        mean_angle = np.mean([_angle(xyz[ring[k - 1]], xyz[ring[k]],
                                     xyz[ring[(k + 1) % len(ring)]]) for k in range(len(ring))])
        if len(ring) == 6 and deviation < 0.2 and mean_angle > 115.0:
            flat.update(ring)
        elif len(ring) == 5 and deviation < 0.12:
            flat.update(ring)
    return flat


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    u, v = a - b, c - b
    cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _angle_sum(i: int, nbrs: list[int], xyz: np.ndarray) -> float:
    return sum(_angle(xyz[a], xyz[i], xyz[b]) for a, b in itertools.combinations(nbrs, 2))


def _perceive_openbabel(symbols: list[str], xyz: np.ndarray) -> Chem.Mol:
    """Open Babel's own perception (connectivity + bond orders on reading XYZ), then H."""
    from openbabel import openbabel, pybel

    openbabel.obErrorLog.SetOutputLevel(0)
    block = f"{len(symbols)}\n\n" + "\n".join(
        f"{s} {x:.6f} {y:.6f} {z:.6f}" for s, (x, y, z) in zip(symbols, xyz))
    obmol = pybel.readstring("xyz", block)
    for atom in openbabel.OBMolAtomIter(obmol.OBMol):  # XYZ atoms start with no implicit H
        openbabel.OBAtomAssignTypicalImplicitHydrogens(atom)
    obmol.addh()
    mol = Chem.MolFromMolBlock(obmol.write("mol"), removeHs=False, sanitize=False)
    if mol is None:
        raise PerceptionError("Open Babel wrote an unreadable molecule")
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:
        raise PerceptionError(str(exc).splitlines()[0]) from None
    return mol


# ---------------------------------------------------------------- relaxation and anchors


def _finish(mol: Chem.Mol, kind: AnchorKind, method: str) -> ProcessedLinker:
    """MMFF relaxation, anchor detection and conversion, identifiers."""
    _check_molecule(mol)
    props = AllChem.MMFFGetMoleculeProperties(mol)
    if props is None:
        raise LinkerRejected("mmff", "MMFF94 has no parameters for this molecule")
    field = AllChem.MMFFGetMoleculeForceField(mol, props)
    if field is None:
        raise LinkerRejected("mmff", "MMFF94 force field could not be set up")
    field.Minimize(maxIts=2000)
    energy = float(field.CalcEnergy())
    if not np.isfinite(energy):
        raise LinkerRejected("mmff", "MMFF94 energy is not finite")
    anchors = detect_anchors(mol, kind)
    if not anchors:
        others = sorted({a.kind for a in detect_anchors(mol)})
        hint = f" (it has {', '.join(others)} anchors)" if others else ""
        raise LinkerRejected("anchors", f"no {kind} anchor group found{hint}")
    if len(anchors) < 2:
        raise LinkerRejected("anchors", f"only one {kind} anchor; a linker needs two or more")
    symbols, coords, bonds, dummies, attaches = dummy_linker(mol, anchors)
    return ProcessedLinker(
        smiles=Chem.MolToSmiles(Chem.RemoveHs(mol)),
        inchikey=Chem.MolToInchiKey(mol),
        formula=rdMolDescriptors.CalcMolFormula(mol),
        anchor=kind,
        anchor_groups=[a.group for a in anchors],
        symbols=symbols,
        coords=np.round(coords, 6).tolist(),
        bonds=[(int(a), int(b)) for a, b in bonds],
        dummy_indices=dummies,
        attach_indices=attaches,
        perception=method,
        mmff_energy=energy,
        molblock=Chem.MolToMolBlock(mol),
    )
