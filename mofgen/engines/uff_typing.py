"""UFF4MOF atom typing and LAMMPS data files through lammps-interface, with a UFF fallback.

lammps-interface 0.2.2 types organics by hybridisation (``S_3``, ``P_3``...) but its
UFF4MOF table only knows UFF's charge-suffixed names (``S_3+2``, ``P_3+3``...), so some
structures the generator emits die with ``KeyError: 'S_3'``. We install a parameter table
that resolves such names to the matching UFF type and records every substitution, so no
structure is dropped silently. lammps-interface reads ``sys.argv``, prints, and may call
``sys.exit``; it therefore runs in a child process (``python -m mofgen.engines.uff_typing``).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pymatgen.core import Structure

from mofgen.engines._tools import (
    EngineError,
    min_images,
    package_version,
    run_tool,
    write_p1_cif,
)

TOOL = "lammps-interface"

# Hybridisation names lammps-interface produces -> UFF names with an oxidation suffix.
# Chosen as the common valence of each element in organic linkers.
FALLBACK_ALIASES = {
    "S_3": "S_3+2",  # thioether / thiol
    "S_2": "S_2",
    "P_3": "P_3+3",  # phosphine
    "Se_3": "Se3+2",
    "Te_3": "Te3+2",
    "As_3": "As3+3",
    "Si_3": "Si3",
    "Ge_3": "Ge3",
    "B_R": "B_2",
    "S_1": "S_2",
}
_HYB_NAME = re.compile(r"^([A-Z][a-z]?)_?([123R])$")


@dataclass
class TypedSystem:
    """A structure typed with UFF4MOF and written as LAMMPS input files."""

    workdir: Path
    data_file: Path
    header: str  # LAMMPS style lines + read_data from lammps-interface
    supercell: tuple[int, int, int]
    n_atoms: int
    type_elements: list[str]  # element of each LAMMPS atom type, in type order
    ff_types: dict[str, int] = field(default_factory=dict)
    fallback_types: dict[str, str] = field(default_factory=dict)
    dropped_terms: dict[str, int] = field(default_factory=dict)
    version: str = ""


def type_structure(
    structure: Structure,
    workdir: Path,
    cutoff_A: float = 12.5,
    force_field: str = "UFF4MOF",
    timeout_s: float = 600.0,
    supercell: tuple[int, int, int] | None = None,
) -> TypedSystem:
    """Type ``structure`` and write ``data.mof``/``in.mof`` in ``workdir``.

    The supercell is ``supercell`` when given (MOFA: always 2x2x2), else the smallest whose
    perpendicular widths hold twice the cutoff.
    Raises :class:`EngineError` with lammps-interface's own message on failure.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    cif = write_p1_cif(structure, workdir / "structure.cif")
    supercell = tuple(supercell) if supercell else min_images(structure.lattice, cutoff_A)
    cmd = [
        sys.executable, "-m", "mofgen.engines.uff_typing", cif.name,
        "-ff", force_field, "--cutoff", str(cutoff_A),
        "--replication", "x".join(map(str, supercell)), "--npt",
    ]
    stdout = run_tool(TOOL, cmd, workdir, timeout_s, "typing.log",
                      error_markers=("ERROR", "Error", "KeyError"))
    data_file, in_file = workdir / "data.mof", workdir / "in.mof"
    if not data_file.exists() or not in_file.exists():
        raise EngineError(TOOL, "no LAMMPS files written: " + stdout.strip()[-300:], workdir)
    dropped = drop_degenerate_terms(data_file)
    meta = json.loads((workdir / "typing.json").read_text())
    header = in_file.read_text().split("#### Atom Groupings")[0]
    header = "\n".join(ln for ln in header.splitlines() if not ln.startswith("log "))
    return TypedSystem(
        workdir=workdir,
        data_file=data_file,
        header=header,
        supercell=supercell,
        n_atoms=len(structure) * supercell[0] * supercell[1] * supercell[2],
        type_elements=meta["type_elements"],
        ff_types=meta["ff_types"],
        fallback_types=meta["fallback_types"],
        dropped_terms=dropped,
        version=package_version("lammps-interface"),
    )


_TERM_SECTIONS = {"Bonds": "bonds", "Angles": "angles", "Dihedrals": "dihedrals",
                  "Impropers": "impropers"}


def drop_degenerate_terms(data_file: Path) -> dict[str, int]:
    """Remove bonded terms that name one atom twice, and renumber the rest.

    lammps-interface writes such terms for three-membered rings and for rings closing
    through a small periodic cell (e.g. a dihedral i-j-k-i); LAMMPS refuses the whole file
    ("Invalid atom ID in Dihedrals section"). A term with a repeated atom has no geometry
    to restrain, so dropping it changes no physics; the counts are reported.
    """
    lines = data_file.read_text().splitlines()
    dropped: dict[str, int] = {}
    out: list[str] = []
    section = None
    kept = 0
    for line in lines:
        stripped = line.strip()
        if stripped in _TERM_SECTIONS:
            section, kept = stripped, 0
            out.append(line)
            continue
        if section and stripped and stripped.split()[0].isalpha():
            section = None  # the next section header
        if section and stripped:
            fields = stripped.split()
            atoms = fields[2:]
            if len(set(atoms)) < len(atoms):
                key = _TERM_SECTIONS[section]
                dropped[key] = dropped.get(key, 0) + 1
                continue
            kept += 1
            out.append(" ".join([str(kept), *fields[1:]]))
            continue
        out.append(line)
    if dropped:
        for i, line in enumerate(out):
            fields = line.split()
            if len(fields) == 2 and fields[1] in dropped and fields[0].isdigit():
                out[i] = f"{int(fields[0]) - dropped[fields[1]]} {fields[1]}"
        data_file.write_text("\n".join(out) + "\n")
    return dropped


class _FallbackTable(dict):
    """UFF4MOF parameter table that resolves hybridisation names to UFF types."""

    def __init__(self, data: dict, uff: dict):
        super().__init__(data)
        self._uff = uff
        self.used: dict[str, str] = {}

    def __missing__(self, key: str):
        target = FALLBACK_ALIASES.get(key)
        if target is None:
            match = _HYB_NAME.match(key)
            if not match:  # metal names: let lammps-interface try its own "f" -> "+" rule
                raise KeyError(key)
            el, hyb = match.groups()
            prefix = el if len(el) == 2 else el + "_"
            candidates = sorted(k for k in self._uff if k.startswith(prefix + hyb))
            if not candidates:
                candidates = sorted(k for k in self._uff if k.startswith(prefix))
            if not candidates:
                raise KeyError(key)
            target = candidates[0]
        self.used[key] = target
        return super().__getitem__(target) if target in self else self._uff[target]


def _child_main(argv: list[str]) -> int:
    """Entry point of the child process: lammps-interface with the fallback table."""
    from lammps_interface import ForceFields, uff, uff4mof
    from lammps_interface.InputHandler import Options
    from lammps_interface.lammps_main import LammpsSimulation
    from lammps_interface.structure_data import from_CIF

    table = _FallbackTable(uff4mof.UFF4MOF_DATA, uff.UFF_DATA)
    ForceFields.UFF4MOF_DATA = table
    uff_table = _FallbackTable(uff.UFF_DATA, uff.UFF_DATA)
    ForceFields.UFF_DATA = uff_table

    import builtins

    builtins.input = lambda *_: "y"  # "replicate guest molecules in the supercell?" -> yes
    sys.argv = ["lammps-interface", *argv]
    options = Options()
    sim = LammpsSimulation(options)
    cell, graph = from_CIF(options.cif_file)
    sim.set_cell(cell)
    sim.set_graph(graph)
    sim.split_graph()
    sim.assign_force_fields()
    sim.compute_simulation_size()
    sim.merge_graphs()
    sim.write_lammps_files()
    name = Path(options.cif_file).stem
    Path(f"data.{name}").rename("data.mof")
    text = Path(f"in.{name}").read_text().replace(f"data.{name}", "data.mof")
    Path("in.mof").write_text(text)
    Path(f"in.{name}").unlink()

    masses = Path("data.mof").read_text().split("Masses")[1].split("Coeffs")[0]
    type_labels = [ln.split("#")[1].strip() for ln in masses.splitlines() if "#" in ln]
    ff_types = Counter(d["force_field_type"] for _, d in graph.nodes_iter2(data=True))
    elements = {d["force_field_type"]: d["element"] for _, d in graph.nodes_iter2(data=True)}
    meta = {
        "type_elements": [elements.get(t, re.sub(r"[_0-9].*", "", t)) for t in type_labels],
        "ff_types": dict(ff_types),
        "fallback_types": {**uff_table.used, **table.used},
    }
    Path("typing.json").write_text(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
