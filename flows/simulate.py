"""simulate: cell optimisation, partial charges and pore analysis of a stable MOF.

CHGNet (default) or CP2K relaxes the cell; EQeq (default), QEq or CP2K DDAPC gives per-site
charges for GCMC; Zeo++ rejects frameworks a CO2 probe cannot enter before GCMC is spent on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymatgen.core import Structure

from mofgen.engines.charge_methods import ChargeCalculation, charge_calculation
from mofgen.engines.chgnet_relax import ChgnetRelaxation
from mofgen.engines.cp2k_relax import Cp2kRelaxation
from mofgen.engines.results import EngineResult, Status
from mofgen.engines.zeopp import PoreAnalysis
from mofgen.flows._stage import Outcome, StageContext, StageMaker


@dataclass
class SimulateMaker(StageMaker):
    name: str = "simulate"
    relax: ChgnetRelaxation | Cp2kRelaxation = field(default_factory=ChgnetRelaxation)
    charges: ChargeCalculation = field(default_factory=charge_calculation)
    pores: PoreAnalysis = field(default_factory=PoreAnalysis)

    def compute(self, doc: dict, ctx: StageContext) -> Outcome:
        workdir = ctx.workdir
        relax = self.relax.run(Structure.from_dict(doc["structure"]), workdir / "relax")
        record: dict = {"relax": relax.model_dump(mode="json", exclude={"final_structure"})}
        versions = {relax.tool: relax.software_version}
        if relax.status != Status.ok:
            return _stopped(relax, record)
        relaxed = Structure.from_dict(relax.final_structure)

        charges = self.charges.run(relaxed, workdir / "charges")
        record["charges"] = charges.model_dump(mode="json", exclude={"structure"})
        if charges.status != Status.ok:
            return _stopped(charges, record)
        relaxed.add_site_property("charge", charges.charges)
        record["structure"] = relaxed.as_dict()

        pores = self.pores.run(relaxed, workdir / "zeo")
        record["pores"] = pores.model_dump(mode="json")
        versions[pores.tool] = pores.software_version
        if pores.status == Status.rejected:
            return Outcome(record=record, reject_reason=pores.reason or "not porous to CO2",
                           value=pores.pld_A, threshold=2 * self.pores.probe_radius_A)
        if pores.status != Status.ok:
            return _stopped(pores, record)
        return Outcome(record=record, versions=versions)


def _stopped(result: EngineResult, record: dict) -> Outcome:
    if result.status == Status.rejected:
        return Outcome(record=record, reject_reason=f"{result.tool}: {result.reason}")
    return Outcome(record=record, failure=f"{result.tool}: {result.reason}")
