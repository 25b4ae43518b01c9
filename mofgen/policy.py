"""The policy: what to run next, decided from the database alone (MOFA §III-C).

* generate continuously (gpu), unless too many structures already wait for validation
  (backpressure) or the structure budget is spent;
* validate the most recently generated structures first (LIFO);
* simulate and adsorb the most stable structures first (lowest lattice strain);
* retrain once ``retrain_min_stable`` structures have strain below ``retrain_strain`` and
  again whenever that set has grown; the set is the lower half by strain until
  ``retrain_min_adsorbed`` adsorption results exist, then the top adsorbers.

Each category's queue is kept at ``queue_depth_per_worker × workers`` READY Fireworks, never
more: new work is inserted only into free slots. Every :class:`Decision` carries the
numbers that caused it, for the daemon's log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mofgen.documents import CampaignConfig

# cpu stages in the order free slots are filled: finish expensive work first.
CPU_STAGES = (
    ("adsorb", "simulated", [("validate.strain", 1)], 3),
    ("simulate", "validated", [("validate.strain", 1)], 2),
    ("validate", "generated", [("created_at", -1)], 1),
)
# Every candidate sorted by strain has one (strain ≥ 0); saying so lets an index skip the
# structures without one, which sort first.
SORT_GUARD = {"validate.strain": {"$gte": 0}}


@dataclass
class Decision:
    stage: str
    category: str
    priority: int
    doc_ids: list[str] = field(default_factory=list)
    training_ids: list[str] = field(default_factory=list)
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    batch: bool = False  # doc_ids go to one job together (batched ML inference)


class Policy:
    def __init__(self, db, campaign: str, config: CampaignConfig):
        self.db, self.campaign, self.config = db, campaign, config

    def depth(self, category: str) -> int:
        workers = getattr(self.config.resources, category, 0)
        return self.config.queue_depth_per_worker * workers

    def decide(self, flight: dict[str, Any]) -> list[Decision]:
        """Decisions for this round, given what is in flight (see ``launchers.fireworks``)."""
        return [*self._cpu(flight), *self._generate(flight), *self._retrain(flight)]

    def exhausted(self) -> bool:
        """True when generation has nothing more to propose (MOF generation never ends)."""
        return False

    # ------------------------------------------------------------------ cpu stages
    def _cpu(self, flight) -> list[Decision]:
        free = self.depth("cpu") - flight["ready"].get("cpu", 0)
        decisions = []
        for stage, state, order, priority in CPU_STAGES:
            if free <= 0:
                break
            busy = list(flight["docs"].get(stage, ()))
            query = {"campaign": self.campaign, "state": state, "lock": None,
                     "_id": {"$nin": busy}}
            if order[0][0] in SORT_GUARD:
                query[order[0][0]] = SORT_GUARD[order[0][0]]
            picked = [d["_id"] for d in self.db.structures.find(query, {"_id": 1})
                      .sort(order).limit(free)]
            if picked:
                free -= len(picked)
                decisions.append(Decision(
                    stage, "cpu", priority, doc_ids=picked,
                    reason=f"{len(picked)} {state} structure(s) by {order[0][0]}"
                           f" {'desc' if order[0][1] < 0 else 'asc'}",
                    evidence={"waiting_first": picked[:5], "queue_free": free + len(picked)},
                ))
        return decisions

    # ------------------------------------------------------------------ generation
    def _generate(self, flight) -> list[Decision]:
        # no gpu workers declared: nobody would run it (the gpu queue falls back to CPU
        # when a gpu worker runs on a CPU-only machine, as in `mofgen run`)
        if flight["stages"].get("generate", 0) >= max(1, self.depth("gpu") // 2) or \
                self.depth("gpu") == 0:
            return []
        counts = {
            "structures": self.db.structures.count_documents({"campaign": self.campaign}),
            "waiting_validation": self.db.structures.count_documents(
                {"campaign": self.campaign, "state": "generated"}),
        }
        budget = self.config.budget.max_structures
        if budget is not None and counts["structures"] >= budget:
            return []
        if counts["waiting_validation"] >= self.config.max_waiting_validation:
            return []
        return [Decision("generate", "gpu", 2, reason="keep generating", evidence=counts)]

    # ------------------------------------------------------------------ retraining
    def _retrain(self, flight) -> list[Decision]:
        if flight["stages"].get("retrain", 0) or self.depth("gpu") == 0:
            return []
        t = self.config.thresholds
        stable_query = {"campaign": self.campaign, "validate.strain": {"$lt": t.retrain_strain}}
        n_stable = self.db.structures.count_documents(stable_query)
        if n_stable < t.retrain_min_stable:
            return []
        adsorbed_query = {"campaign": self.campaign, "adsorb.co2_uptake": {"$ne": None}}
        n_adsorbed = self.db.structures.count_documents(adsorbed_query)
        last = self.db.models.find_one({"campaign": self.campaign}, sort=[("created_at", -1)])
        last_size = len(last["training_set_ids"]) if last else 0
        if n_adsorbed >= t.retrain_min_adsorbed:
            cursor = self.db.structures.find(adsorbed_query, {"_id": 1}).sort(
                "adsorb.co2_uptake", -1).limit(max(t.retrain_min_adsorbed, n_adsorbed // 2))
            basis = "top adsorbers"
        else:
            cursor = self.db.structures.find(stable_query, {"_id": 1}).sort(
                "validate.strain", 1).limit(max(1, n_stable // 2))
            basis = "lower half by strain"
        ids = [d["_id"] for d in cursor]
        if last is not None and len(ids) <= last_size:
            return []
        return [Decision(
            "retrain", "gpu", 5, training_ids=ids,
            reason=f"retrain on {len(ids)} structures ({basis})",
            evidence={"stable": n_stable, "adsorbed": n_adsorbed, "previous_set": last_size,
                      "parent": last["_id"] if last else None},
        )]


class CrystalPolicy(Policy):
    """exa-AMD's funnel on the same queues (../papers/exa-amd.txt).

    * generate until the generator's candidate sequence is exhausted (backpressure and
      budget as for MOFs);
    * validate the newest generated crystals in one batch per job (gpu: batched ML
      inference), one batch in flight at a time;
    * simulate (relax + hull, cpu) the lowest predicted formation energies first;
    * retrain the screener once ``retrain_min_relaxed`` relaxed crystals wait, and at the
      end of generation on whatever is left, whenever the training set has grown.
    """

    def decide(self, flight: dict[str, Any]) -> list[Decision]:
        return [*self._simulate(flight), *self._validate(flight), *self._generate(flight),
                *self._retrain(flight)]

    def exhausted(self) -> bool:
        doc = self.db.campaigns.find_one({"_id": self.campaign}, {"counters": 1}) or {}
        return bool((doc.get("counters") or {}).get("generation_exhausted"))

    def _generate(self, flight) -> list[Decision]:
        return [] if self.exhausted() else super()._generate(flight)

    def _simulate(self, flight) -> list[Decision]:
        free = self.depth("cpu") - flight["ready"].get("cpu", 0)
        if free <= 0:
            return []
        order = "validate.formation_energy_per_atom"
        query = {"campaign": self.campaign, "state": "validated", "lock": None,
                 "_id": {"$nin": list(flight["docs"].get("simulate", ()))},
                 order: {"$lt": 1e9}}  # every validated crystal has one; lets an index skip
        picked = [d["_id"] for d in self.db.structures.find(query, {"_id": 1})
                  .sort(order, 1).limit(free)]
        if not picked:
            return []
        return [Decision("simulate", "cpu", 2, doc_ids=picked,
                         reason=f"{len(picked)} validated crystal(s) by {order} asc",
                         evidence={"first": picked[:5], "queue_free": free})]

    def _validate(self, flight) -> list[Decision]:
        if flight["stages"].get("validate", 0) or self.depth("gpu") == 0:
            return []
        query = {"campaign": self.campaign, "state": "generated", "lock": None}
        picked = [d["_id"] for d in self.db.structures.find(query, {"_id": 1})
                  .sort("created_at", -1).limit(self.config.crystal.screen_batch_size)]
        if not picked:
            return []
        return [Decision("validate", "gpu", 3, doc_ids=picked, batch=True,
                         reason=f"screen {len(picked)} generated crystal(s) in one batch",
                         evidence={"first": picked[:5]})]

    def _retrain(self, flight) -> list[Decision]:
        if flight["stages"].get("retrain", 0) or self.depth("gpu") == 0:
            return []
        base = {"campaign": self.campaign}
        waiting = self.db.structures.count_documents({**base, "state": "simulated"})
        if waiting == 0:
            return []
        settled = self.exhausted() and not any(flight["stages"].get(s) for s in (
            "generate", "validate", "simulate")) and self.db.structures.count_documents(
            {**base, "state": {"$in": ["generated", "validated"]}}) == 0
        if waiting < self.config.crystal.retrain_min_relaxed and not settled:
            return []
        ids = sorted(d["_id"] for d in self.db.structures.find(
            {**base, "simulate.energy_per_atom": {"$ne": None}}, {"_id": 1}))
        last = self.db.models.find_one({**base, "kind": "screener"},
                                       sort=[("created_at", -1)])
        last_size = len(last["training_set_ids"]) if last else 0
        if len(ids) < 2 or len(ids) <= last_size:
            return []
        return [Decision("retrain", "gpu", 5, training_ids=ids,
                         reason=f"fine-tune the screener on {len(ids)} relaxed crystals",
                         evidence={"waiting": waiting, "previous_set": last_size,
                                   "end_of_generation": settled})]


def policy_for(db, campaign: str, config: CampaignConfig) -> Policy:
    """The policy of a campaign's kind."""
    return (CrystalPolicy if config.kind == "crystal" else Policy)(db, campaign, config)
