"""validate: UFF4MOF NPT molecular dynamics in LAMMPS; the lattice strain decides.

MOFA (§III-B): a MOF is stable when the strain after NPT MD at 300 K / 1 atm is below 10 %;
structures below 25 % still feed retraining, so the ``validate`` record is kept on rejects.
A structure that fails :mod:`mofgen.sanity` (overlapping atoms, a degenerate cell, an
impossible density) is rejected with that number before LAMMPS starts: MD on it would
report a meaningless strain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymatgen.core import Structure

from mofgen.engines.lammps_md import NptStability
from mofgen.engines.results import Status
from mofgen.flows._stage import Outcome, StageContext, StageMaker
from mofgen.sanity import check_structure


@dataclass
class ValidateMaker(StageMaker):
    name: str = "validate"
    md: NptStability = field(default_factory=NptStability)

    def compute(self, doc: dict, ctx: StageContext) -> Outcome:
        workdir = ctx.workdir
        structure = Structure.from_dict(doc["structure"])
        sanity = check_structure(structure)
        if not sanity.ok:
            return Outcome(record={"status": "rejected", "reason": sanity.reason,
                                   "tool": "mofgen.sanity"},
                           reject_reason=f"physically meaningless structure: {sanity.reason}",
                           value=sanity.first.value, threshold=sanity.first.limit)
        result = self.md.run(structure, workdir)
        record = result.model_dump(
            mode="json", exclude={"final_structure", "initial_cell_A", "final_cell_A"}
        )
        if result.status == Status.failed:
            return Outcome(record=record, failure=f"LAMMPS: {result.reason}")
        if result.status == Status.rejected:
            return Outcome(record=record, reject_reason=result.reason or "unstable in NPT MD",
                           value=result.strain, threshold=self.md.reject_strain)
        if result.strain is None or result.strain >= self.md.stable_strain:
            return Outcome(record=record, reject_reason="lattice strain above stability threshold",
                           value=result.strain, threshold=self.md.stable_strain)
        return Outcome(record=record, versions={"lammps": result.software_version})
