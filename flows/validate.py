"""validate: UFF4MOF NPT molecular dynamics in LAMMPS; the lattice strain decides.

MOFA (§III-B): a MOF is stable when the strain after NPT MD at 300 K / 1 atm is below 10 %;
structures below 25 % still feed retraining, so the ``validate`` record is kept on rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobflow import Maker, job
from pymatgen.core import Structure

from mofgen.flows._stage import Outcome, run_stage


@dataclass
class ValidateMaker(Maker):
    name: str = "validate"
    steps: int = 2000
    timestep_fs: float = 0.5
    temperature_K: float = 300.0
    pressure_atm: float = 1.0
    stable_strain: float = 0.10
    reject_strain: float = 0.25
    timeout_s: float = 3600.0

    @job
    def make(self, doc_id: str, db: str) -> dict:
        return run_stage("validate", doc_id, db, self.compute)

    def compute(self, doc: dict, workdir: Path) -> Outcome:
        from mofgen.engines.lammps_md import StabilityMaker
        from mofgen.engines.results import Status

        md = StabilityMaker(
            steps=self.steps, timestep_fs=self.timestep_fs, temperature_K=self.temperature_K,
            pressure_atm=self.pressure_atm, stable_strain=self.stable_strain,
            reject_strain=self.reject_strain, timeout_s=self.timeout_s,
        )
        result = md.run(Structure.from_dict(doc["structure"]), workdir)
        record = result.model_dump(
            mode="json", exclude={"final_structure", "initial_cell_A", "final_cell_A"}
        )
        versions = {"lammps": result.software_version}
        if result.status == Status.failed:
            return Outcome(record=record, failure=f"LAMMPS: {result.reason}")
        if result.status == Status.rejected:
            return Outcome(record=record, reject_reason=result.reason or "unstable in NPT MD",
                           value=result.strain, threshold=self.reject_strain)
        if result.strain is None or result.strain >= self.stable_strain:
            return Outcome(record=record, reject_reason="lattice strain above stability threshold",
                           value=result.strain, threshold=self.stable_strain)
        return Outcome(record=record, versions=versions)
