"""The one place that opens the database.

``connect(target)`` takes a MongoDB URI (``mongodb://``, ``mongodb+srv://``; auth, TLS and
replica-set options pass through in the URI) or a directory for the embedded store
(:mod:`mofgen.stores.embedded`), and returns a :class:`MofgenDB` that hands out
pymongo-style collections, maggma ``Store``s over the same collections, the FireWorks
``LaunchPad`` and a jobflow ``JobStore`` — all on the same database. Indexes for the
queries of DESIGN §2 are created on connect.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mofgen.errors import DatabaseError, InvalidInput, NotFound

DEFAULT_DB_DIR = "mofgen-data"
DEFAULT_DATABASE = "mofgen"
ENV_DB = "MOFGEN_DB"
MONGO_TIMEOUT_MS = 5000

# Indexes of the kind-agnostic queries: the state machine, the policy daemon's bookkeeping,
# the dashboard's paging. Each campaign kind declares the ``structures`` indexes of its own
# fields (``indexes``); they are added on connect, so this module names no science.
INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "structures": [
        [("campaign", 1), ("state", 1)],
        [("campaign", 1), ("history.to", 1)],
        [("campaign", 1), ("created_at", 1)],
        [("created_at", -1)],
        [("updated_at", -1)],
        [("state", 1)],
        [("lock.expires", 1)],
        [("identifiers.structure_hash", 1)],
    ],
    "linkers": [
        [("campaign", 1), ("created_at", -1)],
        [("smiles", 1)],
        [("model_version", 1)],
        [("fate", 1)],
    ],
    "models": [[("created_at", -1)], [("kind", 1), ("created_at", -1)]],
    "campaigns": [[("status", 1)]],
    "decisions": [[("campaign", 1), ("time", -1)]],
}


def mask_uri(uri: str) -> str:
    """The URI with any password hidden, for messages and pages.

    A password may hold ``@``, ``:``, ``/`` or ``%40`` (users paste them unescaped), so the
    user information ends at the *last* ``@``: everything between the first ``:`` after
    the user name and that ``@`` is hidden. A ``@`` later in the options hides more than
    needed, never less.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest:
        return uri
    userinfo, _, hostpart = rest.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{hostpart}"


_mask = mask_uri  # the name this module used before


def _scrub(text: str, uri: str) -> str:
    """``text`` (a driver's message about ``uri``) with the URI's password hidden."""
    from urllib.parse import unquote

    _, _, rest = uri.partition("://")
    userinfo = rest.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    for secret in {password, unquote(password)}:
        if len(secret) < 3:  # replacing one letter everywhere would garble the message
            continue
        text = text.replace(secret, "***")
    return text.replace(uri, mask_uri(uri))


@dataclass
class MofgenDB:
    """An open mofgen database (MongoDB server or embedded directory)."""

    target: str
    name: str
    client: Any
    embedded: bool
    _launchpad: Any = field(default=None, repr=False)

    @property
    def db(self):
        return self.client[self.name]

    def collection(self, name: str):
        return self.db[name]

    @property
    def structures(self):
        return self.db["structures"]

    @property
    def linkers(self):
        return self.db["linkers"]

    @property
    def models(self):
        return self.db["models"]

    @property
    def campaigns(self):
        return self.db["campaigns"]

    def ensure_indexes(self) -> None:
        from mofgen.documents import kind_classes

        wanted = {name: list(specs) for name, specs in INDEXES.items()}
        for kind in kind_classes().values():
            wanted["structures"] += [list(keys) for keys in kind.indexes]
        for collection, specs in wanted.items():
            existing = {tuple(map(tuple, info["key"]))
                        for info in self.db[collection].index_information().values()}
            for keys in specs:
                if tuple(keys) not in existing:
                    self.db[collection].create_index(keys)

    # --------------------------------------------------------------- maggma / jobflow
    def maggma_store(self, collection: str, key: str = "_id"):
        """A maggma ``Store`` over one of this database's collections.

        ``store.query({"adsorb.co2_uptake": {"$gt": 1}})`` behaves the same on MongoDB and
        on the embedded store because both hand maggma a pymongo-style collection.
        """
        from mofgen.stores.maggma_store import MofgenStore

        store = MofgenStore(self.target, collection, database=self.name, key=key)
        store._coll = self.db[collection]
        return store

    def job_store(self):
        """jobflow's ``JobStore`` for job outputs (``outputs`` collection); serialisable."""
        from jobflow import JobStore

        from mofgen.stores.maggma_store import MofgenStore

        return JobStore(MofgenStore(self.target, "outputs", database=self.name, key="uuid"))

    def gridfs(self, collection: str = "fs"):
        """GridFS on this database (model checkpoints and other large files)."""
        import gridfs

        if self.embedded:
            import mongomock_ng.gridfs

            mongomock_ng.gridfs.enable_gridfs_integration()
        return gridfs.GridFS(self.db, collection=collection)

    def put_checkpoint(self, version: str, data: bytes) -> Any:
        """Store a model version's checkpoint bytes in GridFS; returns the file id."""
        return self.gridfs().put(data, filename=f"{version}.pt", version=version)

    def read_checkpoint(self, doc: dict[str, Any], kind: str) -> bytes:
        """Checkpoint bytes of a ``models`` document that must be of ``kind``."""
        version = doc["_id"]
        if doc.get("kind", "generator") != kind:
            raise InvalidInput(f"model version {version} is a {doc.get('kind')}, not a {kind}")
        try:
            return self.gridfs().get(doc["checkpoint_file_id"]).read()
        except Exception as exc:  # a missing or damaged GridFS file
            raise InvalidInput(f"checkpoint of {kind} version {version} is unreadable: "
                               f"{type(exc).__name__}") from None

    def launchpad(self):
        """FireWorks' ``LaunchPad`` on this database (its own untouched collections)."""
        if self._launchpad is None:
            from fireworks import LaunchPad

            if self.embedded:
                # LaunchPad always builds a pymongo client; give it a lazy one it never
                # uses and point its collections at the embedded database instead.
                lp = LaunchPad(
                    host="mongodb://embedded.invalid/", uri_mode=True, name=self.name,
                    mongoclient_kwargs={"connect": False}, strm_lvl="WARNING",
                )
                lp.connection = self.client
                lp.db = self.db
                for coll in ("fireworks", "launches", "offline_runs", "fw_id_assigner",
                             "workflows"):
                    setattr(lp, coll, self.db[coll])
                lp.gridfs_fallback = None
                lp.host = self.target
            else:
                lp = LaunchPad(host=self.target, uri_mode=True, name=self.name,
                               strm_lvl="WARNING",
                               mongoclient_kwargs={"serverSelectionTimeoutMS": MONGO_TIMEOUT_MS})
            if lp.fw_id_assigner.count_documents({}) == 0:
                lp.fw_id_assigner.insert_one({"next_fw_id": 1, "next_launch_id": 1})
            self._launchpad = lp
        return self._launchpad

    def close(self) -> None:
        self.client.close()


def resolve_target(target: str | None) -> str:
    """``--db`` value, else ``$MOFGEN_DB``, else ``./mofgen-data``."""
    return target or os.environ.get(ENV_DB) or DEFAULT_DB_DIR


def connect(
    target: str | None = None,
    database: str = DEFAULT_DATABASE,
    create: bool = True,
) -> MofgenDB:
    """Open the database named by ``target`` (URI or directory), creating indexes.

    ``create=False`` is for readers (``status``, dashboard, export): a directory without
    a store is an error instead of a new empty store.
    """
    target = resolve_target(target)
    if target.startswith(("mongodb://", "mongodb+srv://")):
        db = _connect_mongo(target, database)
    elif "://" in target:
        raise InvalidInput(
            f"--db must be a mongodb:// or mongodb+srv:// URI or a directory, got {_mask(target)}"
        )
    else:
        db = _connect_embedded(target, database, create)
    if create:
        db.ensure_indexes()
    return db


def _connect_mongo(uri: str, database: str) -> MofgenDB:
    from pymongo import MongoClient
    from pymongo.errors import ConfigurationError, InvalidURI, PyMongoError

    try:
        client = MongoClient(uri, serverSelectionTimeoutMS=MONGO_TIMEOUT_MS)
        name = client.get_default_database(default=database).name
        client.admin.command("ping")
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        raise InvalidInput(f"invalid MongoDB URI {mask_uri(uri)}: "
                           f"{_scrub(str(exc), uri)}".splitlines()[0]) from None
    except PyMongoError as exc:
        message = _scrub(str(exc), uri).split(",")[0].split("\n")[0]
        raise DatabaseError(f"cannot reach MongoDB at {mask_uri(uri)}: {message}") from None
    return MofgenDB(target=uri, name=name, client=client, embedded=False)


def _connect_embedded(directory: str, database: str, create: bool) -> MofgenDB:
    from mofgen.stores.embedded import STORE_FILENAME, EmbeddedClient, EmbeddedStoreError

    path = Path(directory).expanduser()
    store_file = path / STORE_FILENAME
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"--db {directory} is a file; give a directory or a MongoDB URI")
    if not store_file.exists():
        if not create:
            raise NotFound(f"no mofgen store in {directory} (run `mofgen run --db {directory}`)")
        if path.exists() and any(path.iterdir()):
            raise InvalidInput(
                f"{directory} is not empty and holds no mofgen store; give a new or empty directory"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise DatabaseError(
                f"cannot create the embedded store in {directory}: {exc.strerror}"
            ) from None
    elif create and not os.access(path, os.W_OK):
        raise DatabaseError(f"cannot write to the embedded store in {directory}: permission denied")
    try:
        client = EmbeddedClient(path)
    except EmbeddedStoreError as exc:
        raise DatabaseError(str(exc)) from None
    except OSError as exc:
        raise DatabaseError(f"cannot open the embedded store in {directory}: {exc}") from None
    # absolute: launchers and jobs run in other directories and must find the same store
    return MofgenDB(target=str(path.resolve()), name=database, client=client, embedded=True)
