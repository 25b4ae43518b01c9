"""Metal nodes shipped with mofgen (MOFA's reference geometries, with At/Fr dummies).

Dummies mark where linkers attach: an At sits where a carboxylate linker's ring atom
goes (1.5 A beyond the node's carboxyl carbon), an Fr where an N-donor pillar's N goes
(about 2 A from the metal). Opposite dummies form the pairs a pcu net runs through.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from mofgen.errors import InvalidInput

DATA = resources.files("mofgen") / "data" / "chemistry"

# name -> (file, description, oxidation state of the metal)
_NODES: dict[str, tuple[str, str, int]] = {
    "zn_paddlewheel": ("zinc_paddle_pillar.xyz",
                       "Zn2(COO)4 paddle-wheel with two axial N-donor sites (MOFA)", 2),
    "cu_paddlewheel": ("copper_paddle_pillar.xyz",
                       "Cu2(COO)4 paddle-wheel with two axial N-donor sites", 2),
    "zn4o": ("zinc_tetra.xyz", "Zn4O(COO)6 octahedral cluster (IRMOF-1 / MOF-5)", 2),
}
_ALIASES = {
    "paddlewheel": "zn_paddlewheel", "zn_paddle": "zn_paddlewheel",
    "zinc_paddle_pillar": "zn_paddlewheel", "zn2": "zn_paddlewheel",
    "cu_paddle": "cu_paddlewheel", "copper_paddle_pillar": "cu_paddlewheel",
    "cu2": "cu_paddlewheel", "zinc_tetra": "zn4o", "irmof": "zn4o", "mof-5": "zn4o",
    "zn4o(coo)6": "zn4o",
}


@dataclass(frozen=True)
class Node:
    """A metal cluster with its carboxylate carbons/oxygens and its anchor dummies."""

    name: str
    description: str
    symbols: tuple[str, ...]
    positions: np.ndarray

    @property
    def metal(self) -> str:
        return next(s for s in self.symbols if s not in {"C", "O", "N", "H", "At", "Fr"})

    def dummies(self, element: str) -> list[int]:
        return [i for i, s in enumerate(self.symbols) if s == element]

    def dummy_pairs(self, element: str) -> list[tuple[int, int]]:
        """Dummies of one element paired with the one farthest away (opposite sides)."""
        left = self.dummies(element)
        pairs = []
        while len(left) >= 2:
            first = left.pop(0)
            far = max(left, key=lambda j: np.linalg.norm(self.positions[j] - self.positions[first]))
            left.remove(far)
            pairs.append((first, far))
        return pairs

    @property
    def core(self) -> list[int]:
        """Indices of real atoms (everything but the dummies)."""
        return [i for i, s in enumerate(self.symbols) if s not in {"At", "Fr"}]


def node_names() -> list[str]:
    return sorted(_NODES)


def normalise_node(name: str) -> str:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _NODES:
        raise InvalidInput(f"unknown node {name!r} (known: {', '.join(node_names())})")
    return key


@cache
def get_node(name: str) -> Node:
    """The shipped node geometry by name (aliases such as 'paddlewheel' or 'irmof' work)."""
    key = normalise_node(name)
    filename, description, _ = _NODES[key]
    lines = (DATA / filename).read_text().splitlines()
    count = int(lines[0])
    rows = [ln.split() for ln in lines[2:2 + count]]
    positions = np.array([[float(v) for v in r[1:4]] for r in rows])
    positions.setflags(write=False)
    return Node(key, description, tuple(r[0] for r in rows), positions)


def metal_oxidation_state(name: str) -> int:
    return _NODES[normalise_node(name)][2]
