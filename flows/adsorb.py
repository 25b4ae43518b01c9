"""adsorb: RASPA2 GCMC uptake (CO2 by default, mol/kg) of the relaxed, charged framework.

With ``replicas`` > 1 GCMC runs that many times with RASPA2 seeds ``seed + i``; the stored
uptake is their mean with one standard error that counts both kinds of noise RASPA2 can
show: the spread between replicas and the block errors within them (the larger of the
two), and the cautious bound the policy can rank by (``co2_uptake_lower`` = mean − z·error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from pymatgen.core import Structure

from mofgen.engines.raspa import GcmcAdsorption
from mofgen.engines.results import AdsorptionResult, Status
from mofgen.flows._stage import Outcome, StageContext, StageMaker
from mofgen.statistics import summarize_replicas

# engine numbers the record holds as replica means
_MEANS = ("uptake_mol_per_kg", "uptake_mg_per_g", "uptake_molecules_per_cell",
          "heat_of_adsorption_kJ_per_mol", "framework_density_kg_per_m3")
# errors of independent runs, combined for their mean as sqrt(Σ e²)/n
_ERRORS = ("uptake_error_mol_per_kg", "heat_of_adsorption_error_kJ_per_mol",
           "uptake_stderr_mol_per_kg")


@dataclass
class AdsorbMaker(StageMaker):
    name: str = "adsorb"
    gcmc: GcmcAdsorption = field(default_factory=GcmcAdsorption)
    replicas: int = 1  # independent GCMC runs (RASPA2 seeds) averaged into the uptake
    confidence_z: float = 1.645  # co2_uptake_lower = mean − z·error (one-sided 95 %)

    def compute(self, doc: dict, ctx: StageContext) -> Outcome:
        simulated = (doc.get("simulate") or {}).get("structure")
        structure = Structure.from_dict(simulated or doc["structure"])
        charges = structure.site_properties.get("charge")
        gcmc = replace(self.gcmc, use_charges=self.gcmc.use_charges and charges is not None)
        runs: list[AdsorptionResult] = []
        for i in range(self.replicas):
            calc = replace(gcmc, seed=gcmc.replica_seed(i)) if self.replicas > 1 else gcmc
            workdir = ctx.workdir / f"replica-{i}" if self.replicas > 1 else ctx.workdir
            runs.append(calc.run(structure, workdir, charges=charges))
            if runs[-1].status != Status.ok:
                break
        record = replica_record(runs, self.confidence_z)
        last = runs[-1]
        which = f" (replica {len(runs) - 1})" if self.replicas > 1 else ""
        if last.status == Status.failed:
            return Outcome(record=record, failure=f"RASPA2{which}: {last.reason}")
        if last.status == Status.rejected:
            return Outcome(record=record, reject_reason=f"RASPA2{which}: {last.reason}")
        return Outcome(record=record, versions={"raspa2": last.software_version})


def replica_record(runs: list[AdsorptionResult], z: float) -> dict[str, Any]:
    """The ``adsorb`` record of one or more GCMC replicas (see :class:`MofAdsorbRecord`).

    ``co2_uptake_error`` is one standard error of the mean uptake: the larger of the
    replica spread, std/√n (None for one replica), and the replicas' block standard
    errors propagated to the mean, √(Σ sᵢ²)/n. Both estimate the same thing; the block
    errors miss run-to-run noise (equilibration, correlated blocks), the spread of a few
    replicas is itself noisy (n − 1 degrees of freedom), so the larger is the safe one.
    """
    first, last = runs[0], runs[-1]
    record = first.model_dump(mode="json")
    record.update(replicas=len(runs), replica_seeds=[r.seed for r in runs if r.seed is not None],
                  confidence_z=z, wall_time_s=sum(r.wall_time_s for r in runs))
    if last.status != Status.ok:  # that run's outcome is the record's
        record.update(status=last.status.value, reason=last.reason)
        return record
    for name in _MEANS:
        values = [getattr(r, name) for r in runs]
        record[name] = None if None in values else math.fsum(values) / len(values)
    for name in _ERRORS:
        values = [getattr(r, name) for r in runs]
        record[name] = (None if None in values
                        else math.sqrt(math.fsum(e * e for e in values)) / len(values))
    if first.adsorbate == "CO2":  # the indexed names of DESIGN §2, mol/kg
        uptakes = [r.uptake_mol_per_kg for r in runs]
        block_errors = [r.uptake_stderr_mol_per_kg for r in runs]
        summary = summarize_replicas(uptakes)
        error = max(record["uptake_stderr_mol_per_kg"], summary.sem or 0.0)
        record.update(co2_uptake=summary.mean, co2_uptake_error=error,
                      co2_uptake_lower=summary.mean - z * error,
                      co2_uptake_replicas=uptakes, co2_uptake_replica_errors=block_errors,
                      co2_uptake_sem=summary.sem)
    return record
