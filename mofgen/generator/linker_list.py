"""Known MOF linkers (facts, with their common names) and hMOF-style systematic expansion.

The corpus starts from linker *cores*: the part of a ditopic linker between its two anchor
groups, written with two ``*`` where the anchors go. Each core becomes a carboxylic acid
(COO anchor) and a nitrile (cyano anchor) linker; the expansion then does what hMOF did to
its building blocks: functional groups on free ring positions, heteroatom swaps in
six-membered aromatic rings, and ring/spacer extensions between core and anchor.
Everything here is RDKit string chemistry (fast, no 3D), so the expanded SMILES set is
also the reference for novelty.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")

#: Anchor group bonded through its ``*``, per anchor kind.
ANCHOR_SMILES = {"COO": "*C(=O)O", "cyano": "*C#N"}

#: (common name of the parent linker, core with two ``*`` attachment points).
CORES: list[tuple[str, str]] = [
    ("terephthalic acid (BDC)", "*c1ccc(*)cc1"),
    ("isophthalic acid (m-BDC)", "*c1cccc(*)c1"),
    ("naphthalene-1,4-dicarboxylic acid (1,4-NDC)", "*c1ccc(*)c2ccccc12"),
    ("naphthalene-2,6-dicarboxylic acid (2,6-NDC)", "*c1ccc2cc(*)ccc2c1"),
    ("naphthalene-1,5-dicarboxylic acid (1,5-NDC)", "*c1cccc2c(*)cccc12"),
    ("biphenyl-4,4'-dicarboxylic acid (BPDC)", "*c1ccc(cc1)-c1ccc(*)cc1"),
    ("p-terphenyl-4,4''-dicarboxylic acid (TPDC)", "*c1ccc(cc1)-c1ccc(cc1)-c1ccc(*)cc1"),
    ("anthracene-9,10-dicarboxylic acid (ADC)", "*c1c2ccccc2c(*)c2ccccc12"),
    ("pyrene-2,7-dicarboxylic acid (PDC)", "*c1cc2ccc3cc(*)cc4ccc(c1)c2c34"),
    ("acetylenedicarboxylic acid (ADC-yne)", "*C#C*"),
    ("fumaric acid", "*/C=C/*"),
    ("trans,trans-muconic acid", "*/C=C/C=C/*"),
    ("butadiynedicarboxylic acid", "*C#CC#C*"),
    ("4,4'-stilbenedicarboxylic acid (SDC)", "*c1ccc(cc1)/C=C/c1ccc(*)cc1"),
    ("azobenzene-4,4'-dicarboxylic acid (ABDC)", "*c1ccc(cc1)/N=N/c1ccc(*)cc1"),
    ("4,4'-tolanedicarboxylic acid (TDC-yne)", "*c1ccc(cc1)C#Cc1ccc(*)cc1"),
    ("4,4'-oxybis(benzoic acid) (OBA)", "*c1ccc(cc1)Oc1ccc(*)cc1"),
    ("4,4'-methylenedibenzoic acid (MDB)", "*c1ccc(cc1)Cc1ccc(*)cc1"),
    ("benzophenone-4,4'-dicarboxylic acid (BPNDC)", "*c1ccc(cc1)C(=O)c1ccc(*)cc1"),
    ("thiophene-2,5-dicarboxylic acid (TDC)", "*c1ccc(*)s1"),
    ("furan-2,5-dicarboxylic acid (FDCA)", "*c1ccc(*)o1"),
    ("pyrrole-2,5-dicarboxylic acid", "*c1ccc(*)[nH]1"),
    ("pyridine-2,5-dicarboxylic acid", "*c1ccc(*)nc1"),
    ("pyrazine-2,5-dicarboxylic acid", "*c1cnc(*)cn1"),
    ("pyrimidine-2,5-dicarboxylic acid", "*c1ncc(*)cn1"),
    ("2,2'-bipyridine-5,5'-dicarboxylic acid (BPYDC)", "*c1ccc(nc1)-c1ccc(*)cn1"),
    ("2,2'-bithiophene-5,5'-dicarboxylic acid (BTDC)", "*c1ccc(s1)-c1ccc(*)s1"),
    ("thieno[3,2-b]thiophene-2,5-dicarboxylic acid (TTDC)", "*c1cc2sc(*)cc2s1"),
    ("2,1,3-benzothiadiazole-4,7-dicarboxylic acid (BTDD)", "*c1ccc(*)c2nsnc12"),
    ("cyclohexane-1,4-dicarboxylic acid (CDC)", "*C1CCC(*)CC1"),
    ("bicyclo[2.2.2]octane-1,4-dicarboxylic acid (BODC)", "*C12CCC(*)(CC1)CC2"),
    ("1,4-phenylenediacetic acid", "*Cc1ccc(C*)cc1"),
    ("1,4-phenylenediacrylic acid", "*/C=C/c1ccc(/C=C/*)cc1"),
    ("quinoxaline-5,8-dicarboxylic acid", "*c1ccc(*)c2nccnc12"),
    ("2,2'-dimethylbiphenyl-4,4'-dicarboxylic acid", "*c1ccc(c(C)c1)-c1ccc(*)cc1C"),
]

#: Known linkers as written in the literature (curated facts; always in the corpus).
KNOWN_LINKERS: list[tuple[str, str]] = [
    ("2-aminoterephthalic acid (NH2-BDC)", "OC(=O)c1ccc(C(=O)O)c(N)c1"),
    ("2-bromoterephthalic acid (Br-BDC)", "OC(=O)c1ccc(C(=O)O)c(Br)c1"),
    ("2-nitroterephthalic acid (NO2-BDC)", "OC(=O)c1ccc(C(=O)O)c([N+](=O)[O-])c1"),
    ("2,5-dihydroxyterephthalic acid (DOBDC)", "OC(=O)c1cc(O)c(C(=O)O)cc1O"),
    ("2,5-dimethylterephthalic acid", "OC(=O)c1cc(C)c(C(=O)O)cc1C"),
    ("tetrafluoroterephthalic acid (F4-BDC)", "OC(=O)c1c(F)c(F)c(C(=O)O)c(F)c1F"),
    ("2,5-dimethoxyterephthalic acid", "OC(=O)c1cc(OC)c(C(=O)O)cc1OC"),
    ("2-methylterephthalic acid", "OC(=O)c1ccc(C(=O)O)c(C)c1"),
    ("2-chloroterephthalic acid", "OC(=O)c1ccc(C(=O)O)c(Cl)c1"),
    ("2,2'-diaminobiphenyl-4,4'-dicarboxylic acid", "OC(=O)c1ccc(c(N)c1)-c1ccc(C(=O)O)cc1N"),
    ("terephthalonitrile", "N#Cc1ccc(C#N)cc1"),
    ("biphenyl-4,4'-dicarbonitrile", "N#Cc1ccc(cc1)-c1ccc(C#N)cc1"),
    ("naphthalene-2,6-dicarbonitrile", "N#Cc1ccc2cc(C#N)ccc2c1"),
    ("fumaronitrile", "N#C/C=C/C#N"),
    ("tetrafluoroterephthalonitrile", "N#Cc1c(F)c(F)c(C#N)c(F)c1F"),
    ("2,5-dicyanothiophene", "N#Cc1ccc(C#N)s1"),
    ("2,5-dicyanopyridine", "N#Cc1ccc(C#N)nc1"),
]

#: hMOF-style functional groups (first atom bonds to the ring).
SUBSTITUENTS: list[tuple[str, str]] = [
    ("F", "F"), ("Cl", "Cl"), ("Br", "Br"), ("CH3", "C"), ("OH", "O"), ("NH2", "N"),
    ("OCH3", "OC"), ("NO2", "[N+](=O)[O-]"), ("CF3", "C(F)(F)F"), ("CHO", "C=O"),
]
#: Ring extensions and spacers put between a core and one or both anchors.
SPACERS: list[tuple[str, str]] = [
    ("p-phenylene", "*c1ccc(cc1)"), ("ethynylene", "*C#C"), ("vinylene", "*/C=C/"),
]
#: Largest linker part (heavy atoms between the anchors) the corpus keeps.
MAX_LINKER_HEAVY = 22


@dataclass(frozen=True)
class Candidate:
    """One expanded linker: canonical SMILES, anchor kind and how it was derived."""

    smiles: str
    anchor: str
    name: str


def canonical(smiles: str) -> str | None:
    mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(mol) if mol is not None else None


def flat_smiles(smiles: str) -> str | None:
    """Canonical SMILES without stereo: what identity/novelty compare (processing perceives
    bonds from coordinates and assigns no E/Z)."""
    mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(mol, isomericSmiles=False) if mol is not None else None


def _join(core: str, groups: list[str]) -> str | None:
    """Bond ``groups[i]`` (SMILES with one ``*``) to the i-th ``*`` of ``core``."""
    mol = Chem.MolFromSmiles(core)
    stars = [a for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    if mol is None or len(stars) != len(groups):
        return None
    for k, atom in enumerate(stars, start=1):
        atom.SetAtomMapNum(k)
    pieces = mol
    for k, group in enumerate(groups, start=1):
        frag = Chem.MolFromSmiles(group)
        next(a for a in frag.GetAtoms() if a.GetAtomicNum() == 0).SetAtomMapNum(k)
        pieces = Chem.CombineMols(pieces, frag)
    try:
        return Chem.MolToSmiles(Chem.molzip(pieces))
    except Exception:
        return None


def _attach_anchors(core: str, anchor: str, spacers: tuple[str, str] = ("", "")) -> str | None:
    """The linker: ``core`` with an anchor (behind an optional spacer) on each ``*``."""
    group = ANCHOR_SMILES[anchor]
    return _join(core, [sp + group[1:] if sp else group for sp in spacers])


def _ring_ch(mol: Chem.Mol) -> list[int]:
    """Ring atoms that still carry a hydrogen (the positions hMOF functionalised)."""
    ranks = list(Chem.CanonicalRankAtoms(mol, breakTies=False))
    seen: set[int] = set()
    sites = []
    for a in mol.GetAtoms():  # one site per symmetry class
        if a.IsInRing() and a.GetSymbol() == "C" and a.GetTotalNumHs() > 0 \
                and a.GetIsAromatic() and ranks[a.GetIdx()] not in seen:
            seen.add(ranks[a.GetIdx()])
            sites.append(a.GetIdx())
    return sites


@cache
def _mol(smiles: str) -> Chem.Mol:
    return Chem.MolFromSmiles(smiles)


def _substitute(smiles: str, positions: tuple[int, ...], groups: tuple[str, ...]) -> str | None:
    rw = Chem.RWMol(_mol(smiles))
    for pos, group in zip(positions, groups):
        offset = rw.GetNumAtoms()
        rw.InsertMol(_mol(group))
        rw.AddBond(pos, offset, Chem.BondType.SINGLE)
    try:
        out = rw.GetMol()
        Chem.SanitizeMol(out)
    except Exception:
        return None
    return Chem.MolToSmiles(out)


def _aza(smiles: str, positions: tuple[int, ...]) -> str | None:
    """Aromatic CH -> N swaps in six-membered rings (benzene -> pyridine/pyrazine)."""
    mol = Chem.RWMol(Chem.MolFromSmiles(smiles))
    ring_info = mol.GetRingInfo()
    for pos in positions:
        atom = mol.GetAtomWithIdx(pos)
        if not ring_info.IsAtomInRingOfSize(pos, 6):
            return None
        atom.SetAtomicNum(7)
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    try:
        out = mol.GetMol()
        Chem.SanitizeMol(out)
    except Exception:
        return None
    return Chem.MolToSmiles(out)


def _linker_heavy(smiles: str, anchor: str) -> int:
    mol = Chem.MolFromSmiles(smiles, sanitize=False)  # hydrogens are implicit: heavy atoms
    anchor_atoms = 3 if anchor == "COO" else 2
    return mol.GetNumAtoms() - 2 * anchor_atoms


def _variants(core_smiles: str, anchor: str, rng: random.Random) -> Iterator[str]:
    """Systematic derivatives of one linker, in a seeded but fixed order."""
    base = _attach_anchors(core_smiles, anchor)
    if base is None:
        return
    yield base
    extended = [base]
    for _, spacer in SPACERS:
        one = _attach_anchors(core_smiles, anchor, (spacer, ""))
        both = _attach_anchors(core_smiles, anchor, (spacer, spacer))
        extended += [s for s in (one, both) if s]
    parents = list(dict.fromkeys(extended))
    if anchor == "COO":  # in a nitrile linker an aza N would be a third (pyridyl) anchor
        ch = _ring_ch(Chem.MolFromSmiles(base))
        parents += [s for s in (_aza(base, (p,)) for p in ch) if s]
        parents += [s for s in (_aza(base, tuple(rng.sample(ch, 2))) for _ in range(3)
                                if len(ch) >= 2) if s]
    for parent in dict.fromkeys(parents):
        yield parent
        ch = _ring_ch(Chem.MolFromSmiles(parent))
        for pos in ch:
            for _, group in SUBSTITUENTS:
                yield _substitute(parent, (pos,), (group,)) or ""
        for _ in range(min(12, len(ch) * 2)):
            if len(ch) < 2:
                break
            pos = tuple(rng.sample(ch, 2))
            same = rng.random() < 0.5
            first = rng.choice(SUBSTITUENTS)[1]
            groups = (first, first) if same else (first, rng.choice(SUBSTITUENTS)[1])
            yield _substitute(parent, pos, groups) or ""


@cache
def expand(seed: int = 0, per_anchor: int = 2500) -> tuple[Candidate, ...]:
    """Curated linkers first, then derivatives drawn round-robin over the cores.

    Round-robin keeps small cores (with few ring positions) as well represented as big
    ones; the seed fixes which derivatives are drawn. Cached per process (a few seconds).
    """
    rng = random.Random(seed)
    chosen: dict[tuple[str, str], Candidate] = {}
    for name, smiles in KNOWN_LINKERS:
        anchor = "COO" if "C(=O)O" in smiles else "cyano"
        key = canonical(smiles)
        if key:
            chosen[(key, anchor)] = Candidate(key, anchor, name)
    for anchor in ("COO", "cyano"):
        pools = []
        for name, core in CORES:
            pool = [s for s in dict.fromkeys(_variants(core, anchor, rng)) if s
                    and _linker_heavy(s, anchor) <= MAX_LINKER_HEAVY]
            head, tail = pool[:1], pool[1:]
            rng.shuffle(tail)
            label = name if anchor == "COO" else f"{name} -> dinitrile"
            pools.append([(s, label if s in head else f"derivative of {label}")
                          for s in head + tail])
        count = sum(1 for key in chosen if key[1] == anchor)
        depth = 0
        while count < per_anchor and any(depth < len(p) for p in pools):
            for pool in pools:
                if depth < len(pool) and count < per_anchor:
                    smiles, label = pool[depth]
                    if (smiles, anchor) not in chosen:
                        chosen[(smiles, anchor)] = Candidate(smiles, anchor, label)
                        count += 1
            depth += 1
    return tuple(chosen.values())


@cache
def reference_smiles(seed: int = 0, per_anchor: int = 2500) -> frozenset[str]:
    """Canonical SMILES of the expanded corpus: what "novel" is measured against."""
    return frozenset(filter(None, (flat_smiles(c.smiles) for c in expand(seed, per_anchor))))
