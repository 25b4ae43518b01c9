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
