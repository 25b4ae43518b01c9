"""Prototype structures for template substitution, and reference phases for convex hulls.

Everything is built in code with ``Structure.from_spacegroup`` from published lattice
parameters and Wyckoff positions, so nothing is downloaded and every structure can be
audited here. pymatgen's space-group tables use the *first* origin choice of
International Tables (e.g. Fd-3m: 8a at 0,0,0 and 16d at 5/8,5/8,5/8; I4_1/amd: 4a at
0,0,0), so coordinates quoted in origin choice 2 in the literature are shifted here.

Prototypes carry oxidation states (``Species``), because pymatgen's data-mined
substitution model (Hautier et al. 2011) proposes substitutions between ions. The
geometries are starting points: every candidate and every reference phase is relaxed with
the same ML potential before energies are compared, so small errors in the literature
values below do not propagate into hull energies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pymatgen.core import Lattice, Structure

from mofgen.errors import InvalidInput

# ruff: noqa: E501  (literature tables read better on one line)


@dataclass(frozen=True)
class Prototype:
    """A named crystal structure with its literature source.

    ``structure`` is the primitive cell (fewer atoms for the ML potential); the
    conventional cell is what the source describes.
    """

    name: str
    structure: Structure
    source: str

    @property
    def formula(self) -> str:
        return self.structure.composition.reduced_formula

    @property
    def spacegroup(self) -> str:
        return self.structure.get_space_group_info(symprec=0.1)[0]


def _build(spacegroup: str, lattice: Lattice, species: Sequence[str],
           coords: Sequence[Sequence[float]]) -> Structure:
    conventional = Structure.from_spacegroup(spacegroup, lattice, list(species), coords)
    return conventional.get_primitive_structure()


# --------------------------------------------------------------------------- prototypes
# (name, builder, source). Species carry the oxidation states of the mineral/compound.

def _rocksalt() -> Structure:
    return _build("Fm-3m", Lattice.cubic(5.640), ["Na+", "Cl-"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _antifluorite() -> Structure:
    return _build("Fm-3m", Lattice.cubic(5.55), ["Na+", "O2-"], [[0.25, 0.25, 0.25], [0, 0, 0]])


def _fluorite() -> Structure:
    return _build("Fm-3m", Lattice.cubic(5.4626), ["Ca2+", "F-"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def _wurtzite() -> Structure:
    return _build("P6_3mc", Lattice.hexagonal(3.2498, 5.2066), ["Zn2+", "O2-"],
                  [[1 / 3, 2 / 3, 0.0], [1 / 3, 2 / 3, 0.3819]])


def _rutile() -> Structure:
    return _build("P4_2/mnm", Lattice.tetragonal(4.5937, 2.9587), ["Ti4+", "O2-"],
                  [[0, 0, 0], [0.3048, 0.3048, 0]])


def _corundum() -> Structure:
    return _build("R-3c", Lattice.hexagonal(4.7589, 12.991), ["Al3+", "O2-"],
                  [[0, 0, 0.35216], [0.30624, 0, 0.25]])


def _spinel() -> Structure:
    # origin choice 1: u(O) = 0.2624 (origin 2) + 1/8
    return _build("Fd-3m", Lattice.cubic(8.0832), ["Mg2+", "Al3+", "O2-"],
                  [[0, 0, 0], [0.625, 0.625, 0.625], [0.3874, 0.3874, 0.3874]])


def _olivine() -> Structure:
    # forsterite, Pbnm values transformed to Pnma: (x, y, z)_Pbnm -> (y, z, x)_Pnma
    return _build("Pnma", Lattice.orthorhombic(10.207, 5.980, 4.756),
                  ["Mg2+", "Mg2+", "Si4+", "O2-", "O2-", "O2-"],
                  [[0, 0, 0], [0.2774, 0.25, 0.9915], [0.0940, 0.25, 0.4262],
                   [0.0913, 0.25, 0.7657], [0.4474, 0.25, 0.2215], [0.1628, 0.0331, 0.2777]])


def _perovskite() -> Structure:
    return _build("Pm-3m", Lattice.cubic(3.905), ["Sr2+", "Ti4+", "O2-"],
                  [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0]])


def _layered() -> Structure:
    return _build("R-3m", Lattice.hexagonal(2.8156, 14.0542), ["Li+", "Co3+", "O2-"],
                  [[0, 0, 0.5], [0, 0, 0], [0, 0, 0.23951]])


def _ordered_rocksalt() -> Structure:
    # gamma-LiFeO2 type; O at the ideal rock-salt height z = 1/4 (origin choice 1)
    return _build("I4_1/amd", Lattice.tetragonal(4.057, 8.759), ["Li+", "Fe3+", "O2-"],
                  [[0, 0, 0], [0, 0, 0.5], [0, 0, 0.25]])


_PROTOTYPES: tuple[tuple[str, Callable[[], Structure], str], ...] = (
    ("rocksalt", _rocksalt, "NaCl, Fm-3m, a = 5.640 A (Wyckoff, Crystal Structures vol. 1, 1963)"),
    ("antifluorite", _antifluorite, "Na2O, Fm-3m, a = 5.55 A, Na 8c, O 4a (Zintl & Baumbach 1931; Wyckoff 1963)"),
    ("fluorite", _fluorite, "CaF2, Fm-3m, a = 5.4626 A (Wyckoff 1963)"),
    ("wurtzite", _wurtzite, "ZnO, P6_3mc, a = 3.2498, c = 5.2066 A, u = 0.3819 (Kisi & Elcombe, Acta Cryst. C45, 1867, 1989)"),
    ("rutile", _rutile, "TiO2, P4_2/mnm, a = 4.5937, c = 2.9587 A, x(O) = 0.3048 (Burdett et al., JACS 109, 3639, 1987)"),
    ("corundum", _corundum, "alpha-Al2O3, R-3c, a = 4.7589, c = 12.991 A (Lewis, Schwarzenbach & Flack, Acta Cryst. A38, 733, 1982)"),
    ("spinel", _spinel, "MgAl2O4, Fd-3m, a = 8.0832 A, u = 0.2624 origin 2 (Yamanaka & Takeuchi, Z. Kristallogr. 165, 65, 1983)"),
    ("olivine", _olivine, "forsterite Mg2SiO4, Pbnm a = 4.756, b = 10.207, c = 5.980 A (Fujino et al., Acta Cryst. B37, 513, 1981)"),
    ("perovskite", _perovskite, "SrTiO3, Pm-3m, a = 3.905 A (Wyckoff 1963)"),
    ("layered", _layered, "LiCoO2 (alpha-NaFeO2 type), R-3m, a = 2.8156, c = 14.0542 A, z(O) = 0.2395 (Akimoto et al., J. Solid State Chem. 141, 298, 1998)"),
    ("ordered-rocksalt", _ordered_rocksalt, "gamma-LiFeO2, I4_1/amd, a = 4.057, c = 8.759 A (Anderson & Schieber, J. Phys. Chem. Solids 25, 961, 1964); ideal O height"),
)


def prototype_names() -> list[str]:
    return [name for name, _, _ in _PROTOTYPES]


@lru_cache(maxsize=1)
def _all_prototypes() -> tuple[Prototype, ...]:
    return tuple(Prototype(name, build(), source) for name, build, source in _PROTOTYPES)


def prototypes(names: Iterable[str] | None = None) -> list[Prototype]:
    """The shipped prototypes (all, or those named), as fresh copies safe to modify."""
    known = {p.name: p for p in _all_prototypes()}
    wanted = list(known) if names is None else list(names)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise InvalidInput(f"unknown prototype(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [Prototype(n, known[n].structure.copy(), known[n].source) for n in wanted]


# ---------------------------------------------------------------- reference phases (Li-Fe-O)

@dataclass(frozen=True)
class ReferencePhase:
    """A known phase used to build the convex hull (elements and stable compounds).

    ``relax_cell`` is False for molecules in a box, whose cell is not a physical variable.
    """

    name: str
    structure: Structure
    source: str
    relax_cell: bool = True

    @property
    def formula(self) -> str:
        return self.structure.composition.reduced_formula


def _o2_molecule(box: float = 10.0, bond: float = 1.21) -> Structure:
    # 10 A box: periodic images are beyond CHGNet's 5 A graph cut-off
    centre = box / 2
    return Structure(Lattice.cubic(box), ["O", "O"],
                     [[centre, centre, centre - bond / 2], [centre, centre, centre + bond / 2]],
                     coords_are_cartesian=True)


def _lithium_ferrite() -> Structure:
    """LiFe5O8: Li and Fe ordered 1:3 on the spinel 16d sites as in the known P4_332 phase
    (Braun, Nature 170, 1123, 1952). Of the orderings of the 56-atom cell ranked by Ewald
    energy, the first with space group 212 is taken (point charges alone rank an R-3m
    ordering lower, so the space group is imposed, not discovered)."""
    from pymatgen.transformations.standard_transformations import (
        OrderDisorderedStructureTransformation,
    )

    disordered = Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(8.33), ["Fe3+", {"Li+": 0.25, "Fe3+": 0.75}, "O2-"],
        [[0, 0, 0], [0.625, 0.625, 0.625], [0.3820, 0.3820, 0.3820]])
    ranked = OrderDisorderedStructureTransformation(algo=0).apply_transformation(
        disordered, return_ranked_list=50)
    for option in ranked:
        if option["structure"].get_space_group_info(symprec=0.1)[1] == 212:
            return option["structure"].remove_oxidation_states()
    raise RuntimeError("no P4_332 ordering of LiFe5O8 found")  # a bug, not bad input


@lru_cache(maxsize=1)
def _li_fe_o_phases() -> tuple[ReferencePhase, ...]:
    def plain(s: Structure) -> Structure:
        return s.remove_oxidation_states()

    return (
        ReferencePhase("Li (bcc)", _build("Im-3m", Lattice.cubic(3.51), ["Li"], [[0, 0, 0]]),
                       "bcc Li, a = 3.51 A at room temperature (Wyckoff 1963)"),
        ReferencePhase("Fe (bcc)", _build("Im-3m", Lattice.cubic(2.8665), ["Fe"], [[0, 0, 0]]),
                       "alpha-Fe, a = 2.8665 A (Wyckoff 1963)"),
        ReferencePhase("O2 (molecule)", _o2_molecule(),
                       "O2 molecule, d = 1.21 A, in a 10 A box: the documented O reference "
                       "(MP's elemental O is also O2 molecules); positions relaxed only",
                       relax_cell=False),
        ReferencePhase("Li2O", plain(_build("Fm-3m", Lattice.cubic(4.61), ["Li", "O"],
                                            [[0.25, 0.25, 0.25], [0, 0, 0]])),
                       "antifluorite Li2O, a = 4.61 A (Farley et al., J. Phys.: Condens. Matter 3, 4761, 1991)"),
        ReferencePhase("FeO", _build("Fm-3m", Lattice.cubic(4.332), ["Fe", "O"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]]),
                       "wustite, rock salt, a = 4.332 A (stoichiometric limit; McCammon & Liu 1984)"),
        ReferencePhase("Fe2O3", _build("R-3c", Lattice.hexagonal(5.038, 13.772), ["Fe", "O"],
                                       [[0, 0, 0.3553], [0.3059, 0, 0.25]]),
                       "hematite, R-3c, a = 5.038, c = 13.772 A (Blake et al., Am. Mineral. 51, 123, 1966)"),
        ReferencePhase("Fe3O4", _build("Fd-3m", Lattice.cubic(8.3941), ["Fe", "Fe", "O"],
                                       [[0, 0, 0], [0.625, 0.625, 0.625], [0.3799, 0.3799, 0.3799]]),
                       "magnetite, Fd-3m, a = 8.3941 A, u = 0.2549 origin 2 (Fleet, Acta Cryst. B37, 917, 1981)"),
        ReferencePhase("LiFeO2", plain(_ordered_rocksalt()),
                       "gamma-LiFeO2, I4_1/amd (Anderson & Schieber 1964); ideal O height"),
        ReferencePhase("LiFe5O8", _lithium_ferrite(),
                       "lithium ferrite, ordered spinel P4_332, a = 8.33 A, u(O) = 0.257 origin 2 "
                       "(Braun 1952); the P4_332 ordering of lowest Ewald energy"),
    )


_SYSTEMS: dict[frozenset[str], Callable[[], tuple[ReferencePhase, ...]]] = {
    frozenset({"Li", "Fe", "O"}): _li_fe_o_phases,
}


#: CHGNet 0.3.0 embeds elements 1..94 (H..Pu): beyond that it has no parameters at all
CHGNET_MAX_Z = 94
MAX_SYSTEM_ELEMENTS = 4  # binary, ternary, quaternary campaigns


def parse_system(system: str | Iterable[str], max_elements: int | None = None) -> list[str]:
    """``"Li-Fe-O"`` (or an iterable of symbols) -> sorted element symbols, validated:
    two or more distinct elements (at most ``max_elements``), each one CHGNet covers."""
    from pymatgen.core import Element

    symbols = system.split("-") if isinstance(system, str) else list(system)
    symbols = [s.strip() for s in symbols if s.strip()]
    if len(symbols) < 2 or len(set(symbols)) != len(symbols):
        raise InvalidInput(f"chemical system {system!r}: need two or more distinct elements, e.g. Li-Fe-O")
    if max_elements is not None and len(symbols) > max_elements:
        raise InvalidInput(f"chemical system {system!r}: at most {max_elements} elements "
                           "(binary, ternary or quaternary)")
    for s in symbols:
        if not Element.is_valid_symbol(s):
            raise InvalidInput(f"chemical system {system!r}: {s!r} is not an element")
        if Element(s).Z > CHGNET_MAX_Z:
            raise InvalidInput(f"chemical system {system!r}: {s} (Z = {Element(s).Z}) is not "
                               f"covered by CHGNet, which knows H to Pu (Z <= {CHGNET_MAX_Z})")
    return sorted(symbols)


def curated_systems() -> list[str]:
    """Systems whose reference phases are hand-curated with literature sources."""
    return ["-".join(sorted(key)) for key in _SYSTEMS]


def reference_phases(system: str | Iterable[str] = "Li-Fe-O",
                     names: Iterable[str] | None = None) -> list[ReferencePhase]:
    """Curated known phases of ``system`` (or of a sub-system such as Li-O), optionally only
    ``names``.

    Curated (literature structures and sources): Li-Fe-O; a sub-system returns the phases
    whose elements it contains. Any other system gets reference phases built from the
    prototype library when its campaign starts (:mod:`mofgen.crystal.references`).
    """
    elements = set(parse_system(system))
    builder = next((b for key, b in _SYSTEMS.items() if elements <= key), None)
    if builder is None:
        raise InvalidInput(f"no curated reference phases for {'-'.join(sorted(elements))} "
                           f"(curated: {', '.join(curated_systems())} and their sub-systems)")
    phases = [ReferencePhase(p.name, p.structure.copy(), p.source, p.relax_cell)
              for p in builder() if {e.symbol for e in p.structure.composition} <= elements]
    if names is not None:
        wanted = list(names)
        known = {p.name for p in phases}
        missing = [n for n in wanted if n not in known]
        if missing:
            raise InvalidInput(f"unknown reference phase(s) {', '.join(missing)}; known: {', '.join(sorted(known))}")
        phases = [p for p in phases if p.name in wanted]
    return phases
