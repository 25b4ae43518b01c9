"""adsorb: RASPA2 GCMC uptake (CO2 by default, mol/kg) of the relaxed, charged framework."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pymatgen.core import Structure

from mofgen.engines.raspa import GcmcAdsorption
from mofgen.engines.results import Status
from mofgen.flows._stage import Outcome, StageContext, StageMaker


@dataclass
class AdsorbMaker(StageMaker):
    name: str = "adsorb"
    gcmc: GcmcAdsorption = field(default_factory=GcmcAdsorption)

    def compute(self, doc: dict, ctx: StageContext) -> Outcome:
        workdir = ctx.workdir
        simulated = (doc.get("simulate") or {}).get("structure")
        structure = Structure.from_dict(simulated or doc["structure"])
        charges = structure.site_properties.get("charge")
        gcmc = replace(self.gcmc, use_charges=self.gcmc.use_charges and charges is not None)
        result = gcmc.run(structure, workdir, charges=charges)
        record = result.model_dump(mode="json")
        if gcmc.adsorbate == "CO2":  # the indexed name of DESIGN §2, mol/kg
            record["co2_uptake"] = result.uptake_mol_per_kg
            record["co2_uptake_error"] = result.uptake_error_mol_per_kg
        if result.status == Status.failed:
            return Outcome(record=record, failure=f"RASPA2: {result.reason}")
        if result.status == Status.rejected:
            return Outcome(record=record, reject_reason=f"RASPA2: {result.reason}")
        return Outcome(record=record, versions={"raspa2": result.software_version})
