"""What every assembly route shares: the assembled framework, its error, labelled sites.

Kept apart from :mod:`~mofgen.chemistry.assembly` (own pcu builder) and
:mod:`~mofgen.chemistry.reticular` (PORMAKE nets) so each builder imports it and neither
imports the other's internals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, field_serializer, field_validator
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from mofgen.errors import InvalidInput


class AssemblyError(InvalidInput):
    """Linkers, node and net that cannot make a framework (wrong anchors, counts, fit)."""


class AssembledMOF(BaseModel):
    """An assembled framework and what it was made of."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    structure: Structure
    node: str
    topology: str
    linkers: list[str]  # canonical SMILES of the carboxylate (or main) linkers, in cell order
    pillar: str | None = None  # canonical SMILES of the N-donor pillar, if any
    engine: str = "mofgen"  # "mofgen" (own pcu builder) or "pormake"

    @field_serializer("structure")
    def _dump_structure(self, structure: Structure) -> dict[str, Any]:
        return structure.as_dict()

    @field_validator("structure", mode="before")
    @classmethod
    def _load_structure(cls, value: Any) -> Structure:
        return Structure.from_dict(value) if isinstance(value, dict) else value

    @property
    def smiles(self) -> list[str]:
        """All distinct linker SMILES, the pillar included."""
        return sorted(set(self.linkers) | ({self.pillar} if self.pillar else set()))

    def to_cif(self) -> str:
        return str(CifWriter(self.structure))

    def write_cif(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_cif())
        return path

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AssembledMOF:
        return cls.model_validate(data)


def labelled_structure(lattice: Any, species: list[str], cart: np.ndarray, roles: list[str],
                       fragments: list[int]) -> Structure:
    """A Structure whose site labels (``Zn1_node``, ``C7_linker``) and properties say roles."""
    counts: dict[str, int] = {}
    labels = []
    for element, role in zip(species, roles):
        counts[element] = counts.get(element, 0) + 1
        labels.append(f"{element}{counts[element]}_{role}")
    return Structure(Lattice(lattice), species, cart, coords_are_cartesian=True,
                     to_unit_cell=True, labels=labels,
                     site_properties={"role": roles, "fragment": fragments})
