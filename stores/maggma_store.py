"""A maggma ``Store`` that serialises as (``--db`` target, collection).

jobflow puts its ``JobStore`` into every Firework's spec and rebuilds it on the worker;
``MongoStore.from_collection`` cannot be rebuilt, and a plain ``MongoStore`` cannot open the
embedded store. ``MofgenStore`` reconnects through :func:`mofgen.stores.connection.connect`
wherever it is deserialised, so the same spec works on a cluster (URI) and on a laptop
(directory).
"""

from __future__ import annotations

from typing import Any

from maggma.stores import MongoStore


class MofgenStore(MongoStore):
    def __init__(
        self, target: str, collection_name: str, database: str = "mofgen",
        key: str = "task_id", **kwargs: Any,
    ):
        self.target = target
        kwargs.pop("host", None)
        super().__init__(database=database, collection_name=collection_name, key=key, **kwargs)

    @property
    def name(self) -> str:
        from mofgen.stores.connection import mask_uri

        return f"mofgen://{mask_uri(self.target)}/{self.database}/{self.collection_name}"

    def connect(self, force_reset: bool = False) -> None:
        if self._coll is None or force_reset:
            from mofgen.stores.connection import connect

            handle = connect(self.target, database=self.database, create=True)
            self._coll = handle.db[self.collection_name]

    def close(self) -> None:
        self._coll = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MofgenStore) and (self.target, self.database,
                                                   self.collection_name) == (
            other.target, other.database, other.collection_name)

    def __hash__(self) -> int:
        return hash((self.target, self.database, self.collection_name))
