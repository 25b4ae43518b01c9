"""Adsorb stage: RASPA2 grand-canonical Monte Carlo uptake (CO2 by default).

Protocol after MOFA (section III-B) with MOFA's own RASPA2 force-field files (shipped in
``mofgen/data/raspa``): rigid framework with UFF Lennard-Jones parameters, Lorentz–
Berthelot mixing, truncated at 12.8 Å without tail corrections; TraPPE CO2 (and N2);
framework charges from the CIF with Ewald summation; 300 K and 0.1 bar by default. The
simulation box holds enough unit cells that every perpendicular width is at least twice
the cutoff. RASPA2 runs as a child process (``simulate``) so a crash or hang cannot take
the worker down.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from mofgen.engines._tools import (
    EngineError,
    check_supercell,
    executable,
    package_version,
    run_tool,
    workdir_for,
    write_p1_cif,
)
from mofgen.engines.results import AdsorptionResult, ForceFieldInfo, Status

TOOL = "raspa2"
FF_FILES = ("force_field.def", "force_field_mixing_rules.def", "pseudo_atoms.def")
ADSORBATES = ("CO2", "N2")
# what the shipped definition files hold (MOFA's files, mofgen/data/raspa): UFF framework
# Lennard-Jones (Rappé et al., JACS 1992, 114, 10024), TraPPE CO2 and N2 (Potoff &
# Siepmann, AIChE J. 2001, 47, 1676); mixing rule and truncation are read from the files
FRAMEWORK_LJ = "UFF (Rappé et al. 1992)"
ADSORBATE_MODELS = {"CO2": "TraPPE rigid 3-site (Potoff & Siepmann 2001)",
                    "N2": "TraPPE rigid 3-site (Potoff & Siepmann 2001)"}
# RASPA2 splits production into 5 blocks and prints "+/-" as the 95 % confidence half-width
# of their mean: t(0.975, 4 dof) · s_blocks / √5. Dividing by t gives the standard error.
T95_BLOCKS = 2.7764451051977987  # Student t quantile, 0.975, 4 degrees of freedom
MAX_SEED = 2**31 - 1


@dataclass
class GcmcAdsorption:
    """All settings of one GCMC state point."""

    adsorbate: str = "CO2"
    temperature_K: float = 300.0
    pressure_bar: float = 0.1
    cycles: int = 2000
    init_cycles: int | None = None  # default: same as cycles (as MOFA)
    cutoff_A: float = 12.8
    use_charges: bool = True
    print_every: int = 1000
    timeout_s: float = 4 * 3600.0
    max_atoms: int | None = 10_000  # framework atoms of all unit cells simulated
    seed: int | None = 4928459  # RASPA2 RandomSeed (reproducible); None: RASPA2's clock

    def replica_seed(self, index: int) -> int:
        """RandomSeed of replica ``index``: ``seed + index`` in [1, 2³¹ − 1] (RASPA2's
        64-bit Mersenne twister scrambles neighbouring seeds when it initialises)."""
        return ((self.seed or 1) - 1 + index) % MAX_SEED + 1

    def run(self, structure: Structure, workdir: Path | str | None = None,
            charges: list[float] | None = None) -> AdsorptionResult:
        return run_gcmc(structure, self, workdir, charges)

    def check_size(self, structure: Structure) -> tuple[int, int, int]:
        """The unit cells RASPA will simulate; too many framework atoms raise
        :class:`~mofgen.engines._tools.TooManyAtoms`."""
        return check_supercell(TOOL, structure, self.cutoff_A, self.max_atoms,
                               "unit cells of framework")


def force_field_info(adsorbate: str = "CO2", charges: bool = True) -> ForceFieldInfo:
    """The force field of a GCMC run with the shipped files: mixing rule, truncation and
    tail corrections as ``force_field_mixing_rules.def`` sets them."""
    with resources.as_file(resources.files("mofgen") / "data" / "raspa"
                           / "force_field_mixing_rules.def") as path:
        lines = [line.strip() for line in Path(path).read_text().splitlines()]

    def after(comment: str) -> str:
        return lines[lines.index(comment) + 1]

    return ForceFieldInfo(
        framework=FRAMEWORK_LJ,
        adsorbate=ADSORBATE_MODELS.get(adsorbate, f"{adsorbate}.def"),
        mixing_rule=after("# general mixing rule for Lennard-Jones"),
        potential=after("# general rule for shifted vs truncated"),
        tail_corrections=after("# general rule tailcorrections").lower() == "yes",
        electrostatics="Ewald (framework charges from the CIF)" if charges else "none",
        source="mofgen/data/raspa (MOFA's RASPA2 files)",
    )


def run_gcmc(
    structure: Structure,
    calc: GcmcAdsorption | None = None,
    workdir: Path | str | None = None,
    charges: list[float] | None = None,
) -> AdsorptionResult:
    """Uptake of ``calc.adsorbate`` in ``structure``.

    Charges come from ``charges`` or the structure's ``charge`` site property; with
    ``use_charges`` and neither present the result is ``failed`` (GCMC of CO2 without
    framework charges would silently underestimate uptake).
    """
    m = calc or GcmcAdsorption()
    cells = m.check_size(structure)
    wd = workdir_for(workdir, "gcmc")
    t0 = time.perf_counter()
    init = m.cycles if m.init_cycles is None else m.init_cycles
    result = AdsorptionResult(
        workdir=str(wd), adsorbate=m.adsorbate, temperature_K=m.temperature_K, seed=m.seed,
        pressure_bar=m.pressure_bar, cycles=m.cycles, init_cycles=init, unit_cells=cells,
        cutoff_A=m.cutoff_A, charges_used=m.use_charges,
        software_version=f"RASPA2 {package_version('RASPA2')}",
        force_field=force_field_info(m.adsorbate, m.use_charges),
    )
    if charges is None and "charge" in structure.site_properties:
        charges = structure.site_properties["charge"]
    try:
        if m.adsorbate not in ADSORBATES:
            raise EngineError(TOOL, f"no definition for adsorbate {m.adsorbate!r}; "
                                    f"known: {', '.join(ADSORBATES)}", wd)
        if m.seed is not None and not (isinstance(m.seed, int) and 1 <= m.seed <= MAX_SEED):
            raise EngineError(TOOL, f"RASPA2 seed {m.seed!r} must be an integer in "
                                    f"[1, {MAX_SEED}]", wd)
        if m.use_charges and charges is None:
            raise EngineError(TOOL, "framework charges requested but none given "
                                    "(run the charge stage first)", wd)
        _write_inputs(structure, m, wd, cells, init, charges if m.use_charges else None)
        simulate = executable("simulate")
        if simulate is None:
            raise EngineError(TOOL, "RASPA2 'simulate' not found (pip install RASPA2)", wd)
        run_tool(TOOL, [simulate, "simulation.input"], wd, m.timeout_s, "raspa.log",
                 error_markers=("ERROR", "Error", "error"))
        result = result.model_copy(update=parse_output(wd, m.adsorbate))
    except EngineError as exc:
        result.status, result.reason = Status.failed, exc.message
    result.wall_time_s = time.perf_counter() - t0
    return result


def _write_inputs(structure: Structure, m: GcmcAdsorption, wd: Path,
                  cells: tuple[int, int, int], init: int, charges: list[float] | None) -> None:
    data = resources.files("mofgen") / "data" / "raspa"
    for name in (*FF_FILES, f"{m.adsorbate}.def"):
        with resources.as_file(data / name) as src:
            shutil.copy(src, wd / name)
    labels = [f"{s.specie.symbol}_" if len(s.specie.symbol) == 1 else s.specie.symbol + "_"
              for s in structure]
    write_p1_cif(structure, wd / "framework.cif", charges=charges, labels=labels)
    charge_lines = (
        "UseChargesFromCIFFile         yes\nChargeMethod                  Ewald\n"
        "EwaldPrecision                1e-6\n"
        if charges is not None else "ChargeMethod                  None\n"
    )
    seed = f"RandomSeed                    {m.seed}\n" if m.seed is not None else ""
    (wd / "simulation.input").write_text(f"""SimulationType                MonteCarlo
{seed}NumberOfCycles                {m.cycles}
NumberOfInitializationCycles  {init}
PrintEvery                    {m.print_every}
PrintForcefieldToOutput       no

CutOffVDW                     {m.cutoff_A}
CutOffCoulomb                 {m.cutoff_A}
Forcefield                    Local
{charge_lines}
Framework 0
FrameworkName framework
RemoveAtomNumberCodeFromLabel yes
UnitCells {cells[0]} {cells[1]} {cells[2]}
ExternalTemperature {m.temperature_K}
ExternalPressure {m.pressure_bar * 1e5}

Component 0 MoleculeName             {m.adsorbate}
            MoleculeDefinition       Local
            TranslationProbability   1.0
            RotationProbability      1.0
            ReinsertionProbability   1.0
            SwapProbability          2.0
            CreateNumberOfMolecules  0
""")


_NUM = r"([-+]?\d+\.?\d*(?:[eE][-+]?\d+)?)"


def parse_output(wd: Path, adsorbate: str) -> dict[str, Any]:
    """Numbers from RASPA2's ``Output/System_0/output_*.data``."""
    files = sorted((wd / "Output" / "System_0").glob("output_*.data"))
    if not files:
        raise EngineError(TOOL, "no Output/System_0/output_*.data written", wd)
    text = files[-1].read_text(errors="replace")
    if "Simulation finished" not in text:
        raise EngineError(TOOL, "output incomplete (no 'Simulation finished')", wd)

    def grab(pattern: str) -> tuple[float, float]:
        match = re.search(pattern + rf"\s+{_NUM}\s+\+/-\s+{_NUM}", text)
        if not match:
            raise EngineError(TOOL, f"cannot find {pattern!r} in RASPA output", wd)
        return float(match.group(1)), float(match.group(2))

    block = r"Average loading absolute \[{}\]"
    mol_kg, mol_kg_err = grab(block.format(r"mol/kg framework"))
    mg_g, _ = grab(block.format(r"milligram/gram framework"))
    per_cell, _ = grab(r"Average loading absolute \[molecules/unit cell\]")
    out: dict[str, Any] = {
        "uptake_mol_per_kg": mol_kg,
        "uptake_error_mol_per_kg": mol_kg_err,
        "uptake_stderr_mol_per_kg": mol_kg_err / T95_BLOCKS,
        "uptake_mg_per_g": mg_g,
        "uptake_molecules_per_cell": per_cell,
    }
    seed = re.search(r"Random number seed:\s+(\d+)", text)
    if seed:
        out["seed"] = int(seed.group(1))
    density = re.search(rf"Framework Density:\s+{_NUM}\s+\[kg/m\^3\]", text)
    if density:
        out["framework_density_kg_per_m3"] = float(density.group(1))
    heat = re.search(rf"Enthalpy of adsorption:.*?Average\s+{_NUM}\s+\+/-\s+{_NUM}\s+\[K\]"
                     rf"\s+{_NUM}\s+\+/-\s+{_NUM}\s+\[KJ/MOL\]", text, re.S)
    if heat:  # RASPA reports the (negative) adsorption enthalpy; we store -ΔH
        out["heat_of_adsorption_kJ_per_mol"] = -float(heat.group(3))
        out["heat_of_adsorption_error_kJ_per_mol"] = float(heat.group(4))
    return out
