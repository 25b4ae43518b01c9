"""Typed stage records of the built-in kinds, and the field paths everything queries.

A stage writes one sub-document named after it (``validate``, ``simulate``, …). Its class
is declared by the stage in the kind's ladder (``mofgen.kinds``) and the state machine
validates every record before writing it, so a stored number always has a declared name,
type and unit. The engine results (``mofgen.engines.results``) are the records' bases: a
stage stores what its engine measured, plus what the campaign derived from it.

The dotted paths below are the one place that names stored numbers for queries: the
policy, the dashboard, export, status and the kinds' index definitions all use them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mofgen.documents import StageRecord
from mofgen.engines.results import (
    AdsorptionResult,
    ChargeResult,
    PoreResult,
    RelaxResult,
    StabilityResult,
)

# ------------------------------------------------------------------------- field paths
# MOF campaigns
STRAIN = "validate.strain"  # dimensionless, max |eigenvalue| of the Lagrangian strain
CO2_UPTAKE = "adsorb.co2_uptake"  # mol/kg at the campaign's T and P
CO2_UPTAKE_ERROR = "adsorb.co2_uptake_error"  # mol/kg, RASPA2 block average
HEAT_OF_ADSORPTION = "adsorb.heat_of_adsorption_kJ_per_mol"
LCD = "simulate.pores.lcd_A"
PLD = "simulate.pores.pld_A"
# crystal campaigns
PREDICTED_FORMATION_ENERGY = "validate.formation_energy_per_atom"  # eV/atom, screen
RELAXED_ENERGY = "simulate.energy_per_atom"  # eV/atom, CHGNet
FORMATION_ENERGY = "simulate.formation_energy_per_atom"  # eV/atom vs the references
E_ABOVE_HULL = "simulate.e_above_hull"  # eV/atom vs the campaign's hull
NEAR_HULL = "simulate.near_hull"  # E_hull within the campaign's hull threshold
RELAX_METHOD = "simulate.method"  # the energy model that relaxed it
SCREEN_METHOD = "validate.method"  # the energy model that screened it
# every kind
RELAXED_STRUCTURE = "simulate.structure"  # relaxed geometry (with site charges if computed)
CRYSTAL_KEY = "identifiers.crystal_key"  # "<formula>:<space group>:<orbits>" (crystal/dedup.py)


def finished(stage: str) -> str:
    """When a stage's record was written (the dashboard's throughput plots)."""
    return f"{stage}.finished"


def get_path(doc: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a stored document, or None."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


# ------------------------------------------------------------------------- MOF records
class MofValidateRecord(StageRecord, StabilityResult):
    """UFF4MOF NPT MD in LAMMPS (``validate``): the lattice strain decides stability.

    Kept on rejects too: structures below the retraining strain still feed retraining.
    """

    model_config = StageRecord.model_config  # strict, whatever the engine result allows


class MofSimulateRecord(StageRecord):
    """Cell optimisation, partial charges and pores (``simulate``)."""

    relax: RelaxResult | None = None
    charges: ChargeResult | None = None
    pores: PoreResult | None = None
    structure: dict[str, Any] | None = Field(
        None, description="relaxed structure with site property 'charge' (e)")


class MofAdsorbRecord(StageRecord, AdsorptionResult):
    """RASPA2 GCMC (``adsorb``); ``co2_uptake`` is the indexed name of DESIGN §2 (mol/kg)."""

    model_config = StageRecord.model_config  # strict, whatever the engine result allows

    co2_uptake: float | None = None
    co2_uptake_error: float | None = None


class RetrainRecord(StageRecord):
    """The model version a structure's retraining produced (``retrain``)."""

    model_version: str
    # was the version promoted for use (a generator keeping its validity, a screener
    # lowering the held-out error)
    promoted: bool | None = None


# ------------------------------------------------------------------------- crystal records
class CrystalValidateRecord(StageRecord):
    """Star-gen validity, de-duplication and the ML energy screen (``validate``)."""

    valid: bool
    checks: list[dict[str, Any]] = Field(default_factory=list)
    duplicate_of: str | None = None
    energy_per_atom: float | None = None  # eV/atom, predicted for the unrelaxed candidate
    formation_energy_per_atom: float | None = None  # eV/atom
    method: str | None = None
    screener_version: str | None = None


class CrystalSimulateRecord(StageRecord):
    """CHGNet relaxation and the energy above the campaign's hull (``simulate``)."""

    structure: dict[str, Any]
    energy_per_atom: float  # eV/atom
    formation_energy_per_atom: float  # eV/atom
    e_above_hull: float  # eV/atom
    near_hull: bool
    hull_threshold: float  # eV/atom
    converged: bool
    relax_steps: int
    method: str


__all__ = [
    "CO2_UPTAKE", "CO2_UPTAKE_ERROR", "CRYSTAL_KEY", "E_ABOVE_HULL", "FORMATION_ENERGY",
    "HEAT_OF_ADSORPTION", "LCD", "NEAR_HULL", "PLD", "PREDICTED_FORMATION_ENERGY",
    "RELAXED_ENERGY", "RELAXED_STRUCTURE", "RELAX_METHOD", "SCREEN_METHOD",
    "STRAIN", "CrystalSimulateRecord", "CrystalValidateRecord", "MofAdsorbRecord",
    "MofSimulateRecord", "MofValidateRecord", "RetrainRecord", "finished", "get_path",
]
