"""The adsorption screen of one structure: pore analysis -> charges -> GCMC.

Used by ``mofgen adsorb FILE``; the campaign's adsorb stage (``flows/adsorb.py``) runs only
the GCMC step, since its structures arrive with pores and charges from the simulate stage.

Zeo++ first, so a framework a CO2 molecule cannot enter is rejected in a second instead
of costing a GCMC run; then partial charges (EQeq by default); then RASPA2. Each step's
typed result is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel
from pymatgen.core import Structure

from mofgen.engines._tools import workdir_for
from mofgen.engines.charge_methods import ChargeCalculation, charge_calculation
from mofgen.engines.raspa import GcmcAdsorption
from mofgen.engines.results import AdsorptionResult, ChargeResult, PoreResult, Status
from mofgen.engines.zeopp import PoreAnalysis


class AdsorptionScreenResult(BaseModel):
    """Outcome of the first step that stopped the screen (or of GCMC), with each step's result."""

    status: Status
    reason: str | None = None
    pores: PoreResult
    charges: ChargeResult | None = None
    adsorption: AdsorptionResult | None = None


@dataclass
class AdsorptionScreen:
    """Settings of the three calculations the screen chains."""

    pores: PoreAnalysis = field(default_factory=PoreAnalysis)
    charges: ChargeCalculation = field(default_factory=charge_calculation)
    gcmc: GcmcAdsorption = field(default_factory=GcmcAdsorption)

    def check_size(self, structure: Structure) -> None:
        """Every limit of the chain at once, before any of it starts."""
        self.pores.check_size(structure)
        if self.gcmc.use_charges:
            self.charges.check_size(structure)
        self.gcmc.check_size(structure)

    def run(self, structure: Structure, workdir: Path | str | None = None
            ) -> AdsorptionScreenResult:
        self.check_size(structure)
        wd = workdir_for(workdir, "adsorb")
        pores = self.pores.run(structure, wd / "zeo")
        out = AdsorptionScreenResult(status=pores.status, reason=pores.reason, pores=pores)
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
