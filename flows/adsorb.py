"""adsorb: RASPA2 GCMC CO2 uptake (mol/kg) of the relaxed, charged framework."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobflow import Maker, job
from pymatgen.core import Structure

from mofgen.flows._stage import Outcome, run_stage


@dataclass
class AdsorbMaker(Maker):
    name: str = "adsorb"
    adsorbate: str = "CO2"
    temperature_K: float = 300.0
    pressure_bar: float = 0.1
    cycles: int = 1000

    @job
    def make(self, doc_id: str, db: str) -> dict:
        return run_stage("adsorb", doc_id, db, self.compute)

    def compute(self, doc: dict, workdir: Path) -> Outcome:
        from mofgen.engines.raspa import AdsorptionMaker
        from mofgen.engines.results import Status

        simulated = (doc.get("simulate") or {}).get("structure")
        structure = Structure.from_dict(simulated or doc["structure"])
        charges = structure.site_properties.get("charge")
        gcmc = AdsorptionMaker(adsorbate=self.adsorbate, temperature_K=self.temperature_K,
                               pressure_bar=self.pressure_bar, cycles=self.cycles,
                               use_charges=charges is not None)
        result = gcmc.run(structure, workdir, charges=charges)
        record = result.model_dump(mode="json")
        if self.adsorbate == "CO2":  # the indexed name of DESIGN §2, mol/kg
            record["co2_uptake"] = result.uptake_mol_per_kg
            record["co2_uptake_error"] = result.uptake_error_mol_per_kg
        if result.status == Status.failed:
            return Outcome(record=record, failure=f"RASPA2: {result.reason}")
        if result.status == Status.rejected:
            return Outcome(record=record, reject_reason=f"RASPA2: {result.reason}")
        return Outcome(record=record, versions={"raspa2": result.software_version})
