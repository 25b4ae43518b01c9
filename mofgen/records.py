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
STRAIN_SEM = "validate.strain_sem"  # standard error of the replica mean; None for one
STRAIN_UPPER = "validate.strain_upper"  # strain + z·sem: the confidence-bound ranking
CO2_UPTAKE = "adsorb.co2_uptake"  # mol/kg at the campaign's T and P
CO2_UPTAKE_ERROR = "adsorb.co2_uptake_error"  # mol/kg, standard error (replicas, blocks)
CO2_UPTAKE_LOWER = "adsorb.co2_uptake_lower"  # mol/kg, uptake − z·error
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

    With ``replicas`` > 1 the stage ran that many MD runs differing only in the velocity
    seed: ``strain``, ``stable``, ``strain_last_frame`` and ``volume_change`` are means over
    the replicas (the decision is on the mean); cells, structures, trajectory and typing are
    the first replica's; wall times are summed. Kept on rejects too: structures below the
    retraining strain still feed retraining.
    """

    model_config = StageRecord.model_config  # strict, whatever the engine result allows

    strain: float | None = Field(
        None, description="lattice strain (dimensionless: max |eigenvalue| of 0.5(e+e^T), "
                          "e = R0^-1 R1 - I), mean over the replicas; None if one collapsed")
    replicas: int = Field(1, description="independent MD runs (velocity seeds) averaged")
    replica_seeds: list[int] = Field(
        default_factory=list, description="LAMMPS velocity seed of each replica, in order "
                                          "(empty when atoms start at rest)")
    strain_replicas: list[float] = Field(
        default_factory=list, description="strain of each replica (dimensionless), in order")
    strain_std: float | None = Field(
        None, description="sample std (n-1) of the replica strains; None for one replica")
    strain_sem: float | None = Field(
        None, description="standard error of the mean strain, std/sqrt(n); None for one")
    strain_upper: float | None = Field(
        None, description="strain + confidence_z * strain_sem, the pessimistic strain the "
                          "confidence-bound ranking sorts by; = strain for one replica")
    confidence_z: float | None = Field(
        None, description="normal quantile of strain_upper (1.645: one-sided 95 %)")


class MofSimulateRecord(StageRecord):
    """Cell optimisation, partial charges and pores (``simulate``)."""

    relax: RelaxResult | None = None
    charges: ChargeResult | None = None
    pores: PoreResult | None = None
    structure: dict[str, Any] | None = Field(
        None, description="relaxed structure with site property 'charge' (e)")


class MofAdsorbRecord(StageRecord, AdsorptionResult):
    """RASPA2 GCMC (``adsorb``); ``co2_uptake`` is the indexed name of DESIGN §2 (mol/kg).

    With ``replicas`` > 1 the stage ran that many GCMC runs differing only in RASPA2's
    ``RandomSeed``; the engine's numbers (``uptake_*``, heat of adsorption) are replica
    means, their RASPA2 errors (95 % half-widths) combined as sqrt(Σ e_i²)/n.
    """

    model_config = StageRecord.model_config  # strict, whatever the engine result allows

    co2_uptake: float | None = Field(
        None, description="CO2 absolute loading, mol/kg, mean over the replicas")
    co2_uptake_error: float | None = Field(
        None, description="standard error of co2_uptake, mol/kg: the larger of the replica "
                          "spread (std/sqrt(n)) and the replicas' block standard errors "
                          "propagated to the mean (sqrt(Σ s_i²)/n)")
    co2_uptake_lower: float | None = Field(
        None, description="co2_uptake - confidence_z * co2_uptake_error, mol/kg: the "
                          "cautious uptake the confidence-bound ranking sorts by")
    co2_uptake_replicas: list[float] = Field(
        default_factory=list, description="CO2 uptake of each replica, mol/kg, in order")
    co2_uptake_replica_errors: list[float] = Field(
        default_factory=list, description="block standard error of each replica, mol/kg")
    co2_uptake_sem: float | None = Field(
        None, description="std(n-1)/sqrt(n) of the replica uptakes, mol/kg; None for one")
    replicas: int = Field(1, description="independent GCMC runs (RASPA2 seeds) averaged")
    replica_seeds: list[int] = Field(
        default_factory=list, description="RASPA2 RandomSeed of each replica, in order")
    confidence_z: float | None = Field(
        None, description="normal quantile of co2_uptake_lower (1.645: one-sided 95 %)")


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
    "CO2_UPTAKE", "CO2_UPTAKE_ERROR", "CO2_UPTAKE_LOWER", "CRYSTAL_KEY", "E_ABOVE_HULL",
    "FORMATION_ENERGY", "HEAT_OF_ADSORPTION", "LCD", "NEAR_HULL", "PLD",
    "PREDICTED_FORMATION_ENERGY", "RELAXED_ENERGY", "RELAXED_STRUCTURE", "RELAX_METHOD",
    "SCREEN_METHOD", "STRAIN", "STRAIN_SEM", "STRAIN_UPPER", "CrystalSimulateRecord",
    "CrystalValidateRecord", "MofAdsorbRecord", "MofSimulateRecord", "MofValidateRecord",
    "RetrainRecord", "finished", "get_path",
]
