"""Identity of MOFs: the same framework generated twice is stored once.

Three levels, from cheapest to most forgiving:

* :func:`linker_identity` -- from what the MOF is made of (canonical linker SMILES as a
  multiset, node, net). Known before assembly, so duplicates can be skipped early.
* :func:`structure_hash` -- from the assembled crystal alone: a Weisfeiler-Lehman hash of
  the bonded periodic graph (elements on the atoms, bonds across cell faces included, as
  the quotient graph) together with the reduced formula. Independent of atom order,
  origin, orientation and small geometric noise, so it also catches duplicates that came
  from different generated linker coordinates.
* :func:`near_duplicates` / :func:`is_near_duplicate` -- pymatgen ``StructureMatcher`` for
  crystals that differ by more than noise but are the same structure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import networkx as nx
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from rdkit import Chem

from mofgen.chemistry.screen import BOND_TOLERANCE, _covalent, _is_metal

_DIGEST = 32  # hex characters kept (128 bits)


def canonical_smiles(smiles: str) -> str:
    """RDKit canonical SMILES (isomeric); raises ValueError for an unparsable string."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"not a valid SMILES: {smiles!r}")
    return Chem.MolToSmiles(mol)


def linker_identity(smiles_list: Sequence[str], node: str, topology: str = "pcu") -> str:
    """Stable id of a MOF from its linkers (order-free), node and net."""
    payload = {
        "linkers": sorted(canonical_smiles(s) for s in smiles_list),
        "node": str(node).strip().lower(),
        "topology": str(topology).strip().lower(),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:_DIGEST]


def bond_graph(structure: Structure) -> nx.MultiGraph:
    """Periodic bonded graph: one vertex per site, one edge per bond (image bonds kept)."""
    graph = nx.MultiGraph()
    for i, site in enumerate(structure):
        graph.add_node(i, element=site.specie.symbol)
    symbols = [site.specie.symbol for site in structure]
    reach = max(3.2, 2 * max(_covalent(s) for s in set(symbols)) + BOND_TOLERANCE)
    centres, others, images, dists = structure.get_neighbor_list(reach)
    for i, j, image, d in zip(centres, others, images, dists):
        if i > j or (i == j and tuple(image) <= (0, 0, 0)):
            continue
        if _is_metal(symbols[i]) and _is_metal(symbols[j]):
            continue
        if d < _covalent(symbols[i]) + _covalent(symbols[j]) + BOND_TOLERANCE:
            graph.add_edge(int(i), int(j))
    return graph


def structure_hash(structure: Structure) -> str:
    """Hash of a crystal invariant to atom order, origin, rotation and coordinate noise."""
    graph = nx.Graph()
    multi = bond_graph(structure)
    for node, data in multi.nodes(data=True):
        graph.add_node(node, element=data["element"])
    for i, j in multi.edges():
        if graph.has_edge(i, j):
            graph[i][j]["order"] += 1
        else:
            graph.add_edge(i, j, order=1)
    for i, j in graph.edges():
        graph[i][j]["order"] = str(graph[i][j]["order"])
    wl = nx.weisfeiler_lehman_graph_hash(graph, node_attr="element", edge_attr="order",
                                         iterations=4)
    formula = structure.composition.reduced_formula
    return hashlib.sha256(f"{formula}|{wl}".encode()).hexdigest()[:_DIGEST]


def _matcher() -> StructureMatcher:
    return StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, primitive_cell=False,
                            scale=True, attempt_supercell=False)


def is_near_duplicate(first: Structure, second: Structure) -> bool:
    """pymatgen StructureMatcher verdict (default tolerances, no primitive reduction)."""
    return bool(_matcher().fit(first, second))


def near_duplicates(structures: Sequence[Structure]) -> list[list[int]]:
    """Groups (indices into ``structures``) that StructureMatcher finds equivalent."""
    groups = _matcher().group_structures(list(structures))
    index = {id(s): k for k, s in enumerate(structures)}
    return [sorted(index[id(s)] for s in group) for group in groups]
