"""The adsorb pipeline on one structure: pore screen -> charges -> GCMC.

Zeo++ first, so a framework a CO2 molecule cannot enter is rejected in a second instead
of costing a GCMC run; then QEq charges; then RASPA2. Each step's typed result is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel
from pymatgen.core import Structure

from mofgen.engines._tools import workdir_for
from mofgen.engines.charges import ChargeMaker
from mofgen.engines.raspa import AdsorptionMaker
from mofgen.engines.results import AdsorptionResult, ChargeResult, PoreResult, Status
from mofgen.engines.zeopp import PoreMaker


class AdsorbPipelineResult(BaseModel):
    status: Status
    reason: str | None = None
    pores: PoreResult
    charges: ChargeResult | None = None
    adsorption: AdsorptionResult | None = None


@dataclass
class AdsorbPipelineMaker:
    pores: PoreMaker = field(default_factory=PoreMaker)
    charges: ChargeMaker = field(default_factory=ChargeMaker)
    gcmc: AdsorptionMaker = field(default_factory=AdsorptionMaker)

    def run(self, structure: Structure, workdir: Path | str | None = None
            ) -> AdsorbPipelineResult:
        wd = workdir_for(workdir, "adsorb")
        pores = self.pores.run(structure, wd / "zeo")
        out = AdsorbPipelineResult(status=pores.status, reason=pores.reason, pores=pores)
        if pores.status != Status.ok:
            return out
        charges = None
        if self.gcmc.use_charges:
            out.charges = self.charges.run(structure, wd / "charges")
            if out.charges.status != Status.ok:
                out.status, out.reason = out.charges.status, out.charges.reason
                return out
            charges = out.charges.charges
        out.adsorption = self.gcmc.run(structure, wd / "gcmc", charges=charges)
        out.status, out.reason = out.adsorption.status, out.adsorption.reason
        return out
