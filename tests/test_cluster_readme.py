"""The README's "Run on a cluster" commands, verbatim, on this machine: local server and
SLURM up, worker files, daemon rounds, a local gpu rocket, ``qlaunch`` to real SLURM,
``lpad``/``mofgen lpad``/``mofgen status``, and down again.

The block runs as written, line by line in one bash; the only addition is the reader's
"wait until empty" after ``squeue``. ``HOME`` and the cluster's state directory are
temporary, so the run starts from nothing. Needs root (SLURM) and no local cluster already
up (the block brings its own up and down).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CLUSTER_SCRIPT, _slurm_answers

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[1]
WAIT = 'while [ -n "$(squeue -h)" ]; do sleep 5; done  # the reader waits\n'


def readme_block() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Run on a cluster"):]
    block = section[section.index("```bash\n") + 8:]
    return block[:block.index("```")].splitlines(keepends=True)


def test_readme_cluster_section_runs_verbatim(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("configuring SLURM (scripts/local-cluster.sh) needs root")
    if _slurm_answers():
        pytest.skip("a SLURM is already up here; the README block brings its own up and down")
    lines = readme_block()
    assert lines[0].startswith("bash scripts/local-cluster.sh up")
    assert lines[-1].startswith("cd - && bash scripts/local-cluster.sh down")
    script = "set -ex\n" + "".join(line + (WAIT if line.startswith("squeue") else "")
                                   for line in lines)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "MOFGEN_CLUSTER_DIR": str(tmp_path / "state"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    env.pop("MOFGEN_DB", None)
    try:
        run = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=1500)
    finally:
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "down"], env=env, capture_output=True,
                       timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert "mongodb://127.0.0.1:27217/" in out.splitlines(), "up prints the URI"
    before_status, status = out.split("campaign demo (", 1)
    cpu_fws = last_json(before_status)  # what `mofgen lpad get_fws -q … -d less` printed
    cpu_fws = cpu_fws if isinstance(cpu_fws, list) else [cpu_fws]
    assert cpu_fws and {fw["state"] for fw in cpu_fws} == {"COMPLETED"}, cpu_fws
    assert "cpu: 0 ready/0 running" in status and "reached: generated=" in status
    files = home / "mofgen-cluster"
    assert list(files.glob("block_*/launcher_*/mofgen-cpu-*.out")), "cpu work ran in sbatch jobs"


def last_json(text: str):
    """The last JSON document in ``text`` (a command's output after other output)."""
    lines = text.rstrip().splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start] in ("{", "["):
            try:
                return json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                continue
    raise AssertionError(f"no JSON at the end of: {text[-500:]}")
