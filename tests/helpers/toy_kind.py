"""A third campaign kind in one module: the proof that adding a kind needs nothing else.

``toy`` campaigns have one stage, ``measure`` (cpu): the crystal density of each submitted
structure from pymatgen, rejected above the campaign's ``toy: {max_density: …}``. Loaded
with ``MOFGEN_KINDS=tests.helpers.toy_kind:ToyKind`` in every process of the campaign.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import Field
from pymatgen.core import Structure

from mofgen.documents import CampaignConfig, KindSettings, Stage, StageRecord, State
from mofgen.flows._stage import Outcome, StageContext, StageMaker
from mofgen.kinds.base import CampaignKind, Column
from mofgen.policy import Decision, Policy

DENSITY = "measure.density_g_per_cm3"


LEASE_S = 1.0  # short, so a test can run a stage far longer than its lease


class ToySettings(KindSettings):
    max_density: float = Field(default=10.0, gt=0)  # g/cm3
    seconds_per_structure: float = Field(default=0.0, ge=0, le=60)  # a slow stage


class MeasureRecord(StageRecord):
    density_g_per_cm3: float


@dataclass
class MeasureMaker(StageMaker):
    name: str = "measure"

    def compute(self, doc: dict, ctx: StageContext) -> Outcome:
        time.sleep(ctx.config.settings.seconds_per_structure)
        density = float(Structure.from_dict(doc["structure"]).density)
        record = {"density_g_per_cm3": density}
        limit = ctx.config.settings.max_density
        if density > limit:
            return Outcome(record=record, reject_reason="too dense", value=density,
                           threshold=limit)
        return Outcome(record=record)


class ToyPolicy(Policy):
    """Measure the oldest waiting structures first; nothing is ever generated."""

    def decide(self, flight: dict[str, Any]) -> list[Decision]:
        picked = self.pick("measure", ("created_at", 1), self.free("cpu", flight), flight)
        return [self.decision("measure", 1, doc_ids=picked,
                              reason=f"measure {len(picked)}")] if picked else []

    def exhausted(self) -> bool:
        return True


class ToyKind(CampaignKind):
    name = "toy"
    settings = ToySettings
    ladder = (Stage("measure", State.GENERATED, State.VALIDATED, "cpu", MeasureRecord,
                    lease_seconds=LEASE_S),)
    indexes = ([("campaign", 1), (DENSITY, 1)],)
    columns = (Column("density", "density", DENSITY, "g/cm3", sort=1),)

    def makers(self, config: CampaignConfig) -> dict[str, Any]:
        return {"measure": MeasureMaker()}

    def policy(self, db, campaign: str, config: CampaignConfig) -> ToyPolicy:
        return ToyPolicy(db, campaign, config)
