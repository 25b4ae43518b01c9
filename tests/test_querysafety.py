"""Query safety (issue #13): user filters keep to plain operators, on both stores."""

from __future__ import annotations

import json
import warnings

import pytest
from pymongo.errors import OperationFailure

from mofgen.cli import main
from mofgen.errors import InvalidInput
from mofgen.querysafety import ALLOWED_OPERATORS, check_query
from mofgen.stores.connection import connect

# code a $where runs on the embedded store (mongomock-ng eval()s it with empty builtins,
# which the usual subclass walk escapes): it creates MARKER
ESCAPE = ("[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close']"
          "[0].__init__.__globals__['system']('touch {marker}') == 0")

DOCS = [{"_id": f"d{i}", "campaign": "q", "n": i, "tags": ["a", "b"][: i % 3],
         "sub": [{"x": i}, {"x": -i}], "name": f"mof-{i}"} for i in range(6)]

PLAIN = [
    ({"n": {"$gt": 2}}, {"d3", "d4", "d5"}),
    ({"n": {"$gte": 1, "$lte": 2}}, {"d1", "d2"}),
    ({"n": {"$in": [0, 5]}}, {"d0", "d5"}),
    ({"n": {"$nin": [0, 5], "$ne": 3}}, {"d1", "d2", "d4"}),
    ({"$or": [{"n": 0}, {"n": {"$eq": 4}}]}, {"d0", "d4"}),
    ({"$and": [{"n": {"$lt": 3}}, {"n": {"$not": {"$eq": 1}}}]}, {"d0", "d2"}),
    ({"$nor": [{"n": {"$lt": 4}}]}, {"d4", "d5"}),
    ({"tags": {"$size": 2}}, {"d2", "d5"}),
    ({"tags": {"$all": ["a", "b"]}}, {"d2", "d5"}),
    ({"sub": {"$elemMatch": {"x": {"$lt": -3}}}}, {"d4", "d5"}),
    ({"name": {"$regex": "^MOF-[12]$", "$options": "i"}}, {"d1", "d2"}),
    ({"missing": {"$exists": False}, "n": {"$mod": [3, 0]}}, {"d0", "d3"}),
    ({"n": {"$type": "int"}, "campaign": "q"}, {f"d{i}" for i in range(6)}),
]


@pytest.mark.parametrize("query, expected", PLAIN, ids=[str(q)[:40] for q, _ in PLAIN])
def test_plain_operators_pass_and_mean_the_same_on_the_store(any_db_target, query, expected):
    db = connect(any_db_target)
    try:
        db.structures.insert_many([dict(d) for d in DOCS])
        checked = check_query(query)
        assert checked is query
        if db.embedded and "$mod" in str(query):  # mongomock-ng lacks $mod: a clean error
            with pytest.raises(OperationFailure, match=r"unknown operator: \$mod"):
                list(db.structures.find(checked))
            return
        assert {d["_id"] for d in db.structures.find(checked, {"_id": 1})} == expected
    finally:
        db.close()


def test_every_allowed_operator_is_exercised_above():
    used = set()

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key.startswith("$"):
                    used.add(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for query, _ in PLAIN:
        walk(query)
    assert used == ALLOWED_OPERATORS


FORBIDDEN = [
    ({"$where": "this.n > 1"}, "$where"),
    ({"$expr": {"$gt": ["$n", 1]}}, "$expr"),
    ({"$expr": {"$function": {"body": "x", "args": [], "lang": "js"}}}, "$expr"),
    ({"n": {"$function": {"body": "x", "args": [], "lang": "js"}}}, "$function"),
    ({"$and": [{"n": 1}, {"$where": "1"}]}, "$where"),
    ({"sub": {"$elemMatch": {"$where": "1"}}}, "$where"),
    ({"n": {"$not": {"$accumulator": {}}}}, "$accumulator"),
    ({"$or": [{"$jsonSchema": {}}]}, "$jsonSchema"),
    ({"$text": {"$search": "x"}}, "$text"),
    ({"n": {"$lookup": {}}}, "$lookup"),
    ({"$comment": "x"}, "$comment"),
    ({"n": {"$near": [0, 0]}}, "$near"),
]


@pytest.mark.parametrize("query, operator", FORBIDDEN, ids=[op for _, op in FORBIDDEN])
def test_code_and_unlisted_operators_are_refused_naming_the_operator(query, operator):
    with pytest.raises(InvalidInput) as info:
        check_query(query, "--query")
    message = str(info.value)
    assert message.startswith(f"--query: operator {operator} is not allowed")
    assert "\n" not in message


@pytest.mark.parametrize("query, fragment", [
    ([{"n": 1}], "must be a JSON object"),
    ("n", "must be a JSON object"),
    ({1: 2}, "keys must be strings"),
    ({"n": print}, "a function is not a query value"),
    ({"a\x00b": 1}, "NUL character"),
])
def test_malformed_filters_are_one_line(query, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        check_query(query)


def test_deep_and_huge_filters_are_refused_without_recursion_errors():
    deep: dict = {"n": 1}
    for _ in range(5000):
        deep = {"$and": [deep]}
    with pytest.raises(InvalidInput, match="nested deeper than"):
        check_query(deep)
    with pytest.raises(InvalidInput, match="more than 10000 terms"):
        check_query({"n": {"$in": list(range(20_000))}})


def test_where_runs_shell_commands_on_the_embedded_store_and_export_refuses_it(
        tmp_path, capsys):
    """The hazard is real: the embedded engine runs this $where as code. Through
    ``mofgen export --query`` it is refused before the store sees it."""
    db = connect(str(tmp_path / "store"))
    db.structures.insert_one({"_id": "d0", "campaign": "q"})
    proof = tmp_path / "ran"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        list(db.structures.find({"$where": ESCAPE.format(marker=proof)}))
    db.close()
    assert proof.exists()  # without the check, shell commands run

    marker = tmp_path / "pwned"
    query = json.dumps({"$where": ESCAPE.format(marker=marker)})
    out = tmp_path / "export"
    code = main(["export", "--db", str(tmp_path / "store"), "--campaign", "q", "--out",
                 str(out), "--query", query])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1
    assert "operator $where is not allowed" in err
    assert not marker.exists() and not out.exists()
