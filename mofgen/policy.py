"""The policy: what to run next, decided from the database alone (MOFA §III-C).

Each campaign kind has its own :class:`Policy` subclass (``mofgen.kinds``); this module has
what they share:

* :class:`Decision` — one piece of work for the daemon to materialise, with the numbers
  that caused it (logged in ``decisions``);
* queue discipline — each category's queue is kept at ``queue_depth_per_worker ×
  workers`` READY Fireworks, never more: new work goes only into free slots;
* generation with backpressure — generate continuously unless too many structures already
  wait for validation or the structure budget is spent;
* picking the next structures of a state in a stage's preferred order.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from mofgen.documents import CampaignConfig, State, kind_schema


def params_key(params: dict[str, Any]) -> str:
    """A short digest naming a campaign job's parameters (e.g. a training set)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Decision:
    """Work for one stage: documents (structure/batch stages) or parameters (campaign)."""

    stage: str
    category: str
    priority: int
    doc_ids: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


class Policy(ABC):
    """Base of a kind's policy: ``decide(flight)`` returns this round's decisions."""

    def __init__(self, db, campaign: str, config: CampaignConfig):
        self.db, self.campaign, self.config = db, campaign, config
        self.settings = config.settings
        self.schema = kind_schema(config.kind)

    @abstractmethod
    def decide(self, flight: dict[str, Any]) -> list[Decision]:
        """Decisions for this round, given what is in flight (``launchers.fireworks``)."""

    def exhausted(self) -> bool:
        """True when generation has nothing more to propose (default: it never ends)."""
        return False

    # ------------------------------------------------------------------ shared pieces
    def depth(self, category: str) -> int:
        workers = getattr(self.config.resources, category, 0)
        return self.config.queue_depth_per_worker * workers

    def free(self, category: str, flight: dict[str, Any]) -> int:
        """Free slots in a category's queue."""
        return self.depth(category) - flight["ready"].get(category, 0)

    def decision(self, stage: str, priority: int, **fields: Any) -> Decision:
        """A decision for ``stage`` on the category the kind's ladder assigns it."""
        return Decision(stage, self.schema.stage(stage).category, priority, **fields)

    def pick(self, stage: str, order: tuple[str, int], limit: int, flight: dict[str, Any],
             guard: dict[str, Any] | None = None) -> list[str]:
        """Up to ``limit`` free documents waiting for ``stage``, best first by ``order``.

        ``guard`` is a condition every waiting document meets (e.g. ``strain ≥ 0``);
        naming it lets an index on the sort path skip documents without the value.
        """
        if limit <= 0:
            return []
        source: State = self.schema.stage(stage).source
        query = {"campaign": self.campaign, "state": source.value, "lock": None,
                 "_id": {"$nin": list(flight["docs"].get(stage, ()))}, **(guard or {})}
        cursor = self.db.structures.find(query, {"_id": 1}).sort([order]).limit(limit)
        return [d["_id"] for d in cursor]

    def generate(self, flight: dict[str, Any], priority: int = 2) -> list[Decision]:
        """Keep generating, with backpressure, within the structure budget."""
        category = self.schema.stage("generate").category
        # no workers of that category declared: nobody would run it (the gpu queue falls
        # back to CPU when a gpu worker runs on a CPU-only machine, as in `mofgen run`)
        if self.depth(category) == 0 or self.exhausted() or \
                flight["stages"].get("generate", 0) >= max(1, self.depth(category) // 2):
            return []
        counts = {
            "structures": self.db.structures.count_documents({"campaign": self.campaign}),
            "waiting_validation": self.db.structures.count_documents(
                {"campaign": self.campaign, "state": State.GENERATED.value}),
        }
        budget = self.config.budget.max_structures
        if budget is not None and counts["structures"] >= budget:
            return []
        if counts["waiting_validation"] >= self.config.max_waiting_validation:
            return []
        return [self.decision("generate", priority, reason="keep generating", evidence=counts)]

    def failed_with(self, stage: str, params: dict[str, Any]) -> str | None:
        """The message if ``stage`` last failed with exactly these parameters (then the
        same work is not queued again until they change), else None."""
        doc = self.db.campaigns.find_one({"_id": self.campaign}, {"failures": 1}) or {}
        failure = (doc.get("failures") or {}).get(stage)
        if failure and failure.get("params_key") == params_key(params):
            return failure.get("message")
        return None

    def last_model(self, model_kind: str) -> dict[str, Any] | None:
        """The campaign's newest registered model of ``model_kind`` (generator, screener)."""
        return self.db.models.find_one({"campaign": self.campaign, "kind": model_kind},
                                       sort=[("created_at", -1)])
