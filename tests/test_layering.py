"""Layering: no module imports itself back through others (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_module_level_import_cycle():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "import_cycles.py"), str(ROOT)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no import cycles" in out.stdout


def test_the_script_finds_a_cycle(tmp_path):
    """The checker itself can fail: two modules importing each other are reported."""
    pkg = tmp_path / "mofgen"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from mofgen.b import x\ny = 1\n")
    (pkg / "b.py").write_text("x = 1\n\ndef f():\n    from mofgen.a import y\n    return y\n")
    script = [sys.executable, str(ROOT / "scripts" / "import_cycles.py"), str(tmp_path)]
    assert subprocess.run(script, capture_output=True, text=True).returncode == 0
    deferred = subprocess.run([*script, "--deferred"], capture_output=True, text=True)
    assert deferred.returncode == 1
    assert "mofgen.a <-> mofgen.b" in deferred.stdout


KIND_HOMES = ("mofgen/kinds/", "mofgen/crystal/")


def _kind_switches(root: Path, kinds: set[str]) -> list[str]:
    """Comparisons of something named ``kind`` with a kind's name, e.g. ``kind == "crystal"``,
    outside the modules that define kinds."""
    import ast

    found = []
    for package in ("mofgen", "flows", "stores", "launchers"):
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(KIND_HOMES):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Compare):
                    continue
                parts = [node.left, *node.comparators]
                names = {ast.unparse(p) for p in parts}
                strings = {p.value for p in parts if isinstance(p, ast.Constant)}
                if strings & kinds and any("kind" in n for n in names):
                    found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_kind_switch_outside_the_kinds():
    from mofgen.kinds import kind_names

    assert _kind_switches(ROOT, set(kind_names())) == []


def test_the_kind_switch_check_can_fail(tmp_path):
    (tmp_path / "mofgen").mkdir()
    (tmp_path / "mofgen" / "x.py").write_text('def f(doc):\n    return doc.kind == "crystal"\n')
    assert _kind_switches(tmp_path, {"crystal"}) == ["mofgen/x.py:2: doc.kind == 'crystal'"]


def test_no_stage_record_accepts_unknown_fields():
    from mofgen.documents import kind_schemas

    records = {stage.record for schema in kind_schemas().values() for stage in schema.ladder}
    assert len(records) >= 6  # validate/simulate/adsorb/retrain of MOFs, crystals' own
    for record in records:
        assert record.model_config.get("extra") == "forbid", record.__name__
