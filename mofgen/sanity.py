"""Physical sanity of an input structure and of simulation conditions, before any engine runs.

A CIF whose atoms sit 0.3 Å from each other, a cell of zero volume or a Zn-C-H-O file in a
Li-Fe-O campaign all parse fine, and an engine will happily return numbers for them
(LAMMPS calls the overlapping CIF "stable"). These checks are cheap (a neighbour list up
to a few Å with periodic images, no dense distance matrix) and refuse such input with the
number that decided:

* **lattice**: finite cell vectors, a volume above ``MIN_VOLUME_PER_ATOM_A3`` per atom;
* **coordinates**: finite;
* **overlap**: no two atoms (periodic images included) closer than
  ``max(MIN_DISTANCE_A, COVALENT_FRACTION × (r_cov,i + r_cov,j))``. 0.5 Å is the validity
  floor of CDVAE/DiffCSP that Star-gen inherits (``mofgen.crystal.validity``); half the
  sum of covalent radii (Cordero et al., Dalton Trans. 2008, 2832) catches heavier atoms
  fused into one another (Zn–Zn at 0.6 Å) that the floor misses, while the shortest real
  bonds (O–H 0.96 Å, C≡N 1.15 Å) sit near the sum itself;
* **density**: between ``DENSITY_RANGE_G_CM3`` (MOF-399, the least dense MOF, is 0.126
  g/cm³; osmium, the densest element, 22.6 g/cm³);
* **elements**: within a campaign's chemical system when one is given;
* **size**: at most ``max_atoms`` atoms when a limit is given;
* **conditions**: temperature and pressure finite and positive.

MOFChecker (Jablonka et al.) was the field library to prefer for MOF-specific flags; it
does not install here (see ``docs``/the issue #13 report), so these are our own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mofgen.errors import InvalidInput

MIN_DISTANCE_A = 0.5  # Å, CDVAE/DiffCSP validity floor (as mofgen.crystal.validity)
COVALENT_FRACTION = 0.5  # of the sum of covalent radii
MIN_VOLUME_PER_ATOM_A3 = 1.0  # Å^3; H2 ice is ~10, diamond 5.7, nothing real below ~3
DENSITY_RANGE_G_CM3 = (0.05, 30.0)
_AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660  # 1 amu/Å^3 in g/cm^3


@dataclass(frozen=True)
class Issue:
    """One failed check: its name, the measured value, the limit and one line saying so."""

    check: str
    value: float
    limit: float
    detail: str


@dataclass(frozen=True)
class SanityReport:
    issues: tuple[Issue, ...]
    n_atoms: int

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def reason(self) -> str:
        """One line for a message or a ``rejected`` document ('' when sane)."""
        return "; ".join(i.detail for i in self.issues)

    @property
    def first(self) -> Issue | None:
        return self.issues[0] if self.issues else None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "n_atoms": self.n_atoms,
                "issues": [asdict(i) for i in self.issues]}


def _is_element(symbol: str) -> bool:
    from pymatgen.core import Element

    return Element.is_valid_symbol(symbol)


def _covalent_radii(symbols: list[str]) -> np.ndarray:
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    table = CovalentRadius.radius
    return np.array([table.get(s, 1.5) for s in symbols], dtype=float)


def shortest_contact(structure, cutoff_A: float | None = None,
                     covalent_fraction: float = COVALENT_FRACTION,
                     min_distance_A: float = MIN_DISTANCE_A) -> Issue | None:
    """The worst overlap of two atoms (periodic images included), or ``None`` if none.

    "Worst" is the pair furthest below its own limit ``max(min_distance_A, fraction ×
    (r_i + r_j))``. Uses pymatgen's cell-list neighbour search, so memory grows with the
    number of close pairs, not with the square of the number of atoms.
    """
    symbols = [getattr(site.specie, "symbol", str(site.specie)) for site in structure]
    radii = _covalent_radii(symbols)
    cutoff = cutoff_A or max(min_distance_A, covalent_fraction * 2 * float(radii.max()))
    centers, points, _images, distances = structure.get_neighbor_list(
        cutoff, exclude_self=True)
    if len(distances) == 0:
        return None
    limits = np.maximum(min_distance_A, covalent_fraction * (radii[centers] + radii[points]))
    short = distances < limits
    if not short.any():
        return None
    idx = np.flatnonzero(short)
    worst = idx[np.argmax(limits[idx] - distances[idx])]
    i, j, d, lim = int(centers[worst]), int(points[worst]), float(distances[worst]), \
        float(limits[worst])
    pair = f"{symbols[i]}{i + 1}–{symbols[j]}{j + 1}" if i != j else \
        f"{symbols[i]}{i + 1} and its own periodic image"
    pairs = int((short & (centers < points)).sum()) + int((short & (centers == points)).sum()) // 2
    return Issue("min_distance", d, lim,
                 f"atoms overlap: {pair} {d:.3f} Å apart (minimum {lim:.2f} Å); "
                 f"{max(pairs, 1)} close pair(s)")


def check_structure(structure, *, elements: Iterable[str] | None = None,
                    max_atoms: int | None = None,
                    min_distance_A: float = MIN_DISTANCE_A,
                    covalent_fraction: float = COVALENT_FRACTION,
                    density_range: tuple[float, float] = DENSITY_RANGE_G_CM3) -> SanityReport:
    """Every check on a pymatgen ``Structure``; a broken lattice stops the geometric ones."""
    n = len(structure)
    issues: list[Issue] = []
    if n == 0:
        return SanityReport((Issue("n_atoms", 0, 1, "no atoms"),), 0)
    if max_atoms is not None and n > max_atoms:
        issues.append(Issue("n_atoms", n, max_atoms,
                            f"{n} atoms, more than the limit of {max_atoms}"))
    symbols = {getattr(sp, "symbol", str(sp)) for sp in structure.composition}
    unknown = sorted(s for s in symbols if not _is_element(s))
    if unknown:
        issues.append(Issue("elements", len(unknown), 0,
                            f"unknown element(s) {', '.join(unknown)}"))
        return SanityReport(tuple(issues), n)  # no mass, no radius: nothing else to measure
    if elements is not None:
        allowed = set(elements)
        outside = sorted(symbols - allowed - set(unknown))
        if outside:
            issues.append(Issue("elements", len(outside), 0,
                                f"element(s) {', '.join(outside)} outside the chemical system "
                                f"{'-'.join(sorted(allowed))}"))
    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    if not np.isfinite(matrix).all():
        issues.append(Issue("lattice", math.nan, 0, "cell vectors are not finite numbers"))
        return SanityReport(tuple(issues), n)
    volume = abs(float(np.linalg.det(matrix)))
    if volume < MIN_VOLUME_PER_ATOM_A3 * n:
        issues.append(Issue("volume", volume, MIN_VOLUME_PER_ATOM_A3 * n,
                            f"cell volume {volume:.3g} Å³ for {n} atoms (minimum "
                            f"{MIN_VOLUME_PER_ATOM_A3:g} Å³ per atom): a degenerate cell"))
        return SanityReport(tuple(issues), n)
    if not np.isfinite(structure.frac_coords).all():
        issues.append(Issue("coordinates", math.nan, 0, "atom coordinates are not finite"))
        return SanityReport(tuple(issues), n)
    density = float(structure.composition.weight) / volume * _AMU_PER_A3_TO_G_PER_CM3
    low, high = density_range
    if not low <= density <= high:
        limit = low if density < low else high
        issues.append(Issue("density", density, limit,
                            f"density {density:.3g} g/cm³ outside {low:g}–{high:g} g/cm³"))
    if max_atoms is None or n <= max_atoms:  # a neighbour list of a huge cell is heavy work
        overlap = shortest_contact(structure, covalent_fraction=covalent_fraction,
                                   min_distance_A=min_distance_A)
        if overlap is not None:
            issues.append(overlap)
    return SanityReport(tuple(issues), n)


def ensure_sane(structure, what: str, **limits: Any) -> SanityReport:
    """:func:`check_structure`, raising one :class:`InvalidInput` line naming ``what``."""
    report = check_structure(structure, **limits)
    if not report.ok:
        raise InvalidInput(f"{what}: {report.reason}")
    return report


def check_conditions(temperature_K: Any = None, pressure_bar: Any = None) -> list[Issue]:
    """Simulation conditions that are finite and positive (``None`` = not given)."""
    issues = []
    for name, value, unit in (("temperature", temperature_K, "K"),
                              ("pressure", pressure_bar, "bar")):
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            issues.append(Issue(name, number, 0.0,
                                f"{name} must be a finite positive number of {unit}, "
                                f"got {value!r}"))
    return issues


def ensure_conditions(temperature_K: Any = None, pressure_bar: Any = None) -> None:
    issues = check_conditions(temperature_K, pressure_bar)
    if issues:
        raise InvalidInput("; ".join(i.detail for i in issues))


def system_elements(settings: Any) -> list[str] | None:
    """The element symbols of a kind's ``system`` setting (``"Fe-Li-O"``), or ``None`` when
    the kind's settings name no chemical system."""
    system = getattr(settings, "system", None)
    if not isinstance(system, str) or not system:
        return None
    return [s.strip() for s in system.split("-") if s.strip()]
