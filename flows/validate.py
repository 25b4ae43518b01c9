"""validate: UFF4MOF NPT molecular dynamics in LAMMPS; the lattice strain decides.

MOFA (§III-B): a MOF is stable when the strain after NPT MD at 300 K / 1 atm is below 10 %;
structures below 25 % still feed retraining, so the ``validate`` record is kept on rejects.
A structure that fails :mod:`mofgen.sanity` (overlapping atoms, a degenerate cell, an
impossible density) is rejected with that number before LAMMPS starts: MD on it would
report a meaningless strain.

With ``replicas`` > 1 the MD runs that many times with velocity seeds ``seed + i``; the
stored ``strain`` is their mean (the decision is on it), with the spread (``strain_std``,
``strain_sem``) and the bound the policy can rank by (``strain_upper`` = mean + z·sem).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymatgen.core import Structure

from mofgen.engines.lammps_md import NptStability
from mofgen.engines.results import StabilityResult, Status
from mofgen.flows._stage import Outcome, StageContext, StageMaker
from mofgen.sanity import check_structure
from mofgen.statistics import summarize_replicas

# per-run fields the record does not keep (large, or the engine's raw cells)
_DROPPED = {"final_structure", "initial_cell_A", "final_cell_A"}


@dataclass
class ValidateMaker(StageMaker):
    name: str = "validate"
    md: NptStability = field(default_factory=NptStability)
    replicas: int = 1  # independent MD runs (velocity seeds) averaged into the strain
    confidence_z: float = 1.645  # strain_upper = mean + z·sem (one-sided 95 %)

    def compute(self, doc: dict, ctx: StageContext) -> Outcome:
        structure = Structure.from_dict(doc["structure"])
        sanity = check_structure(structure)
        if not sanity.ok:
            return Outcome(record={"status": "rejected", "reason": sanity.reason,
                                   "tool": "mofgen.sanity"},
                           reject_reason=f"physically meaningless structure: {sanity.reason}",
                           value=sanity.first.value, threshold=sanity.first.limit)
        runs = self.md.run_replicas(structure, ctx.workdir, self.replicas)
        record = replica_record(runs, self.md, self.confidence_z)
        last = runs[-1]
        which = f" (replica {len(runs) - 1})" if self.replicas > 1 else ""
        if last.status == Status.failed:
            return Outcome(record=record, failure=f"LAMMPS{which}: {last.reason}")
        strain = record["strain"]
        if strain is None:  # a replica collapsed: the structure is unstable
            return Outcome(record=record,
                           reject_reason=(last.reason or "unstable in NPT MD") + which,
                           threshold=self.md.reject_strain)
        if strain >= self.md.reject_strain:
            return Outcome(record=record, reject_reason=record["reason"], value=strain,
                           threshold=self.md.reject_strain)
        if strain >= self.md.stable_strain:
            return Outcome(record=record, reject_reason="lattice strain above stability threshold",
                           value=strain, threshold=self.md.stable_strain)
        return Outcome(record=record, versions={"lammps": last.software_version})


def replica_record(runs: list[StabilityResult], md: NptStability, z: float) -> dict[str, Any]:
    """The ``validate`` record of one or more replicas (see :class:`MofValidateRecord`).

    The first replica gives the per-run details; strain, stability and the other scalar
    measurements are means; the status follows the mean (a single replica's strain at or
    above the reject threshold does not reject a structure whose mean is below it).
    """
    first, last = runs[0], runs[-1]
    record = first.model_dump(mode="json", exclude=_DROPPED)
    strains = [r.strain for r in runs if r.strain is not None]
    seeds = [r.protocol.get("seed") for r in runs] if md.initial_velocities else []
    record.update(replicas=len(runs), replica_seeds=seeds,
                  strain_replicas=strains, confidence_z=z,
                  wall_time_s=sum(r.wall_time_s for r in runs),
                  timings_s={k: sum(r.timings_s.get(k, 0.0) for r in runs)
                             for k in first.timings_s})
    if last.strain is None:  # failed or collapsed: that run's outcome is the record's
        record.update(status=last.status.value, reason=last.reason, tool=last.tool,
                      strain=None, stable=False)
        return record
    summary = summarize_replicas(strains)
    record.update(
        strain=summary.mean, strain_std=summary.std, strain_sem=summary.sem,
        strain_upper=summary.mean + z * (summary.sem or 0.0),
        stable=summary.mean < md.stable_strain,
        strain_last_frame=_mean([r.strain_last_frame for r in runs]),
        volume_change=_mean([r.volume_change for r in runs]),
        status=Status.ok.value, reason=None,
    )
    if summary.mean >= md.reject_strain:
        record.update(status=Status.rejected.value,
                      reason=f"lattice strain {summary.mean:.3f} >= {md.reject_strain}"
                             + (f" (mean of {len(runs)} replicas)" if len(runs) > 1 else ""))
    return record


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if len(known) == len(values) and known else None
