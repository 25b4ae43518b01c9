"""Anchor groups: where a linker binds a metal node, and their dummy-atom form.

MOFA assembles linkers that carry dummy atoms at their connection points:

* carboxylate (BCA) linkers: the carboxylic acid is removed and an **At** dummy takes the
  carboxyl carbon's place, bonded to the ring atom that carried it;
* N-donor (BZN) linkers -- nitriles, pyridine-type aromatic N and cage amines such as
  DABCO: an **Fr** dummy sits 2 Angstrom beyond the N, pointing away from the linker.

Detection works on any RDKit molecule (with or without explicit hydrogens), not only on
what the generator emits, so hand-written or database linkers go through the same path.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel
from rdkit import Chem

AnchorKind = Literal["COO", "cyano"]

DUMMY_ELEMENT: dict[str, str] = {"COO": "At", "cyano": "Fr"}
#: Distance of the Fr dummy beyond the donor N (MOFA: 2 Angstrom, about a Zn-N bond).
N_DUMMY_DISTANCE = 2.0

_ALIASES = {
    "coo": "COO", "carboxylate": "COO", "carboxylic": "COO", "bca": "COO", "cooh": "COO",
    "cyano": "cyano", "cn": "cyano", "nitrile": "cyano", "bzn": "cyano", "n": "cyano",
    "n-donor": "cyano", "pyridyl": "cyano", "pillar": "cyano",
}

# (group name, SMARTS, mapped roles). Map numbers: 1 = atom that stays (attach),
# 2 = donor / carboxyl carbon, 3.. = atoms removed with a carboxylic acid.
_PATTERNS: list[tuple[AnchorKind, str, str]] = [
    ("COO", "carboxylic_acid", "[#6,#7:1]-[CX3:2](=[OX1:3])-[OX2H1:4]"),
    ("COO", "carboxylate", "[#6,#7:1]-[CX3:2](=[OX1:3])-[OX1-:4]"),
    ("cyano", "nitrile", "[#6:1]-[CX2:2]#[NX1:3]"),
    ("cyano", "pyridyl", "[nX2;H0;+0:3]"),
    ("cyano", "cage_amine",
     "[NX3;H0;+0;R;!$(N-a);!$(N-[#6]=[#7,#8,#16]):3](-[CX4;R])(-[CX4;R])-[CX4;R]"),
]
_COMPILED = [(kind, group, Chem.MolFromSmarts(smarts)) for kind, group, smarts in _PATTERNS]


class Anchor(BaseModel):
    """One connection point of a linker, in the atom indices of the molecule it came from."""

    kind: AnchorKind
    group: str
    attach: int  # atom that stays in the linker and bonds to the dummy
    donor: int  # carboxyl carbon (COO) or the donor N (cyano)
    remove: list[int]  # atoms deleted when the dummy is put in (acid C, O, O, H)
    dummy_position: tuple[float, float, float] | None = None


def normalise_anchor(name: str) -> AnchorKind:
    """Map user spellings (COO, coo, BCA, cyano, BZN, pyridyl, ...) to 'COO' or 'cyano'."""
    kind = _ALIASES.get(str(name).strip().lower())
    if kind is None:
        raise ValueError(f"unknown anchor type {name!r} (use COO or cyano)")
    return kind  # type: ignore[return-value]


def detect_anchors(mol: Chem.Mol, kind: str | None = None) -> list[Anchor]:
    """All anchor groups of ``mol`` (optionally only one kind), with dummy positions if 3D.

    Carboxylic acids and nitrile N are never double counted: a nitrile N is not also
    reported as a pyridyl N, and each carboxyl carbon gives one anchor.
    """
    wanted = normalise_anchor(kind) if kind else None
    conf = mol.GetConformer() if mol.GetNumConformers() else None
    anchors: list[Anchor] = []
    seen_donors: set[int] = set()
    for anchor_kind, group, pattern in _COMPILED:
        if wanted and anchor_kind != wanted:
            continue
        for match in mol.GetSubstructMatches(pattern, uniquify=True):
            roles = _roles(pattern, match)
            donor = roles[2] if anchor_kind == "COO" else roles[3]
            if donor in seen_donors:
                continue
            seen_donors.add(donor)
            if anchor_kind == "COO":
                attach = roles[1]
                remove = [roles[2], roles[3], roles[4]]
                remove += [n.GetIdx() for n in mol.GetAtomWithIdx(roles[4]).GetNeighbors()
                           if n.GetAtomicNum() == 1]
            else:
                attach, remove = donor, []
            anchor = Anchor(kind=anchor_kind, group=group, attach=attach, donor=donor,
                            remove=remove)
            if conf is not None:
                anchor.dummy_position = tuple(_dummy_position(mol, conf, anchor))
            anchors.append(anchor)
    return anchors


def _roles(pattern: Chem.Mol, match: tuple[int, ...]) -> dict[int, int]:
    """Atom-map number of each SMARTS atom -> index of the matched molecule atom."""
    return {pattern.GetAtomWithIdx(i).GetAtomMapNum(): idx for i, idx in enumerate(match)
            if pattern.GetAtomWithIdx(i).GetAtomMapNum()}


def _dummy_position(mol: Chem.Mol, conf: Chem.Conformer, anchor: Anchor) -> np.ndarray:
    """At on the carboxyl carbon; Fr 2 A beyond N, away from the atoms bonded to it."""
    pos = np.array(conf.GetPositions())
    if anchor.kind == "COO":
        return pos[anchor.donor]
    n_atom = mol.GetAtomWithIdx(anchor.donor)
    heavy = [a.GetIdx() for a in n_atom.GetNeighbors() if a.GetAtomicNum() > 1]
    outward = pos[anchor.donor] - pos[heavy].mean(axis=0)
    norm = np.linalg.norm(outward)
    if norm < 1e-6:
        raise ValueError("cannot orient N-donor anchor: neighbours surround the N symmetrically")
    return pos[anchor.donor] + N_DUMMY_DISTANCE * outward / norm


def dummy_linker(mol: Chem.Mol, anchors: list[Anchor]) -> tuple[
        list[str], np.ndarray, list[tuple[int, int]], list[int], list[int]]:
    """Turn a 3D molecule into MOFA's assembly form: anchors replaced by At/Fr dummies.

    Returns (symbols, coordinates, bonds, dummy indices, attach indices); dummy ``i`` is
    bonded to attach atom ``i``.
    """
    if mol.GetNumConformers() == 0:
        raise ValueError("anchor conversion needs 3D coordinates")
    pos = np.array(mol.GetConformer().GetPositions())
    removed = {i for a in anchors for i in a.remove}
    keep = [a.GetIdx() for a in mol.GetAtoms() if a.GetIdx() not in removed]
    new_index = {old: new for new, old in enumerate(keep)}
    symbols = [mol.GetAtomWithIdx(i).GetSymbol() for i in keep]
    coords = [pos[i] for i in keep]
    bonds = [(new_index[b.GetBeginAtomIdx()], new_index[b.GetEndAtomIdx()])
             for b in mol.GetBonds()
             if b.GetBeginAtomIdx() in new_index and b.GetEndAtomIdx() in new_index]
    dummies, attaches = [], []
    for anchor in anchors:
        symbols.append(DUMMY_ELEMENT[anchor.kind])
        coords.append(np.asarray(anchor.dummy_position))
        dummies.append(len(symbols) - 1)
        attaches.append(new_index[anchor.attach])
        bonds.append((attaches[-1], dummies[-1]))
    return symbols, np.array(coords), bonds, dummies, attaches
