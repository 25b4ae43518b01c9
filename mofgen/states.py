"""The state machine of a candidate, enforced in the database.

A candidate moves generated → validated → simulated → adsorbed → retrained (crystals go
simulated → retrained), or leaves to ``rejected`` (a scientific criterion, with the
number) or ``failed`` (a tool broke, with its message; it can be retried).

Every change is one atomic ``find_one_and_update`` whose filter names the expected current
state (and, for leased work, the lease owner): two workers can never advance the same
document twice, on MongoDB or on the embedded store. Work on a stage is claimed with a
lease (owner + expiry); a crashed worker's lease expires and the document can be claimed
again. Each transition appends a ``history`` entry in the same update.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from mofgen.documents import HistoryEntry, Rejection, StageRecord, State, StructureDoc, utcnow
from mofgen.errors import IllegalTransition, InvalidInput, NotFound
from mofgen.versions import software_versions

S = State


@dataclass(frozen=True)
class Stage:
    """A step of the ladder: which state it consumes, which it produces, where it runs."""

    name: str
    source: State
    target: State
    category: str  # FireWorks _category: gpu, cpu or mpi
    lease_seconds: float = 3600.0


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("validate", S.GENERATED, S.VALIDATED, "cpu"),
        Stage("simulate", S.VALIDATED, S.SIMULATED, "cpu"),
        Stage("adsorb", S.SIMULATED, S.ADSORBED, "cpu"),
        Stage("retrain", S.ADSORBED, S.RETRAINED, "gpu"),
    )
}

# Legal moves. Crystals skip adsorption (simulated → retrained); see ``check_transition``.
TRANSITIONS: dict[State, frozenset[State]] = {
    S.GENERATED: frozenset({S.VALIDATED, S.REJECTED, S.FAILED}),
    S.VALIDATED: frozenset({S.SIMULATED, S.REJECTED, S.FAILED}),
    S.SIMULATED: frozenset({S.ADSORBED, S.RETRAINED, S.REJECTED, S.FAILED}),
    S.ADSORBED: frozenset({S.RETRAINED, S.FAILED}),
    S.RETRAINED: frozenset(),
    S.REJECTED: frozenset(),
    S.FAILED: frozenset({S.GENERATED, S.VALIDATED, S.SIMULATED, S.ADSORBED}),  # retry
}


# simulated → adsorbed is for MOFs only, simulated → retrained for crystals only.
_KIND_ONLY = {S.ADSORBED: "mof", S.RETRAINED: "crystal"}


def parse_state(name: str | State) -> State:
    try:
        return State(name)
    except ValueError:
        known = ", ".join(s.value for s in State)
        raise InvalidInput(f"unknown state {name!r} (known: {known})") from None


def parse_stage(name: str) -> Stage:
    try:
        return STAGES[name]
    except KeyError:
        raise InvalidInput(f"unknown stage {name!r} (known: {', '.join(STAGES)})") from None


def check_transition(source: State | str, target: State | str, kind: str = "mof") -> None:
    """Raise :class:`IllegalTransition` unless ``source → target`` is allowed for ``kind``."""
    source, target = parse_state(source), parse_state(target)
    allowed = TRANSITIONS[source]
    if kind == "mof" and source is S.SIMULATED:  # kind="any": checked in the query
        allowed = allowed - {S.RETRAINED}
    if kind == "crystal" and source is S.SIMULATED:
        allowed = allowed - {S.ADSORBED}
    if target not in allowed:
        raise IllegalTransition(
            f"{source.value} → {target.value} is not a legal transition"
            + (f" for a {kind}" if kind != "any" else "")
        )


def default_worker_id() -> str:
    """host:pid:thread — unique for every launcher thread or process on a cluster."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class StateMachine:
    """Claims, leases and transitions of ``structures`` documents.

    ``collection`` is any pymongo-style collection (MongoDB or embedded).
    """

    def __init__(self, collection, worker: str | None = None):
        self.collection = collection
        self.worker = worker or default_worker_id()

    # ------------------------------------------------------------------ creation
    def create(self, doc: StructureDoc, fw_id: int | None = None) -> bool:
        """Insert a new ``generated`` document; ``False`` if that id already exists."""
        if doc.state != S.GENERATED.value:
            raise IllegalTransition(f"new documents start as generated, not {doc.state}")
        doc = StructureDoc.from_mongo(dict(doc))  # re-validate: it may have been built unchecked
        now = utcnow()
        entry = HistoryEntry(
            from_state="none", to_state=S.GENERATED.value, time=now, worker=self.worker,
            fw_id=fw_id, versions=software_versions(),
        )
        data = doc.model_copy(update={"history": [entry], "created_at": now, "updated_at": now})
        try:
            self.collection.insert_one(data.to_mongo())
        except DuplicateKeyError:
            return False
        return True

    # ------------------------------------------------------------------ leases
    def claim(
        self,
        stage: str,
        campaign: str | None = None,
        sort: list[tuple[str, int]] | None = None,
        extra_filter: dict[str, Any] | None = None,
        lease_seconds: float | None = None,
        owner: str | None = None,
    ) -> dict | None:
        """Lease the first free document waiting for ``stage`` (in ``sort`` order).

        Returns the leased document, or ``None`` when nothing is waiting.
        """
        spec = parse_stage(stage)
        now = utcnow()
        query: dict[str, Any] = {
            "state": spec.source.value,
            "$or": [{"lock": None}, {"lock.expires": {"$lt": now}}],
        }
        if campaign is not None:
            query["campaign"] = campaign
        if extra_filter:
            query.update(extra_filter)
        return self.collection.find_one_and_update(
            query,
            self._lease_update(spec, owner, now, lease_seconds),
            sort=sort or [("created_at", 1)],
            return_document=ReturnDocument.AFTER,
        )

    def claim_id(
        self, doc_id: str, stage: str, lease_seconds: float | None = None, owner: str | None = None
    ) -> dict | None:
        """Lease one named document for ``stage``; ``None`` if it is not free and waiting."""
        spec = parse_stage(stage)
        now = utcnow()
        query = {
            "_id": doc_id,
            "state": spec.source.value,
            "$or": [{"lock": None}, {"lock.expires": {"$lt": now}}],
        }
        return self.collection.find_one_and_update(
            query, self._lease_update(spec, owner, now, lease_seconds),
            return_document=ReturnDocument.AFTER,
        )

    def _lease_update(self, spec: Stage, owner, now, lease_seconds) -> dict:
        seconds = lease_seconds if lease_seconds is not None else spec.lease_seconds
        lease = {
            "owner": owner or self.worker, "stage": spec.name, "acquired": now,
            "expires": now + dt.timedelta(seconds=seconds),
        }
        return {"$set": {"lock": lease, "updated_at": now}, "$inc": {f"attempts.{spec.name}": 1}}

    def renew(self, doc_id: str, seconds: float, owner: str | None = None) -> bool:
        """Extend a lease still held by ``owner`` (long calculations call this)."""
        result = self.collection.update_one(
            {"_id": doc_id, "lock.owner": owner or self.worker},
            {"$set": {"lock.expires": utcnow() + dt.timedelta(seconds=seconds)}},
        )
        return result.modified_count == 1

    def release(self, doc_id: str, owner: str | None = None) -> bool:
        """Give a lease back without a transition (e.g. a worker shutting down)."""
        result = self.collection.update_one(
            {"_id": doc_id, "lock.owner": owner or self.worker}, {"$unset": {"lock": ""}}
        )
        return result.modified_count == 1

    def expired_leases(self, campaign: str | None = None) -> list[dict]:
        query: dict[str, Any] = {"lock.expires": {"$lt": utcnow()}}
        if campaign is not None:
            query["campaign"] = campaign
        return list(self.collection.find(query, {"_id": 1, "state": 1, "lock": 1}))

    # ------------------------------------------------------------------ transitions
    def complete(
        self, doc_id: str, stage: str, record: dict[str, Any], owner: str | None = None,
        fw_id: int | None = None, versions: dict[str, str] | None = None,
    ) -> dict:
        """Finish a leased stage: write its sub-document and move to the stage's target."""
        spec = parse_stage(stage)
        record = _validated_record(record)
        return self.transition(
            doc_id, spec.source, spec.target, owner=owner or self.worker,
            set_fields={spec.name: record}, fw_id=fw_id, versions=versions,
        )

    def reject(
        self, doc_id: str, stage: str, reason: str, value: float | None = None,
        threshold: float | None = None, record: dict[str, Any] | None = None,
        owner: str | None = None, fw_id: int | None = None,
    ) -> dict:
        """Screen a document out on a scientific criterion, keeping the number that decided."""
        spec = parse_stage(stage)
        rejection = Rejection(stage=spec.name, reason=reason, value=value, threshold=threshold)
        fields: dict[str, Any] = {"rejection": rejection.model_dump(exclude_none=True)}
        if record is not None:
            fields[spec.name] = _validated_record(record)
        return self.transition(
            doc_id, spec.source, S.REJECTED, owner=owner or self.worker, set_fields=fields,
            fw_id=fw_id,
        )

    def fail(
        self, doc_id: str, stage: str, message: str, owner: str | None = None,
        fw_id: int | None = None,
    ) -> dict:
        """Record that a tool broke; the document can be retried with :meth:`retry`."""
        spec = parse_stage(stage)
        current = self.collection.find_one({"_id": doc_id}, {"attempts": 1})
        attempts = (current or {}).get("attempts", {}).get(spec.name, 1)
        failure = {"stage": spec.name, "message": message[:4000], "attempts": attempts,
                   "failed_from": spec.source.value}
        return self.transition(
            doc_id, spec.source, S.FAILED, owner=owner or self.worker,
            set_fields={"failure": failure}, fw_id=fw_id,
        )

    def retry(self, doc_id: str) -> dict:
        """Send a failed document back to the state it failed from."""
        current = self.collection.find_one({"_id": doc_id}, {"state": 1, "failure": 1})
        if current is None:
            raise NotFound(f"no structure {doc_id!r}")
        if current["state"] != S.FAILED.value:
            raise IllegalTransition(f"{doc_id} is {current['state']}, not failed")
        back = parse_state(current["failure"]["failed_from"])
        return self.transition(doc_id, S.FAILED, back, unset_fields=["failure"])

    def transition(
        self,
        doc_id: str,
        source: State | str,
        target: State | str,
        owner: str | None = None,
        set_fields: dict[str, Any] | None = None,
        unset_fields: list[str] | None = None,
        fw_id: int | None = None,
        versions: dict[str, str] | None = None,
    ) -> dict:
        """The one atomic conditional update every state change goes through.

        Matches ``_id`` *and* the expected ``source`` state (and the lease ``owner`` when
        given); if the document moved on or the lease was lost, nothing is written and
        :class:`IllegalTransition` says why.
        """
        source, target = parse_state(source), parse_state(target)
        for protected in ("state", "history", "_id", "lock"):
            if protected in (set_fields or {}):
                raise InvalidInput(f"{protected!r} is written by the state machine only")
        check_transition(source, target, kind="any")
        now = utcnow()
        query: dict[str, Any] = {"_id": doc_id, "state": source.value}
        if source is S.SIMULATED and target in _KIND_ONLY:
            query["kind"] = _KIND_ONLY[target]
        if owner is not None:
            query["lock.owner"] = owner
        current = self.collection.find_one(query, {"lock": 1}) if owner is not None else None
        acquired = (current or {}).get("lock", {}).get("acquired")
        duration = None
        if acquired is not None:
            if acquired.tzinfo is None:
                acquired = acquired.replace(tzinfo=dt.timezone.utc)
            duration = (now - acquired).total_seconds()
        entry = HistoryEntry(
            from_state=source.value, to_state=target.value, time=now,
            worker=owner or self.worker, fw_id=fw_id, duration_s=duration,
            versions={**software_versions(), **(versions or {})},
        ).model_dump(by_alias=True, exclude_none=True)
        update: dict[str, Any] = {
            "$set": {"state": target.value, "updated_at": now, **(set_fields or {})},
            "$unset": {"lock": "", **{name: "" for name in unset_fields or []}},
            "$push": {"history": entry},
        }
        doc = self.collection.find_one_and_update(
            query, update, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            self._explain_refusal(doc_id, source, target, owner)
        return doc

    def _explain_refusal(
        self, doc_id: str, source: State, target: State, owner: str | None
    ) -> None:
        current = self.collection.find_one({"_id": doc_id}, {"state": 1, "lock": 1, "kind": 1})
        if current is None:
            raise NotFound(f"no structure {doc_id!r}")
        if current["state"] == source.value and source is S.SIMULATED:
            check_transition(source, target, current.get("kind", "mof"))
        if current["state"] != source.value:
            raise IllegalTransition(
                f"{doc_id} is {current['state']}, not {source.value}: another worker moved it"
            )
        holder = (current.get("lock") or {}).get("owner")
        raise IllegalTransition(f"{doc_id}: lease held by {holder!r}, not {owner!r}")


def _validated_record(record: dict[str, Any]) -> dict[str, Any]:
    try:
        return StageRecord.model_validate({"finished": utcnow(), **record}).model_dump(
            exclude_none=True
        )
    except ValidationError as exc:
        raise InvalidInput(f"invalid stage record: {exc.errors()[0]['msg']}") from None


def state_counts(collection, campaign: str) -> dict[str, int]:
    """How many documents are in each state now."""
    return {
        state.value: collection.count_documents({"campaign": campaign, "state": state.value})
        for state in State
    }


def reached_counts(collection, campaign: str) -> dict[str, int]:
    """How many documents ever reached each state (from their history)."""
    return {
        state.value: collection.count_documents({"campaign": campaign, "history.to": state.value})
        for state in State
    }


__all__ = [
    "STAGES", "TRANSITIONS", "Stage", "StateMachine", "check_transition", "parse_stage",
    "parse_state", "reached_counts", "state_counts", "StructureDoc",
]
