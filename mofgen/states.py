"""The state machine of a candidate, enforced in the database.

A candidate moves along its kind's ladder (MOFs: generated → validated → simulated →
adsorbed → retrained; crystals skip adsorbed), or leaves to ``rejected`` (a scientific
criterion, with the number) or ``failed`` (a tool broke, with its message; it can be
retried). The legal moves are derived from the ladders the kinds register
(:mod:`mofgen.kinds`); a move only some kinds make is matched against ``kind`` too.

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
from typing import Any

from pydantic import ValidationError
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from mofgen.documents import (
    DEFAULT_KIND,
    HistoryEntry,
    Rejection,
    Stage,
    StageRecord,
    State,
    StructureDoc,
    kind_schema,
    kind_schemas,
    utcnow,
)
from mofgen.errors import IllegalTransition, InvalidInput, NotFound
from mofgen.versions import software_versions

S = State


def transitions() -> dict[State, frozenset[State]]:
    """Legal moves, derived from every registered kind's ladder.

    Each stage moves its ``source`` to its ``target``; any state a stage consumes can also
    end in ``rejected`` or ``failed``; a failed document returns to the state it failed
    from (retry). Terminal states have no way out.
    """
    moves: dict[State, set[State]] = {state: set() for state in State}
    for schema in kind_schemas().values():
        for stage in schema.ladder:
            if stage.source is not None:
                moves[stage.source] |= {stage.target, S.REJECTED, S.FAILED}
                moves[S.FAILED].add(stage.source)
    return {state: frozenset(targets) for state, targets in moves.items()}


def kinds_with_move(source: State, target: State) -> list[str]:
    """The kinds whose ladder has ``source → target`` (failure exits: every kind)."""
    names = []
    for name, schema in kind_schemas().items():
        sources = {s.source for s in schema.ladder if s.source is not None}
        if source in sources and target in (S.REJECTED, S.FAILED) or \
                source is S.FAILED and target in sources or \
                any(s.source is source and s.target is target for s in schema.ladder):
            names.append(name)
    return names


def parse_state(name: str | State) -> State:
    try:
        return State(name)
    except ValueError:
        known = ", ".join(s.value for s in State)
        raise InvalidInput(f"unknown state {name!r} (known: {known})") from None


def check_transition(source: State | str, target: State | str, kind: str = "any") -> None:
    """Raise :class:`IllegalTransition` unless ``source → target`` is allowed for ``kind``
    (``"any"``: for at least one kind)."""
    source, target = parse_state(source), parse_state(target)
    kinds = kinds_with_move(source, target)
    if not kinds or (kind != "any" and kind not in kinds):
        raise IllegalTransition(
            f"{source.value} → {target.value} is not a legal transition"
            + (f" for a {kind}" if kind != "any" else "")
        )


def default_worker_id() -> str:
    """host:pid:thread — unique for every launcher thread or process on a cluster."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class StateMachine:
    """Claims, leases and transitions of ``structures`` documents.

    ``collection`` is any pymongo-style collection (MongoDB or embedded). Stage names
    are those of ``kind``'s ladder; claims take only that kind's documents.
    """

    def __init__(self, collection, worker: str | None = None, kind: str = DEFAULT_KIND):
        self.collection = collection
        self.worker = worker or default_worker_id()
        self.kind = kind
        self.schema = kind_schema(kind)

    def stage(self, stage: str | Stage) -> Stage:
        """A stage of this machine's kind that consumes documents (not ``generate``)."""
        spec = stage if isinstance(stage, Stage) else self.schema.stage(stage)
        if spec.source is None:
            raise InvalidInput(f"stage {spec.name!r} creates documents; it has none to claim")
        return spec

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
        spec = self.stage(stage)
        now = utcnow()
        query: dict[str, Any] = {
            "state": spec.source.value, "kind": self.kind,
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
        spec = self.stage(stage)
        now = utcnow()
        query = {
            "_id": doc_id,
            "state": spec.source.value,
            "kind": self.kind,
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
        self, doc_id: str, stage: str | Stage, record: dict[str, Any] | StageRecord,
        owner: str | None = None, fw_id: int | None = None,
        versions: dict[str, str] | None = None, leased: bool = True,
    ) -> dict:
        """Finish a stage: write its sub-document and move to the stage's target.

        ``leased=False`` is for campaign-scoped stages (retrain) that advance documents
        they never leased; the expected state still guards against a double move.
        """
        spec = self.stage(stage)
        record = _validated_record(spec, record)
        return self.transition(
            doc_id, spec.source, spec.target, owner=(owner or self.worker) if leased else None,
            set_fields={spec.name: record}, fw_id=fw_id, versions=versions,
        )

    def reject(
        self, doc_id: str, stage: str, reason: str, value: float | None = None,
        threshold: float | None = None, record: dict[str, Any] | None = None,
        owner: str | None = None, fw_id: int | None = None,
    ) -> dict:
        """Screen a document out on a scientific criterion, keeping the number that decided."""
        spec = self.stage(stage)
        rejection = Rejection(stage=spec.name, reason=reason, value=value, threshold=threshold)
        fields: dict[str, Any] = {"rejection": rejection.model_dump(exclude_none=True)}
        if record is not None:
            fields[spec.name] = _validated_record(spec, record)
        return self.transition(
            doc_id, spec.source, S.REJECTED, owner=owner or self.worker, set_fields=fields,
            fw_id=fw_id,
        )

    def fail(
        self, doc_id: str, stage: str, message: str, owner: str | None = None,
        fw_id: int | None = None,
    ) -> dict:
        """Record that a tool broke; the document can be retried with :meth:`retry`."""
        spec = self.stage(stage)
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
        kinds = kinds_with_move(source, target)
        if not kinds:
            check_transition(source, target)  # raises, naming the move
        now = utcnow()
        query: dict[str, Any] = {"_id": doc_id, "state": source.value}
        if set(kinds) != set(kind_schemas()):  # a move only some kinds make
            query["kind"] = {"$in": kinds}
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
        if current["state"] == source.value:
            check_transition(source, target, current.get("kind", DEFAULT_KIND))
        if current["state"] != source.value:
            raise IllegalTransition(
                f"{doc_id} is {current['state']}, not {source.value}: another worker moved it"
            )
        holder = (current.get("lock") or {}).get("owner")
        raise IllegalTransition(f"{doc_id}: lease held by {holder!r}, not {owner!r}")


def _validated_record(stage: Stage, record: dict[str, Any] | StageRecord) -> dict[str, Any]:
    """The record as stored: validated with the stage's record class, stamped ``finished``."""
    if isinstance(record, StageRecord):
        record = record.model_dump(exclude_none=True)
    try:
        return stage.record.model_validate({"finished": utcnow(), **record}).model_dump(
            exclude_none=True
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in (stage.name, *first["loc"]))
        raise InvalidInput(f"invalid stage record: {where}: {first['msg']}") from None


__all__ = [
    "Stage", "StateMachine", "StructureDoc", "check_transition", "kinds_with_move",
    "parse_state", "transitions",
]
