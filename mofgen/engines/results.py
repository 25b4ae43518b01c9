"""Typed results of the simulation engines.

Every engine returns one of these models instead of raising, so a workflow can store the
outcome as the stage sub-document whatever happened:

* ``ok`` — the numbers are valid;
* ``rejected`` — the tool ran, the structure failed a scientific criterion; ``reason``
  names the criterion and the number (strain, pore diameter) is in its field;
* ``failed`` — the tool crashed, timed out or wrote output we cannot parse; ``reason`` is
  the tool's own message and ``workdir`` keeps the inputs for inspection.

Units are in the field names (``_A`` Ångström, ``_eV``, ``_mol_per_kg``, ``_K``, ...).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure


class Status(str, Enum):
    ok = "ok"
    rejected = "rejected"
    failed = "failed"


class EngineResult(BaseModel):
    """Fields every engine reports."""

    status: Status = Status.ok
    reason: str | None = Field(None, description="why rejected/failed, one line + tool message")
    tool: str = Field(..., description="external code that did the work")
    software_version: str = Field("", description="version of the external code")
    workdir: str | None = Field(None, description="directory holding inputs and outputs")
    wall_time_s: float = Field(0.0, description="wall-clock seconds spent in the engine")

    @property
    def ok(self) -> bool:
        return self.status == Status.ok


class StabilityResult(EngineResult):
    """UFF4MOF NPT molecular dynamics and the lattice strain it produces."""

    tool: str = "lammps"
    strain: float | None = Field(
        None, description="max |eigenvalue| of 0.5(e+e^T), e = R0^-1 R1 - I (dimensionless)"
    )
    stable: bool = Field(False, description="strain below the stability threshold")
    stable_strain: float = Field(0.10, description="threshold for 'stable' (MOFA: 10 %)")
    reject_strain: float = Field(0.25, description="strain at or above which we reject")
    steps: int = 0
    timestep_fs: float = 0.5
    temperature_K: float = 300.0
    pressure_atm: float = 1.0
    supercell: tuple[int, int, int] = (1, 1, 1)
    n_atoms_md: int = Field(0, description="atoms in the MD supercell")
    volume_change: float | None = Field(None, description="V1/V0 - 1 of the cell")
    initial_cell_A: list[list[float]] | None = Field(None, description="unit cell rows (LAMMPS)")
    final_cell_A: list[list[float]] | None = Field(None, description="unit cell rows after MD")
    final_structure: dict[str, Any] | None = Field(
        None, description="pymatgen dict of the final MD supercell configuration"
    )
    final_cell_structure: dict[str, Any] | None = Field(
        None, description="input unit cell strained affinely onto the final cell"
    )
    trajectory_file: str | None = Field(None, description="thinned LAMMPS dump of the supercell")
    frames_kept: int = 0
    ff_types: dict[str, int] = Field(default_factory=dict, description="UFF4MOF type -> count")
    fallback_types: dict[str, str] = Field(
        default_factory=dict, description="types lammps-interface lacked -> UFF type used"
    )
    dropped_terms: dict[str, int] = Field(
        default_factory=dict, description="degenerate bonded terms removed (repeated atom)"
    )
    timings_s: dict[str, float] = Field(default_factory=dict, description="typing, md")
    protocol: dict[str, Any] = Field(
        default_factory=dict, description="preset name and every MD/strain setting used"
    )
    strain_last_frame: float | None = Field(
        None, description="strain of the last MD frame alone (= strain unless averaged)"
    )
    strain_samples: int = Field(0, description="cell samples averaged into strain (0: last frame)")
    strain_sample_std: float | None = Field(
        None, description="std of the per-sample strains in the averaging window"
    )


class RelaxResult(EngineResult):
    """Cell optimisation with an ML potential (CHGNet) or DFT (CP2K)."""

    fidelity: str = Field("mlip", description="mlip (CHGNet) or dft (CP2K)")
    method: str | None = Field(
        None, description="potential and weights (chgnet-0.3.0): energies compare within one"
    )
    energy_eV: float | None = None
    energy_per_atom_eV: float | None = None
    max_force_eV_per_A: float | None = None
    n_steps: int = 0
    converged: bool = False
    initial_volume_A3: float | None = None
    final_volume_A3: float | None = None
    volume_change: float | None = Field(None, description="V1/V0 - 1")
    final_structure: dict[str, Any] | None = None

    @property
    def relaxed_structure(self) -> Structure | None:
        """``final_structure`` as a pymatgen Structure (None when the relaxation failed)."""
        return None if self.final_structure is None else Structure.from_dict(self.final_structure)


class ChargeResult(EngineResult):
    """Per-site partial charges (units of e) and the CIF that carries them to GCMC."""

    method: str = "qeq/point"
    charges: list[float] = Field(default_factory=list, description="per site, same order, e")
    total_charge_e: float | None = None
    max_abs_charge_e: float | None = None
    cif_file: str | None = Field(None, description="P1 CIF with _atom_site_charge")
    structure: dict[str, Any] | None = Field(
        None, description="pymatgen dict with site property 'charge'"
    )


class PoreResult(EngineResult):
    """Zeo++ pore geometry; rejects frameworks the probe (CO2) cannot enter."""

    tool: str = "zeo++"
    probe_radius_A: float = 1.65
    lcd_A: float | None = Field(None, description="largest included sphere diameter")
    pld_A: float | None = Field(None, description="largest free (pore-limiting) sphere diameter")
    lcd_free_path_A: float | None = Field(None, description="largest included sphere on free path")
    asa_A2: float | None = Field(None, description="probe-accessible surface area per cell")
    asa_m2_per_g: float | None = None
    void_fraction: float | None = Field(
        None, description="accessible volume fraction: Zeo++ -vol AV_Volume_fraction, the part "
                          "of the cell the probe centre reaches through channels")
    pore_volume_A3: float | None = Field(
        None, description="accessible volume per cell (Zeo++ -vol AV_A^3), Å^3")
    pore_volume_cm3_per_g: float | None = Field(
        None, description="accessible volume per framework mass (Zeo++ -vol AV_cm^3/g)")
    density_g_per_cm3: float | None = None
    accessible: bool = Field(False, description="probe percolates through the framework")


class ForceFieldInfo(BaseModel):
    """The GCMC force field a run used, as its RASPA2 definition files set it."""

    model_config = ConfigDict(extra="forbid")

    framework: str = Field(..., description="framework Lennard-Jones parameters")
    adsorbate: str = Field(..., description="adsorbate model")
    mixing_rule: str = Field(..., description="Lennard-Jones cross terms")
    potential: str = Field(..., description="truncated or shifted at the cutoff")
    tail_corrections: bool
    electrostatics: str = Field(..., description="Ewald with framework charges, or none")
    source: str = Field(..., description="where the definition files come from")


class AdsorptionResult(EngineResult):
    """RASPA2 GCMC uptake of one gas at one state point."""

    tool: str = "raspa2"
    adsorbate: str = "CO2"
    temperature_K: float = 300.0
    pressure_bar: float = 0.1
    uptake_mol_per_kg: float | None = Field(None, description="absolute loading")
    uptake_error_mol_per_kg: float | None = Field(
        None, description="RASPA2's '+/-': 95 % confidence half-width from 5 block averages "
                          "(t(0.975, 4) x block std / sqrt(5)), mol/kg")
    uptake_stderr_mol_per_kg: float | None = Field(
        None, description="block standard error of the uptake (the half-width / 2.776), mol/kg")
    seed: int | None = Field(None, description="RASPA2 random number seed of the run")
    uptake_mg_per_g: float | None = None
    uptake_molecules_per_cell: float | None = None
    heat_of_adsorption_kJ_per_mol: float | None = Field(
        None, description="isosteric heat from fluctuations (positive = exothermic)"
    )
    heat_of_adsorption_error_kJ_per_mol: float | None = None
    cycles: int = 0
    init_cycles: int = 0
    unit_cells: tuple[int, int, int] = (1, 1, 1)
    cutoff_A: float = 12.8
    charges_used: bool = True
    framework_density_kg_per_m3: float | None = None
    force_field: ForceFieldInfo | None = Field(None, description="None on older records")
