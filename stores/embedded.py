"""The embedded store: MongoDB's API on a durable SQLite file, for machines without a server.

Why this design
---------------
FireWorks, jobflow and maggma all speak pymongo. mongomock-ng implements pymongo's
query, update and aggregation language faithfully but keeps documents in a Python dict,
and its persistence add-on writes only at exit. Here mongomock-ng keeps doing the query
language while every document lives in SQLite:

* **Durable.** Each pymongo call that writes (``insert_one``, ``find_one_and_update``,
  ``bulk_write`` …) is one SQLite transaction in WAL mode with ``synchronous=FULL``: when
  the call returns, the change is in the write-ahead log on disk. A SIGKILL loses only
  calls still in flight, and the next open replays the log.
* **Concurrent.** ``BEGIN IMMEDIATE`` serialises writers across threads *and* processes
  (SQLite's file locks), so ``find_one_and_update`` is atomic exactly as on MongoDB.
  Readers never block writers (WAL snapshots): ``mofgen status`` or the dashboard read a
  live run.
* **Indexed.** ``create_index`` paths get multikey entries (Mongo semantics: array
  elements, missing = null) in a side table. Conditions on indexed paths (equality,
  ``$in``, ranges, ``_id``) pre-select candidates in SQL; a single-key sort on an indexed
  path with a limit streams in index order and stops early. mongomock-ng then applies the
  full filter to the candidates, so results are exact whatever was pushed down.

Only this module knows about SQLite; everything else sees pymongo-style objects.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import pickle
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bson
import mongomock_ng
from bson import ObjectId
from mongomock_ng import store as mm_store
from mongomock_ng.collection import Collection as _MMCollection
from mongomock_ng.collection import Cursor as _MMCursor
from mongomock_ng.collection import _cast_document_class
from mongomock_ng.database import Database as _MMDatabase

STORE_FILENAME = "mofgen.sqlite"
FORMAT_VERSION = 1
BUSY_TIMEOUT_MS = 120_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS collections (
    cid INTEGER PRIMARY KEY, db TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (db, name));
CREATE TABLE IF NOT EXISTS indexes (
    cid INTEGER NOT NULL, name TEXT NOT NULL, spec BLOB NOT NULL, PRIMARY KEY (cid, name));
CREATE TABLE IF NOT EXISTS docs (
    rowid INTEGER PRIMARY KEY, cid INTEGER NOT NULL, key TEXT NOT NULL, doc BLOB NOT NULL,
    UNIQUE (cid, key));
CREATE TABLE IF NOT EXISTS idx (
    cid INTEGER NOT NULL, path TEXT NOT NULL, rank INTEGER NOT NULL, value,
    docrow INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS idx_lookup ON idx (cid, path, rank, value, docrow);
CREATE INDEX IF NOT EXISTS idx_entry ON idx (docrow, path, rank, value);
"""

# BSON comparison order of types (MongoDB "Comparison/Sort Order"); numbers share a rank.
_RANK_NULL, _RANK_NUMBER, _RANK_STRING, _RANK_OBJECT, _RANK_ARRAY = 1, 2, 3, 4, 5
_RANK_BINARY, _RANK_OID, _RANK_BOOL, _RANK_DATE, _RANK_OTHER = 6, 7, 8, 9, 10
_EPOCH = _dt.datetime(1970, 1, 1)


class EmbeddedStoreError(RuntimeError):
    """The store file cannot be opened or is not a mofgen store."""


# --------------------------------------------------------------------------- encoding
def _doc_key(_id: Any) -> str:
    """A text primary key that keeps MongoDB's distinction between id types."""
    if isinstance(_id, str):
        return "s:" + _id
    if isinstance(_id, bool):
        return f"b:{int(_id)}"
    if isinstance(_id, int):
        return f"i:{_id}"
    if isinstance(_id, ObjectId):
        return "o:" + str(_id)
    return "x:" + bson.encode({"v": _id}).hex()


def _index_value(value: Any) -> tuple[int, Any]:
    """(rank, sortable SQL value) of one indexed leaf value."""
    if value is None:
        return _RANK_NULL, None
    if isinstance(value, bool):
        return _RANK_BOOL, int(value)
    if isinstance(value, (int, float)):
        return _RANK_NUMBER, None if value != value else value  # NaN sorts as null
    if isinstance(value, str):
        return _RANK_STRING, value
    if isinstance(value, ObjectId):
        return _RANK_OID, str(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return _RANK_DATE, (value - _EPOCH) // _dt.timedelta(microseconds=1)
    if isinstance(value, dict):
        return _RANK_OBJECT, None
    if isinstance(value, list):
        return _RANK_ARRAY, None
    if isinstance(value, (bytes, bson.Binary)):
        return _RANK_BINARY, None
    return _RANK_OTHER, None


def _scalar_operand(value: Any) -> bool:
    """Whether a query operand can be matched against index entries exactly."""
    return value is None or isinstance(
        value, (bool, int, float, str, ObjectId, _dt.datetime)
    ) and not (isinstance(value, float) and value != value)


def _leaf_values(value: Any, parts: list[str]) -> Iterator[Any]:
    """Values a multikey index holds for a dotted path (arrays expanded, missing → None)."""
    if not parts:
        if isinstance(value, list):
            if not value:
                yield []  # indexed as an empty array, which {path: null} does not match
            yield from value
        else:
            yield value
        return
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        yield from _leaf_values(value[head], rest) if head in value else iter([None])
    elif isinstance(value, list):
        found = False
        if head.isdigit() and int(head) < len(value):
            found = True
            yield from _leaf_values(value[int(head)], rest)
        for element in value:
            if isinstance(element, (dict, list)):
                found = True
                yield from _leaf_values(element, parts)
        if not found:
            yield None
    else:
        yield None


def _index_entries(doc: dict, paths: Iterable[str]) -> list[tuple[str, int, Any]]:
    entries: set[tuple[str, int, Any]] = set()
    for path in paths:
        for leaf in _leaf_values(doc, path.split(".")):
            entries.add((path, *_index_value(leaf)))
    return list(entries)


# --------------------------------------------------------------------------- pushdown
class _Pushdown:
    """SQL conditions on ``d.rowid``/``d.key`` that every matching document satisfies.

    Conditions that cannot be expressed are left out, which makes the SQL a superset of
    the matches; ``exact`` stays true only when every part of the filter was expressed,
    so the SQL alone decides (counts need no document decoding then).
    """

    def __init__(self, spec: Any, indexed: set[str], cid: int, correlated: bool = False):
        """``correlated``: test each row with EXISTS (for scans that stop early) instead
        of materialising every matching row id first (for counts and full reads)."""
        self.indexed, self.cid = indexed, cid
        self.sub = ("EXISTS (SELECT 1 FROM idx INDEXED BY idx_entry WHERE docrow = d.rowid"
                    " AND cid = ? AND path = ? AND {})" if correlated else
                    "d.rowid IN (SELECT docrow FROM idx WHERE cid = ? AND path = ? AND {})")
        self.exact = isinstance(spec, dict)
        self.ranks: dict[str, int] = {}  # path → the one type rank a range on it admits
        self.conditions = self._translate(spec) if self.exact else []

    @property
    def where(self) -> str:
        return "".join(f" AND {sql}" for sql, _ in self.conditions)

    @property
    def params(self) -> list:
        return [p for _, ps in self.conditions for p in ps]

    def _translate(self, spec: Any) -> list[tuple[str, list]]:
        if not isinstance(spec, dict):
            self.exact = False
            return []
        conditions: list[tuple[str, list]] = []
        for field, cond in spec.items():
            if field == "$and" and isinstance(cond, list) and cond:
                for clause in cond:
                    conditions.extend(self._translate(clause))
            elif field == "$or" and isinstance(cond, list) and cond:
                branches = [self._translate(clause) for clause in cond]
                if all(branches):
                    sql = " OR ".join(
                        "(" + " AND ".join(s for s, _ in branch) + ")" for branch in branches
                    )
                    params = [p for branch in branches for _, ps in branch for p in ps]
                    conditions.append((f"({sql})", params))
                else:
                    self.exact = False
            elif field == "_id":
                conditions.extend(self._id(cond))
            elif field in self.indexed:
                conditions.extend(self._field(field, cond))
            else:
                self.exact = False
        return conditions

    def _id(self, cond: Any) -> list[tuple[str, list]]:
        if isinstance(cond, dict) and set(cond) == {"$eq"}:
            cond = cond["$eq"]
        if _scalar_operand(cond) and cond is not None:
            return [("d.key = ?", [_doc_key(cond)])]
        if isinstance(cond, dict) and set(cond) == {"$in"} and isinstance(cond["$in"], list):
            values = cond["$in"]
            if values and all(_scalar_operand(v) and v is not None for v in values):
                marks = ",".join("?" * len(values))
                return [(f"d.key IN ({marks})", [_doc_key(v) for v in values])]
        self.exact = False
        return []

    def _field(self, path: str, cond: Any) -> list[tuple[str, list]]:
        sub = self.sub

        def equal_any(values: list) -> tuple[str, list]:
            pairs = [_index_value(v) for v in values]
            where = " OR ".join("(rank = ? AND value IS ?)" for _ in pairs)
            return sub.format(f"({where})"), [self.cid, path, *[x for p in pairs for x in p]]

        if _scalar_operand(cond):
            return [equal_any([cond])]
        if not isinstance(cond, dict) or not cond or not all(k.startswith("$") for k in cond):
            self.exact = False
            return []
        conditions = []
        for op, operand in cond.items():
            if op == "$eq" and _scalar_operand(operand):
                conditions.append(equal_any([operand]))
            elif op == "$in" and isinstance(operand, list) and operand and all(
                _scalar_operand(v) for v in operand
            ):
                conditions.append(equal_any(operand))
            elif op in _RANGE_SQL and _scalar_operand(operand) and operand is not None:
                rank, value = _index_value(operand)
                self.ranks[path] = rank
                where = f"rank = ? AND value {_RANGE_SQL[op]} ?"
                conditions.append((sub.format(where), [self.cid, path, rank, value]))
            else:
                self.exact = False
        return conditions


_RANGE_SQL = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


# --------------------------------------------------------------------------- engine
class SqliteEngine:
    """One SQLite file holding every database and collection of an embedded store.

    Connections are per thread (sqlite3 objects must not cross threads); each process
    opens its own. ``transaction`` nests: only the outermost level talks to SQLite.
    """

    def __init__(self, path: Path, synchronous: str | None = None):
        self.path = Path(path)
        self.synchronous = (synchronous or os.environ.get("MOFGEN_EMBEDDED_SYNC", "FULL")).upper()
        self._local = threading.local()
        self._all_connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._schema_cache: dict[int, tuple[str, dict]] = {}
        try:
            conn = self.connection()
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if row is None:
                conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('format', ?)", (str(FORMAT_VERSION),)
                )
            elif int(row[0]) != FORMAT_VERSION:
                raise EmbeddedStoreError(
                    f"{self.path} has store format {row[0]}, this mofgen reads {FORMAT_VERSION}"
                )
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_token', '')")
        except sqlite3.DatabaseError as exc:
            raise EmbeddedStoreError(f"{self.path} is not a mofgen embedded store ({exc})") from exc

    # connections and transactions ------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise EmbeddedStoreError(f"cannot switch {self.path} to WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            self._local.conn = conn
            self._local.depth = 0
            self._local.write = False
            with self._lock:
                self._all_connections.append(conn)
        return conn

    @contextmanager
    def transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One atomic unit: ``BEGIN IMMEDIATE`` for writes (serialised across processes)."""
        conn = self.connection()
        local = self._local
        if local.depth:
            if write and not local.write:
                raise EmbeddedStoreError("cannot write inside a read-only transaction")
            local.depth += 1
            try:
                yield conn
            finally:
                local.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        local.depth, local.write = 1, write
        try:
            yield conn
        except BaseException:
            local.depth = 0
            conn.execute("ROLLBACK")
            raise
        local.depth = 0
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all_connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all_connections.clear()
        self._local = threading.local()

    # catalogue --------------------------------------------------------------------
    def cid(self, db: str, name: str, create: bool) -> int | None:
        conn = self.connection()
        row = conn.execute(
            "SELECT cid FROM collections WHERE db = ? AND name = ?", (db, name)
        ).fetchone()
        if row is not None:
            return row[0]
        if not create:
            return None
        with self.transaction(write=True):
            conn.execute("INSERT OR IGNORE INTO collections (db, name) VALUES (?, ?)", (db, name))
            return conn.execute(
                "SELECT cid FROM collections WHERE db = ? AND name = ?", (db, name)
            ).fetchone()[0]

    def collection_names(self, db: str) -> list[str]:
        rows = self.connection().execute(
            "SELECT name FROM collections WHERE db = ? ORDER BY cid", (db,)
        )
        return [r[0] for r in rows]

    def database_names(self) -> list[str]:
        rows = self.connection().execute("SELECT DISTINCT db FROM collections ORDER BY db")
        return [r[0] for r in rows]

    def indexes(self, cid: int) -> dict[str, dict]:
        """Index specs of a collection, cached until any process changes any index."""
        conn = self.connection()
        token = conn.execute("SELECT value FROM meta WHERE key = 'schema_token'").fetchone()[0]
        cached = self._schema_cache.get(cid)
        if cached is not None and cached[0] == token:
            return cached[1]
        rows = conn.execute("SELECT name, spec FROM indexes WHERE cid = ?", (cid,))
        specs = {name: pickle.loads(spec) for name, spec in rows}
        self._schema_cache[cid] = (token, specs)
        return specs

    def set_indexes(self, cid: int, specs: dict[str, dict]) -> None:
        """Store index specs; index entries are added or removed only for changed paths."""
        with self.transaction(write=True) as conn:
            before = indexed_paths(self.indexes(cid))
            conn.execute("DELETE FROM indexes WHERE cid = ?", (cid,))
            conn.executemany(
                "INSERT INTO indexes VALUES (?, ?, ?)",
                [(cid, name, pickle.dumps(spec)) for name, spec in specs.items()],
            )
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_token'", (uuid.uuid4().hex,)
            )
            after = indexed_paths(specs)
            for path in before - after:
                conn.execute("DELETE FROM idx WHERE cid = ? AND path = ?", (cid, path))
            self._index_paths(conn, cid, after - before)

    def _index_paths(self, conn: sqlite3.Connection, cid: int, paths: set[str]) -> None:
        if not paths:
            return
        rows = conn.execute("SELECT rowid, doc FROM docs WHERE cid = ?", (cid,))
        conn.executemany(
            "INSERT INTO idx VALUES (?, ?, ?, ?, ?)",
            [
                (cid, path, rank, value, rowid)
                for rowid, blob in rows.fetchall()
                for path, rank, value in _index_entries(bson.decode(blob), paths)
            ],
        )


def indexed_paths(specs: dict[str, dict]) -> set[str]:
    paths = set()
    for spec in specs.values():
        for key, direction in spec.get("key", []):
            if key != "_id" and not key.startswith("$") and direction in (1, -1):
                paths.add(key)
    return paths


# --------------------------------------------------------------------------- mongomock stores
class SqliteCollectionStore(mm_store.CollectionStore):
    """mongomock-ng's per-collection storage, backed by the engine instead of a dict."""

    def __init__(self, engine: SqliteEngine, db: str, name: str):
        self._engine, self._db, self.name = engine, db, name
        self._is_force_created = False
        self.options: dict = {}
        self._ttl_indexes: dict = {}
        self._local = threading.local()

    # catalogue --------------------------------------------------------------------
    def _get_cid(self, create: bool = False) -> int | None:
        # Not cached: another process may drop and re-create the collection.
        return self._engine.cid(self._db, self.name, create)

    @property
    def is_created(self) -> bool:
        return self._engine.cid(self._db, self.name, False) is not None

    def create(self, **options: Any) -> None:
        super().create(**options)
        self._get_cid(create=True)

    def drop(self) -> None:
        cid = self._engine.cid(self._db, self.name, False)
        if cid is None:
            return
        with self._engine.transaction(write=True) as conn:
            for table in ("idx", "docs", "indexes", "collections"):
                conn.execute(f"DELETE FROM {table} WHERE cid = ?", (cid,))
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_token'", (uuid.uuid4().hex,)
            )

    @property
    def indexes(self) -> dict[str, dict]:
        cid = self._get_cid()
        return dict(self._engine.indexes(cid)) if cid is not None else {}

    @indexes.setter
    def indexes(self, specs: dict[str, dict]) -> None:
        self._engine.set_indexes(self._get_cid(create=True), dict(specs))

    def create_index(self, index_name: str, index_dict: dict) -> None:
        specs = self.indexes
        if specs.get(index_name) == index_dict:
            return  # already there: creating an index is idempotent, as on MongoDB
        specs[index_name] = index_dict
        self.indexes = specs

    def drop_index(self, index_name: str) -> None:
        specs = self.indexes
        del specs[index_name]
        self.indexes = specs

    def begin_transaction(self) -> None:
        raise NotImplementedError("client sessions with transactions are not supported")

    def _remove_expired_documents(self) -> None:
        """TTL indexes are not supported by the embedded store."""

    # documents --------------------------------------------------------------------
    def _indexed(self) -> set[str]:
        cid = self._get_cid()
        return indexed_paths(self._engine.indexes(cid)) if cid is not None else set()

    @property
    def is_empty(self) -> bool:
        return len(self) == 0

    def __len__(self) -> int:
        cid = self._get_cid()
        if cid is None:
            return 0
        sql = "SELECT COUNT(*) FROM docs WHERE cid = ?"
        return self._engine.connection().execute(sql, (cid,)).fetchone()[0]

    def __contains__(self, key: Any) -> bool:
        cid = self._get_cid()
        if cid is None:
            return False
        sql = "SELECT 1 FROM docs WHERE cid = ? AND key = ?"
        return self._engine.connection().execute(sql, (cid, _doc_key(key))).fetchone() is not None

    def __getitem__(self, key: Any) -> dict:
        cid = self._get_cid()
        row = None
        if cid is not None:
            sql = "SELECT doc FROM docs WHERE cid = ? AND key = ?"
            row = self._engine.connection().execute(sql, (cid, _doc_key(key))).fetchone()
        if row is None:
            raise KeyError(key)
        return bson.decode(row[0])

    def __setitem__(self, key: Any, doc: dict) -> None:
        cid = self._get_cid(create=True)
        blob = bson.encode(doc)
        with self._engine.transaction(write=True) as conn:
            rowid = conn.execute(
                "INSERT INTO docs (cid, key, doc) VALUES (?, ?, ?) "
                "ON CONFLICT (cid, key) DO UPDATE SET doc = excluded.doc RETURNING rowid",
                (cid, _doc_key(key), blob),
            ).fetchone()[0]
            conn.execute("DELETE FROM idx WHERE docrow = ?", (rowid,))
            paths = self._indexed()
            if paths:
                conn.executemany(
                    "INSERT INTO idx VALUES (?, ?, ?, ?, ?)",
                    [(cid, p, r, v, rowid) for p, r, v in _index_entries(doc, paths)],
                )

    def __delitem__(self, key: Any) -> None:
        cid = self._get_cid()
        with self._engine.transaction(write=True) as conn:
            row = conn.execute(
                "DELETE FROM docs WHERE cid = ? AND key = ? RETURNING rowid", (cid, _doc_key(key))
            ).fetchone()
            if row is None:
                raise KeyError(key)
            conn.execute("DELETE FROM idx WHERE docrow = ?", (row[0],))

    @property
    def documents(self) -> Iterator[dict]:
        restricted = getattr(self._local, "restricted", None)
        if restricted is not None:
            yield from restricted
            return
        cid = self._get_cid()
        if cid is None:
            return
        sql = "SELECT doc FROM docs WHERE cid = ? ORDER BY rowid"
        for (blob,) in self._engine.connection().execute(sql, (cid,)).fetchall():
            yield bson.decode(blob)

    def count(self, spec: Any) -> int | None:
        """``count_documents`` in SQL alone when the filter translates exactly, else None."""
        cid = self._get_cid()
        if cid is None:
            return 0
        pushdown = _Pushdown(spec, self._indexed(), cid)
        if not pushdown.exact:
            return None
        sql = f"SELECT COUNT(*) FROM docs d WHERE d.cid = ?{pushdown.where}"
        return self._engine.connection().execute(sql, [cid, *pushdown.params]).fetchone()[0]

    @contextmanager
    def restrict_documents(self, docs: list[dict]) -> Iterator[None]:
        """Make ``documents`` yield only ``docs`` (used to limit unique-index checks)."""
        self._local.restricted = docs
        try:
            yield
        finally:
            self._local.restricted = None

    def candidates(self, spec: Any, sort: Any = None, limit: int | None = None) -> list[dict]:
        """Documents that may match ``spec``, in ``sort`` order when that can be pushed down.

        With a limit and a pushable sort the SQL cursor is read lazily and reading stops
        once ``limit`` documents pass mongomock-ng's exact filter.
        """
        from mongomock_ng.filtering import filter_applies

        cid = self._get_cid()
        if cid is None:
            return []
        indexed = self._indexed()
        sort_key = _single_sort(sort)
        stream = sort_key is not None and sort_key[0] in indexed
        by_id = isinstance(spec, dict) and "_id" in spec  # a few rows: check them one by one
        pushdown = _Pushdown(spec, indexed, cid,
                             correlated=by_id or (stream and limit is not None))
        where, params = pushdown.where, pushdown.params
        conn = self._engine.connection()
        if stream:
            path, direction = sort_key
            order = "DESC" if direction < 0 else "ASC"
            # a range on the sort path admits one type: skip the others (nulls first!)
            rank = pushdown.ranks.get(path)
            only = " AND s.rank = ?" if rank is not None else ""
            sql = (
                "SELECT d.key, d.doc FROM idx s JOIN docs d ON d.rowid = s.docrow "
                f"WHERE s.cid = ? AND s.path = ?{only}{where} "
                f"ORDER BY s.rank {order}, s.value {order}, s.docrow"
            )
            rank_param = [rank] if rank is not None else []
            rows: Iterable = conn.execute(sql, [cid, path, *rank_param, *params])
        else:
            sql = f"SELECT d.key, d.doc FROM docs d WHERE d.cid = ?{where} ORDER BY d.rowid"
            rows = conn.execute(sql, [cid, *params])
            limit = limit if sort is None else None
        if limit is None:
            rows = rows.fetchall()
        out, seen = [], set()
        for key, blob in rows:
            if key in seen:
                continue
            seen.add(key)
            doc = bson.decode(blob)
            if pushdown.exact or filter_applies(spec, doc):
                out.append(doc)
                if limit is not None and len(out) >= limit:
                    break
        return out


def _single_sort(sort: Any) -> tuple[str, int] | None:
    if not sort:
        return None
    items = list(sort.items()) if isinstance(sort, dict) else list(sort)
    if len(items) != 1:
        return None
    item = items[0]
    if isinstance(item, str):
        return item, 1
    key, direction = item
    return (key, direction) if isinstance(key, str) and direction in (1, -1) else None


class SqliteDatabaseStore(mm_store.DatabaseStore):
    def __init__(self, engine: SqliteEngine, name: str):
        self._engine, self._name = engine, name
        self._stores: dict[str, SqliteCollectionStore] = {}

    def __getitem__(self, col_name: str) -> SqliteCollectionStore:
        if col_name not in self._stores:
            self._stores[col_name] = SqliteCollectionStore(self._engine, self._name, col_name)
        return self._stores[col_name]

    def __contains__(self, col_name: str) -> bool:
        return col_name in self._engine.collection_names(self._name)

    @property
    def _collections(self) -> dict[str, SqliteCollectionStore]:
        return {name: self[name] for name in self._engine.collection_names(self._name)}

    def list_created_collection_names(self) -> list[str]:
        return self._engine.collection_names(self._name)

    def create_collection(self, name: str, **options: Any) -> SqliteCollectionStore:
        collection = self[name]
        collection.create(**options)
        return collection

    def rename(self, name: str, new_name: str) -> None:
        with self._engine.transaction(write=True) as conn:
            conn.execute(
                "UPDATE collections SET name = ? WHERE db = ? AND name = ?",
                (new_name, self._name, name),
            )
        self._stores.pop(name, None)
        self._stores.pop(new_name, None)

    @property
    def is_created(self) -> bool:
        return bool(self._engine.collection_names(self._name))


class SqliteServerStore(mm_store.ServerStore):
    def __init__(self, engine: SqliteEngine):
        self._engine = engine
        self._databases: dict[str, SqliteDatabaseStore] = {}

    def __getitem__(self, db_name: str) -> SqliteDatabaseStore:
        if db_name not in self._databases:
            self._databases[db_name] = SqliteDatabaseStore(self._engine, db_name)
        return self._databases[db_name]

    def __contains__(self, db_name: str) -> bool:
        return db_name in self._engine.database_names()

    def list_created_database_names(self) -> list[str]:
        return self._engine.database_names()


# --------------------------------------------------------------------------- pymongo API
_WRITE_METHODS = (
    "insert_one", "insert_many", "replace_one", "update_one", "update_many", "delete_one",
    "delete_many", "find_one_and_delete", "find_one_and_replace", "find_one_and_update",
    "bulk_write", "create_index", "create_indexes", "drop_index", "drop_indexes", "drop",
    "rename",
)
_READ_METHODS = ("estimated_document_count", "distinct", "aggregate")


def _in_transaction(method_name: str, write: bool):
    base = getattr(_MMCollection, method_name)

    @functools.wraps(base)
    def method(self, *args, **kwargs):
        with self._store._engine.transaction(write=write):
            return base(self, *args, **kwargs)

    return method


class EmbeddedCursor(_MMCursor):
    """A mongomock-ng cursor that tells the store how many documents it will need."""

    def _compute_results(self, with_limit_and_skip: bool = False):
        if self._limit and self._factory_last_generated_results is None:
            wanted = abs(self._limit) + (self._skip or 0)
            self._factory = functools.partial(self._factory, limit_hint=wanted)
        return super()._compute_results(with_limit_and_skip)


class EmbeddedCollection(_MMCollection):
    """A pymongo-compatible collection whose operations are SQLite transactions."""

    def find_one(self, filter=None, *args, **kwargs):
        """pymongo's find_one, reading one document instead of every candidate."""
        if filter is None:
            filter = {}
        if not isinstance(filter, Mapping):
            filter = {"_id": filter}
        with self._store._engine.transaction(write=False):
            for doc in self.find(filter, *args, **kwargs).limit(1):
                return _cast_document_class(doc, self.codec_options.document_class)
        return None

    def count_documents(self, filter, **kwargs):
        with self._store._engine.transaction(write=False):
            if not kwargs and isinstance(filter, dict):
                count = self._store.count(filter)
                if count is not None:
                    return count
            return super().count_documents(filter, **kwargs)

    def find(self, *args, **kwargs):
        cursor = super().find(*args, **kwargs)
        cursor.__class__ = EmbeddedCursor
        return cursor

    def with_options(self, *args, **kwargs):
        collection = super().with_options(*args, **kwargs)
        collection.__class__ = EmbeddedCollection
        return collection

    def _get_dataset(self, spec, sort, fields, as_class, limit_hint=None):
        # The base method is a generator: consume it while the hint is in place.
        self._store._local.pushdown = (sort, limit_hint)
        try:
            return iter(list(super()._get_dataset(spec, sort, fields, as_class)))
        finally:
            self._store._local.pushdown = None

    def _iter_documents(self, filter):
        sort, limit = getattr(self._store._local, "pushdown", None) or (None, None)
        return iter(self._store.candidates(filter, sort=sort, limit=limit))

    def _ensure_uniques(self, new_data):
        """Check unique indexes against documents sharing an indexed value, not all of them."""
        keys = [
            spec["key"][0][0] for spec in self._store.indexes.values() if spec.get("unique")
        ]
        if not keys:
            return
        others: dict[str, dict] = {}
        for key in keys:
            values = {leaf for leaf in _leaf_values(new_data, key.split("."))
                      if _scalar_operand(leaf)}
            if values:
                spec = {key: {"$in": list(values)}}
                for doc in self._store.candidates(spec):
                    others[_doc_key(doc["_id"])] = doc
        with self._store.restrict_documents(list(others.values())):
            super()._ensure_uniques(new_data)


for _name in _WRITE_METHODS:
    setattr(EmbeddedCollection, _name, _in_transaction(_name, write=True))
for _name in _READ_METHODS:
    setattr(EmbeddedCollection, _name, _in_transaction(_name, write=False))


class EmbeddedDatabase(_MMDatabase):
    def get_collection(self, name, *args, **kwargs):
        collection = super().get_collection(name, *args, **kwargs)
        collection.__class__ = EmbeddedCollection
        return collection

    def drop_collection(self, name_or_collection, session=None):
        with self._store._engine.transaction(write=True):
            return super().drop_collection(name_or_collection, session=session)


class EmbeddedClient(mongomock_ng.MongoClient):
    """``MongoClient`` for a directory: ``EmbeddedClient(path)["mofgen"]["structures"]``."""

    def __init__(self, directory: str | Path, **kwargs: Any):
        directory = Path(directory)
        self.engine = SqliteEngine(directory / STORE_FILENAME)
        super().__init__(_store=SqliteServerStore(self.engine), **kwargs)

    def get_database(self, name=None, *args, **kwargs):
        database = super().get_database(name, *args, **kwargs)
        database.__class__ = EmbeddedDatabase
        return database

    def close(self) -> None:
        self.engine.close()
        super().close()
