"""MOF assembly: processed linkers + a metal node -> a periodic pymatgen Structure.

The pcu nets MOFA uses are built directly, as MOFA does: each linker is laid along a pair
of opposite node dummies, its ring atom on the node's At (or its N on the node's Fr), and
the lattice vector is whatever makes the linker's far end meet the next node. The cell
therefore follows from the linker lengths. Carboxylate linkers are turned about their axis
so the ring lies in the plane of the node's carboxylate (conjugation, as in real MOFs);
pillars are turned to the angle that keeps them farthest from everything else.

Other nets go through PORMAKE (2 404 RCSR topologies, offline): our node and linkers are
converted to PORMAKE building blocks, whose connection points ``X`` sit half-way along the
bond they stand for.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from mofgen.chemistry.anchors import DUMMY_ELEMENT
from mofgen.chemistry.framework import AssembledMOF, AssemblyError, labelled_structure
from mofgen.chemistry.linkers import ProcessedLinker, load_linker
from mofgen.chemistry.nodes import Node, get_node, normalise_node
from mofgen.chemistry.reticular import assemble_with_pormake

# ---------------------------------------------------------------- entry point


def assemble_mof(linkers: Sequence[ProcessedLinker | str], pillar: ProcessedLinker | str | None
                 = None, node: str = "zn_paddlewheel", topology: str = "pcu") -> AssembledMOF:
    """Build a MOF from processed linkers (or SMILES / files) on ``node`` in net ``topology``.

    * ``zn_paddlewheel`` / ``cu_paddlewheel`` + ``pcu``: one or two carboxylate linkers in
      the plane and an N-donor ``pillar`` (MOFA's family); without a pillar, or on another
      net, the paddle-wheel is a 4-c square node built through PORMAKE.
    * ``zn4o`` + ``pcu``: one or three carboxylate linkers (IRMOF-1 type).
    * any other RCSR net with one node type: through PORMAKE, one ditopic linker.
    """
    node_name = normalise_node(node)
    net = str(topology).strip().lower()
    if not linkers:
        raise AssemblyError("at least one linker is needed")
    coo = [_as_linker(x, "COO") for x in linkers]
    pil = _as_linker(pillar, "cyano") if pillar is not None else None
    node_obj = get_node(node_name)
    if net == "pcu" and node_name.endswith("paddlewheel") and pil is None:
        raise AssemblyError("the paddle-wheel pcu net needs an N-donor pillar "
                            "(e.g. pyrazine, DABCO, 4,4'-bipyridine), or use node zn4o")
    if net == "pcu" and (node_name == "zn4o" or pil is not None):
        return _assemble_pcu(node_obj, coo, pil)
    if pil is not None:
        raise AssemblyError(f"a pillar only fits the pillared pcu net, not {net}")
    return assemble_with_pormake(node_obj, coo, net)


def _as_linker(item: ProcessedLinker | str, anchor: str) -> ProcessedLinker:
    linker = item if isinstance(item, ProcessedLinker) else load_linker(str(item), anchor)
    if linker.anchor != anchor:
        raise AssemblyError(f"linker {linker.smiles} has {linker.anchor} anchors, "
                            f"this position needs {anchor}")
    return linker


# ---------------------------------------------------------------- own pcu builder


def _assemble_pcu(node: Node, coo: list[ProcessedLinker], pillar: ProcessedLinker | None
                  ) -> AssembledMOF:
    """pcu: each pair of opposite node dummies gets one linker; three pairs, three axes."""
    coo_pairs = node.dummy_pairs("At")
    if len(coo) not in (1, len(coo_pairs)):
        raise AssemblyError(f"{node.name} in pcu takes 1 or {len(coo_pairs)} carboxylate "
                            f"linkers, got {len(coo)}")
    plan = [(pair, coo[k % len(coo)]) for k, pair in enumerate(coo_pairs)]
    if pillar is not None:
        fr_pairs = node.dummy_pairs("Fr")
        if len(fr_pairs) != 1:
            raise AssemblyError(f"node {node.name} has no axial sites for a pillar")
        plan.append((fr_pairs[0], pillar))
    if len(plan) != 3:
        raise AssemblyError(f"{node.name} with these linkers does not make a 3D pcu net")
    for _, linker in plan:
        if linker.n_anchors != 2:
            raise AssemblyError(f"pcu needs ditopic linkers; {linker.smiles} has "
                                f"{linker.n_anchors} anchors")

    placed: list[np.ndarray] = []
    vectors: list[np.ndarray] = []
    for (p1, p2), linker in plan[:2] if pillar is not None else plan:
        coords = _place(node, p1, p2, linker, _best_plane_angle)
        placed.append(coords)
        vectors.append(coords[linker.attach_indices[1]] - node.positions[p2])
    if pillar is not None:
        (p1, p2), linker = plan[2]
        scorer = _clearance_scorer(node, placed, [x for _, x in plan[:2]], vectors)
        coords = _place(node, p1, p2, linker, scorer)
        placed.append(coords)
        vectors.append(coords[linker.attach_indices[1]] - node.positions[p2])

    lattice = np.array(vectors)
    if np.linalg.det(lattice) < 0:
        lattice[2] *= -1.0
    _check_cell(lattice)
    structure = _framework(node, [lk for _, lk in plan], placed, lattice)
    return AssembledMOF(
        structure=structure, node=node.name, topology="pcu",
        linkers=[lk.smiles for _, lk in plan[:len(coo_pairs)]],
        pillar=pillar.smiles if pillar is not None else None, engine="mofgen",
    )


def _place(node: Node, p1: int, p2: int, linker: ProcessedLinker, choose_angle: Any
           ) -> np.ndarray:
    """Linker coordinates with its first attach atom on dummy p1, pointing away from p2."""
    pos = linker.positions
    d1, d2 = linker.dummy_indices[:2]
    a1 = linker.attach_indices[0]
    outward = _unit(node.positions[p1] - node.positions[p2])
    along = _rotation(_unit(pos[d2] - pos[d1]), outward)
    base = (pos - pos[a1]) @ along.T
    angle = choose_angle(node, p1, p2, linker, base, outward)
    return base @ _axis_rotation(outward, angle).T + node.positions[p1]


def _best_plane_angle(node: Node, p1: int, p2: int, linker: ProcessedLinker,
                      base: np.ndarray, axis: np.ndarray) -> float:
    """Turn so each end's ring plane matches the node carboxylate it binds (both ends)."""
    targets = [_carboxylate_normal(node, p1), _carboxylate_normal(node, p2)]
    normals = [_ring_normal(linker, base, k) for k in range(2)]
    angles = np.radians(np.arange(0.0, 180.0, 2.0))
    cost = np.zeros_like(angles)
    for normal, target in zip(normals, targets):
        if normal is None or target is None:
            continue
        for k, theta in enumerate(angles):
            cost[k] += 1.0 - abs(float(_axis_rotation(axis, theta) @ normal @ target))
    return float(angles[int(np.argmin(cost))])


def _clearance_scorer(node: Node, placed: list[np.ndarray], linkers: list[ProcessedLinker],
                      vectors: list[np.ndarray]) -> Any:
    """Angle choice for a pillar: the one keeping it farthest from every other atom."""
    others = [node.positions[node.core]]
    for coords, linker in zip(placed, linkers):
        others.append(coords[_real(linker)])
    environment = np.vstack(others)

    def choose(node: Node, p1: int, p2: int, linker: ProcessedLinker, base: np.ndarray,
               axis: np.ndarray) -> float:
        best, best_angle = -np.inf, 0.0
        real = _real(linker)
        for theta in np.radians(np.arange(0.0, 360.0, 10.0)):
            coords = base @ _axis_rotation(axis, theta).T + node.positions[p1]
            third = coords[linker.attach_indices[1]] - node.positions[p2]
            cell = np.array([*vectors, third])
            shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1)
                               for k in (-1, 0, 1)]) @ cell
            images = (environment[None] + shifts[:, None]).reshape(-1, 3)
            own = (coords[real][None] + shifts[[i for i, s in enumerate(shifts)
                                                if np.linalg.norm(s) > 1e-6]][:, None])
            images = np.vstack([images, own.reshape(-1, 3)])
            gap = np.min(np.linalg.norm(coords[real][:, None] - images[None], axis=-1))
            if gap > best + 1e-6:
                best, best_angle = gap, float(theta)
        return best_angle

    return choose


def _framework(node: Node, linkers: list[ProcessedLinker], placed: list[np.ndarray],
               lattice: np.ndarray) -> Structure:
    """Node core + linker atoms (dummies dropped), labelled by role and fragment."""
    species: list[str] = []
    coords: list[np.ndarray] = []
    roles: list[str] = []
    fragments: list[int] = []
    for i in node.core:
        species.append(node.symbols[i])
        coords.append(node.positions[i])
        roles.append("node")
        fragments.append(0)
    for k, (linker, xyz) in enumerate(zip(linkers, placed), start=1):
        for i in _real(linker):
            species.append(linker.symbols[i])
            coords.append(xyz[i])
            roles.append("linker")
            fragments.append(k)
    return labelled_structure(lattice, species, np.array(coords), roles, fragments)


# ---------------------------------------------------------------- geometry helpers


def _real(linker: ProcessedLinker) -> list[int]:
    dummies = set(linker.dummy_indices)
    return [i for i in range(len(linker.symbols)) if i not in dummies]


def _carboxylate_normal(node: Node, dummy: int) -> np.ndarray | None:
    """Normal of the O-C-O plane of the node carboxylate nearest to an At dummy."""
    pos, sym = node.positions, node.symbols
    carbons = [i for i, s in enumerate(sym) if s == "C"]
    if not carbons:
        return None
    c = min(carbons, key=lambda i: np.linalg.norm(pos[i] - pos[dummy]))
    oxygens = sorted((i for i, s in enumerate(sym) if s == "O"),
                     key=lambda i: np.linalg.norm(pos[i] - pos[c]))[:2]
    if len(oxygens) < 2:
        return None
    return _unit(np.cross(pos[oxygens[0]] - pos[c], pos[oxygens[1]] - pos[c]))


def _ring_normal(linker: ProcessedLinker, pos: np.ndarray, end: int) -> np.ndarray | None:
    """Normal of the plane through an attach atom and its two heavy neighbours."""
    a = linker.attach_indices[end]
    dummies = set(linker.dummy_indices)
    neighbours = [j for i, j in linker.bonds if i == a] + [i for i, j in linker.bonds if j == a]
    heavy = [j for j in neighbours if j not in dummies and linker.symbols[j] != "H"]
    if len(heavy) < 2:
        return None
    normal = np.cross(pos[heavy[0]] - pos[a], pos[heavy[1]] - pos[a])
    return _unit(normal) if np.linalg.norm(normal) > 1e-6 else None


def _check_cell(lattice: np.ndarray) -> None:
    lengths = np.linalg.norm(lattice, axis=1)
    volume = abs(np.linalg.det(lattice))
    if lengths.min() < 3.0 or volume < 0.2 * np.prod(lengths):
        raise AssemblyError(f"degenerate cell (lengths {np.round(lengths, 2).tolist()} A, "
                            f"volume {volume:.1f} A^3): the linkers do not span the net")


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=float) / np.linalg.norm(v)


def _axis_rotation(axis: np.ndarray, theta: float) -> np.ndarray:
    """Rodrigues rotation by ``theta`` about unit vector ``axis``."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * k @ k


def _rotation(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotation matrix taking unit vector u onto unit vector v (antiparallel included)."""
    cross = np.cross(u, v)
    cos = float(np.dot(u, v))
    if np.linalg.norm(cross) < 1e-9:
        if cos > 0:
            return np.eye(3)
        helper = np.eye(3)[int(np.argmin(np.abs(u)))]
        return _axis_rotation(_unit(np.cross(u, helper)), np.pi)
    return _axis_rotation(_unit(cross), float(np.arctan2(np.linalg.norm(cross), cos)))


def write_temp_xyz(symbols: list[str], coords: np.ndarray, directory: str | None = None) -> Path:
    """Write an XYZ file (used to hand building blocks to PORMAKE)."""
    handle = tempfile.NamedTemporaryFile("w", suffix=".xyz", delete=False, dir=directory)
    with handle:
        handle.write(f"{len(symbols)}\n\n")
        for s, (x, y, z) in zip(symbols, coords):
            handle.write(f"{s} {x:.6f} {y:.6f} {z:.6f}\n")
    return Path(handle.name)


__all__ = ["AssembledMOF", "AssemblyError", "assemble_mof", "labelled_structure",
           "DUMMY_ELEMENT"]
