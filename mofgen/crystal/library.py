"""The template library: distinct crystal prototypes for element substitution.

Three sources, all offline:

* the **AFLOW Library of Crystallographic Prototypes** (Mehl et al., Comput. Mater. Sci.
  136, S1, 2017; Hicks et al., ibid. 161, S1, 2019) as shipped inside pymatgen
  (``pymatgen/analysis/prototypes/aflow_prototypes.json.gz``, 288 structures with their
  exemplar compound, Strukturbericht symbol and literature reference);
* **ASE**'s bulk builders (``ase.build.bulk``: rock salt, CsCl, zinc blende, wurtzite,
  fluorite, diamond, the close-packed metals) with ASE's reference lattice constants;
* the eleven hand-built ionic prototypes of :mod:`mofgen.crystal.prototypes`
  (spinel, olivine, layered LiCoO2, ... with literature sources).

A template keeps the elements of its exemplar compound (AFLOW's Ga for alpha-Ga, ZnS for
zinc blende), so a substitution can rescale volumes by how the new bonds compare with the
exemplar's real ones. Two entries are the same prototype when they have the same anonymous
formula and number of sites *and* pymatgen's ``StructureMatcher`` (default tolerances) maps
one onto the other with any relabelling of elements (``fit_anonymous``); only the first is
kept (so a slightly distorted variant such as TlF's B24 is rock salt here),
so :func:`templates` lists distinct prototypes. pyxtal ships no prototype library (its
bundled CIFs are test fixtures, many molecular), so it serves the random generator instead
(:mod:`mofgen.crystal.random_structures`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from pymatgen.core import Structure

from mofgen.errors import InvalidInput

MAX_SITES = 32  # atoms in the primitive cell: bigger templates cost too much to screen
SYMPREC = 0.01  # A: library structures are ideal, so a tight tolerance


@dataclass(frozen=True)
class Template:
    """A prototype structure (exemplar elements, primitive cell) and where it comes from."""

    name: str
    structure: Structure
    source: str
    origin: str  # "aflow", "ase" or "mofgen"

    @property
    def formula(self) -> str:
        return self.structure.composition.reduced_formula

    @property
    def elements(self) -> tuple[str, ...]:
        """The exemplar's elements, the slots a substitution fills (sorted)."""
        return tuple(sorted(el.symbol for el in self.structure.composition.elements))

    @property
    def bucket(self) -> tuple[str, int]:
        """Anonymous formula and number of sites: where duplicates are looked for."""
        return self.structure.composition.anonymized_formula, len(self.structure)


def structure_label(structure: Structure) -> str:
    """``anonymous-formula_space-group``, e.g. ``AB_225``."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    number = SpacegroupAnalyzer(structure, symprec=SYMPREC).get_space_group_number()
    return f"{structure.composition.anonymized_formula}_{number}"


# ------------------------------------------------------------------------------ sources
def _aflow() -> list[Template]:
    import gzip
    import json
    from importlib.util import find_spec

    # the file, not the module: importing pymatgen.analysis.prototypes builds StructureNL
    # objects and parses every BibTeX reference (~10 s); only structures and tags are needed
    spec = find_spec("pymatgen.analysis.prototypes")
    folder = list(spec.submodule_search_locations)[0] if spec else ""
    path = os.path.join(folder, "aflow_prototypes.json.gz")
    with gzip.open(path, "rt") as handle:
        entries = json.load(handle)
    out = []
    for entry in entries:
        tags, snl = entry["tags"], entry["snl"]
        structure = Structure.from_dict({"lattice": snl["lattice"], "sites": snl["sites"],
                                         "charge": snl.get("charge")})
        if not structure.is_ordered or len(structure) > MAX_SITES:
            continue
        described = ", ".join(x for x in (tags.get("strukturbericht"), tags.get("mineral"))
                              if x)
        formula = structure.composition.reduced_formula
        out.append(Template(
            f"{tags['aflow']}:{formula}", structure,
            f"AFLOW prototype {tags['aflow']} ({tags['pearson']}"
            + (f"; {described}" if described else "") + f"), exemplar {formula} "
            "(Mehl et al. 2017; Hicks et al. 2019)", "aflow"))
    return out


_ASE_BULK: tuple[tuple[str, str, str], ...] = (
    # (name, formula for ase.build.bulk, crystal structure); lattice constants are ASE's
    # reference values for the elements, the compounds' are given in _ase() below
    ("fcc", "Cu", "fcc"), ("bcc", "Fe", "bcc"), ("hcp", "Mg", "hcp"),
    ("diamond", "Si", "diamond"), ("sc", "Po", "sc"),
    ("zincblende", "ZnS", "zincblende"), ("rocksalt-ase", "NaCl", "rocksalt"),
    ("cesiumchloride", "CsCl", "cesiumchloride"), ("fluorite-ase", "CaF2", "fluorite"),
    ("wurtzite-ase", "ZnO", "wurtzite"),
)
_ASE_A = {"ZnS": 5.41, "NaCl": 5.64, "CsCl": 4.12, "CaF2": 5.46, "ZnO": 3.25}  # A (Wyckoff 1963)


def _ase() -> list[Template]:
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    out = []
    for name, formula, kind in _ASE_BULK:
        kwargs = {"a": _ASE_A[formula]} if formula in _ASE_A else {}
        if kind == "wurtzite":
            kwargs["c"] = 5.21
        atoms = bulk(formula, kind, **kwargs)
        structure = AseAtomsAdaptor.get_structure(atoms)
        out.append(Template(name, structure, f"ase.build.bulk({formula!r}, {kind!r}"
                            + (f", a={kwargs['a']}" if "a" in kwargs else "") + ")", "ase"))
    return out


def _hand_built() -> list[Template]:
    from mofgen.crystal.prototypes import prototypes

    return [Template(p.name, p.structure.copy().remove_oxidation_states(), p.source, "mofgen")
            for p in prototypes()]


_SOURCES: tuple[Callable[[], list[Template]], ...] = (_hand_built, _ase, _aflow)


def _distinct(candidates: Iterable[Template]) -> list[Template]:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, primitive_cell=True,
                               scale=True, attempt_supercell=False)
    kept: dict[str, list[Template]] = {}
    names: set[str] = set()
    for t in candidates:
        if t.name in names:
            continue
        bucket = kept.setdefault(t.bucket, [])
        if any(matcher.fit_anonymous(t.structure, other.structure) for other in bucket):
            continue
        bucket.append(t)
        names.add(t.name)
    return [t for bucket in kept.values() for t in bucket]


@lru_cache(maxsize=1)
def _library() -> tuple[Template, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = [t for source in _SOURCES for t in source()]
        return tuple(_distinct(found))


def templates(names: Iterable[str] | None = None, min_elements: int = 1,
              max_elements: int | None = None) -> list[Template]:
    """Distinct templates (all, or those ``names`` names), filtered by element count."""
    library = _library()
    if names is not None:
        known = {t.name: t for t in library}
        wanted = list(names)
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise InvalidInput(f"unknown template(s) {', '.join(unknown[:5])} "
                               f"({len(known)} known; `mofgen.crystal.library.templates()`)")
        library = tuple(known[n] for n in wanted)
    return [t for t in library if min_elements <= len(t.elements)
            and (max_elements is None or len(t.elements) <= max_elements)]
