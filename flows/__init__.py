"""jobflow jobs and Makers, one module per campaign stage (installed as mofgen.flows).

``stage_makers(config)`` builds every stage's Maker from a campaign config: the one place
where campaign settings become calculation settings.
"""

from __future__ import annotations

from typing import Any

from mofgen.documents import CampaignConfig


def stage_makers(config: CampaignConfig) -> dict[str, Any]:
    if config.kind == "crystal":
        return crystal_makers(config)
    from mofgen.engines.chgnet_relax import ChgnetRelaxation
    from mofgen.engines.cp2k_relax import Cp2kRelaxation
    from mofgen.engines.lammps_md import StabilityMaker
    from mofgen.engines.raspa import GcmcAdsorption
    from mofgen.engines.zeopp import PoreAnalysis
    from mofgen.flows.adsorb import AdsorbMaker
    from mofgen.flows.simulate import SimulateMaker
    from mofgen.flows.validate import ValidateMaker

    t = config.thresholds
    relax = (Cp2kRelaxation() if config.fidelity == "dft"
             else ChgnetRelaxation(steps=config.relax_steps))
    makers: dict[str, Any] = {
        "validate": ValidateMaker(md=StabilityMaker(
            steps=config.md_steps, temperature_K=config.temperature_K,
            stable_strain=t.stable_strain, reject_strain=t.retrain_strain)),
        "simulate": SimulateMaker(relax=relax, pores=PoreAnalysis(
            probe_radius_A=t.min_pore_diameter_A / 2)),
        "adsorb": AdsorbMaker(gcmc=GcmcAdsorption(
            temperature_K=config.temperature_K, pressure_bar=config.pressure_bar,
            cycles=config.gcmc_cycles)),
    }
    try:
        from mofgen.flows.generate import GenerateMaker
        from mofgen.flows.retrain import RetrainMaker
    except ImportError:  # the generator extra (torch) is not installed
        return makers
    makers["generate"] = GenerateMaker(n_linkers=config.linkers_per_batch,
                                       diffusion_steps=config.diffusion_steps, seed=config.seed)
    makers["retrain"] = RetrainMaker(epochs=config.retrain_epochs,
                                     max_minutes=config.retrain_max_minutes)
    return makers


def crystal_makers(config: CampaignConfig) -> dict[str, Any]:
    """Makers of a crystal campaign (see :mod:`mofgen.flows.crystal`)."""
    from mofgen.flows.crystal import (
        CrystalGenerateMaker,
        CrystalRetrainMaker,
        CrystalSimulateMaker,
        CrystalValidateMaker,
    )

    return {
        "generate": CrystalGenerateMaker(),
        "validate": CrystalValidateMaker(),
        "simulate": CrystalSimulateMaker(relax_steps=config.relax_steps,
                                         hull_threshold_eV=config.crystal.hull_threshold_eV),
        "retrain": CrystalRetrainMaker(),
    }
