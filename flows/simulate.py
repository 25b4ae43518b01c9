"""simulate: cell optimisation, partial charges and pore analysis of a stable MOF.

CHGNet (default) or CP2K relaxes the cell; charge equilibration gives per-site charges for
GCMC; Zeo++ rejects frameworks a CO2 probe cannot enter before GCMC is spent on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobflow import Maker, job
from pymatgen.core import Structure

from mofgen.flows._stage import Outcome, run_stage


@dataclass
class SimulateMaker(Maker):
    name: str = "simulate"
    fidelity: str = "mlip"  # mlip (CHGNet) or dft (CP2K)
    relax_steps: int = 200
    probe_radius_A: float = 1.65  # CO2 (kinetic diameter 3.3 Å)

    @job
    def make(self, doc_id: str, db: str) -> dict:
        return run_stage("simulate", doc_id, db, self.compute)

    def compute(self, doc: dict, workdir: Path) -> Outcome:
        from mofgen.engines.charges import ChargeMaker
        from mofgen.engines.results import Status
        from mofgen.engines.zeopp import PoreMaker

        structure = Structure.from_dict(doc["structure"])
        relax = self._relaxer().run(structure, workdir / "relax")
        record: dict = {"relax": relax.model_dump(mode="json", exclude={"final_structure"})}
        versions = {relax.tool: relax.software_version}
        if relax.status != Status.ok:
            return self._stop(relax, record)
        relaxed = Structure.from_dict(relax.final_structure)

        charges = ChargeMaker().run(relaxed, workdir / "charges")
        record["charges"] = charges.model_dump(mode="json", exclude={"structure"})
        if charges.status != Status.ok:
            return self._stop(charges, record)
        relaxed.add_site_property("charge", charges.charges)
        record["structure"] = relaxed.as_dict()

        pores = PoreMaker(probe_radius_A=self.probe_radius_A).run(relaxed, workdir / "zeo")
        record["pores"] = pores.model_dump(mode="json")
        versions[pores.tool] = pores.software_version
        if pores.status == Status.rejected:
            return Outcome(record=record, reject_reason=pores.reason or "not porous to CO2",
                           value=pores.pld_A, threshold=2 * self.probe_radius_A)
        if pores.status != Status.ok:
            return self._stop(pores, record)
        return Outcome(record=record, versions=versions)

    def _relaxer(self):
        if self.fidelity == "dft":
            from mofgen.engines.cp2k_relax import Cp2kRelaxMaker

            return Cp2kRelaxMaker()
        from mofgen.engines.chgnet_relax import ChgnetRelaxMaker

        return ChgnetRelaxMaker(steps=self.relax_steps)

    @staticmethod
    def _stop(result, record: dict) -> Outcome:
        from mofgen.engines.results import Status

        if result.status == Status.rejected:
            return Outcome(record=record, reject_reason=f"{result.tool}: {result.reason}")
        return Outcome(record=record, failure=f"{result.tool}: {result.reason}")
