"""Assembly on any RCSR net through PORMAKE (topologies and builder ship offline).

Our node and linkers become PORMAKE building blocks: every dummy becomes a connection
point ``X`` half-way between the dummy and the atom it is bonded to, which is where
PORMAKE expects it (two X's meet, the bond forms across them). Only nets with one node
type whose connectivity matches the node are accepted, with one ditopic linker on every
edge; a node that fits its slot badly (RMSD of connection-point directions) is refused.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from functools import cache
from pathlib import Path

import numpy as np

from mofgen.chemistry.framework import AssembledMOF, AssemblyError, labelled_structure
from mofgen.chemistry.linkers import ProcessedLinker
from mofgen.chemistry.nodes import Node

#: Largest node-to-slot RMSD PORMAKE may report before the net is judged not to fit.
MAX_NODE_RMSD = 0.3



@cache
def _database():
    import pormake

    logging.getLogger("unique_logger").setLevel(logging.CRITICAL)  # PORMAKE is chatty
    return pormake.Database()


def topology_names() -> list[str]:
    """All RCSR nets PORMAKE ships."""
    return sorted(_database()._get_topology_list())


def assemble_with_pormake(node: Node, linkers: list[ProcessedLinker], net: str
                          ) -> AssembledMOF:
    """Place ``node`` on every vertex and the (single) linker on every edge of ``net``."""
    import pormake

    try:
        topology = _database().get_topo(net) if net in set(topology_names()) else None
    except Exception:
        topology = None
    if topology is None:
        raise AssemblyError(f"unknown topology {net!r} (RCSR three-letter names, e.g. pcu, "
                            "nbo, dia)") from None
    if len(set(linkers[i].smiles for i in range(len(linkers)))) != 1:
        raise AssemblyError("PORMAKE assembly takes one kind of linker per net")
    linker = linkers[0]
    if linker.n_anchors != 2:
        raise AssemblyError(f"edges need ditopic linkers; {linker.smiles} has "
                            f"{linker.n_anchors} anchors")
    node_bb_atoms = _node_block(node)
    cn = sum(1 for s, _ in node_bb_atoms if s == "X")
    unique = {int(t) for t in topology.unique_node_types}
    if len(unique) != 1 or topology.unique_cn[0] != cn:
        raise AssemblyError(f"{net} needs nodes of connectivity "
                            f"{[int(c) for c in topology.unique_cn]}; "
                            f"{node.name} here is {cn}-connected")
    with tempfile.TemporaryDirectory() as tmp:
        node_bb = pormake.BuildingBlock(_write_block(Path(tmp) / "node.xyz", node_bb_atoms))
        edge_bb = pormake.BuildingBlock(_write_block(Path(tmp) / "linker.xyz",
                                                     _linker_block(linker)))
    locator = pormake.Locator()
    rmsd = locator.calculate_rmsd(topology.unique_local_structures[0], node_bb)
    if rmsd > MAX_NODE_RMSD:
        raise AssemblyError(f"{node.name} does not fit the {net} vertex (RMSD {rmsd:.2f} > "
                            f"{MAX_NODE_RMSD})")
    edge_type = tuple(int(t) for t in topology.unique_edge_types[0])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy: a 2-point edge's rotation is not unique
            framework = pormake.Builder().build_by_type(
                topology=topology, node_bbs={next(iter(unique)): node_bb},
                edge_bbs={edge_type: edge_bb})
    except Exception as exc:  # PORMAKE gives up on some node/net combinations
        raise AssemblyError(f"PORMAKE could not build {net}: {exc}") from exc
    roles, fragments = [], []
    for slot, bb in enumerate(framework.info["located_bbs"]):
        if bb is None:
            continue
        n_real = sum(1 for s in bb.atoms.get_chemical_symbols() if s != "X")
        role = "node" if slot in set(topology.node_indices) else "linker"
        roles += [role] * n_real
        fragments += [slot] * n_real
    atoms = framework.atoms
    structure = labelled_structure(np.array(atoms.cell), atoms.get_chemical_symbols(),
                                   atoms.positions, roles, fragments)
    return AssembledMOF(structure=structure, node=node.name, topology=net,
                        linkers=[linker.smiles], engine="pormake")


def _node_block(node: Node) -> list[tuple[str, np.ndarray]]:
    """Node core plus an X half-way from each At to the carboxyl carbon next to it.

    Fr sites (axial pillar positions of a paddle-wheel) are left open: PORMAKE nets put
    the same linker on every edge, so a 4-c paddle-wheel is used there.
    """
    pos = node.positions
    atoms = [(node.symbols[i], pos[i]) for i in node.core]
    carbons = [i for i, s in enumerate(node.symbols) if s == "C"]
    for d in node.dummies("At"):
        c = min(carbons, key=lambda i: np.linalg.norm(pos[i] - pos[d]))
        atoms.append(("X", 0.5 * (pos[c] + pos[d])))
    return atoms


def _linker_block(linker: ProcessedLinker) -> list[tuple[str, np.ndarray]]:
    pos = linker.positions
    dummies = set(linker.dummy_indices)
    atoms = [(s, pos[i]) for i, s in enumerate(linker.symbols) if i not in dummies]
    for d, a in zip(linker.dummy_indices, linker.attach_indices):
        atoms.append(("X", 0.5 * (pos[a] + pos[d])))
    return atoms


def _write_block(path: Path, atoms: list[tuple[str, np.ndarray]]) -> Path:
    lines = [str(len(atoms)), path.stem]
    lines += [f"{s} {x:.6f} {y:.6f} {z:.6f}" for s, (x, y, z) in atoms]
    path.write_text("\n".join(lines) + "\n")
    return path
