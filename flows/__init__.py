"""jobflow jobs and Makers, one module per campaign stage (installed as mofgen.flows).

``stage_makers(config)`` builds every stage's Maker from a campaign config: the one place
where campaign settings become calculation settings.
"""

from __future__ import annotations

from typing import Any

from mofgen.documents import CampaignConfig


def stage_makers(config: CampaignConfig) -> dict[str, Any]:
    from mofgen.flows.adsorb import AdsorbMaker
    from mofgen.flows.simulate import SimulateMaker
    from mofgen.flows.validate import ValidateMaker

    t = config.thresholds
    makers: dict[str, Any] = {
        "validate": ValidateMaker(steps=config.md_steps, temperature_K=config.temperature_K,
                                  stable_strain=t.stable_strain, reject_strain=t.retrain_strain),
        "simulate": SimulateMaker(fidelity=config.fidelity, relax_steps=config.relax_steps),
        "adsorb": AdsorbMaker(temperature_K=config.temperature_K,
                              pressure_bar=config.pressure_bar, cycles=config.gcmc_cycles),
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
