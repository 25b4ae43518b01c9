"""Real SLURM: the files of ``mofgen workers --write``, unchanged, run a campaign's cpu work.

``scripts/local-cluster.sh up`` configures Debian's slurm-wlm (munged, slurmctld, slurmd)
for this machine and starts the wire-protocol server. ``qlaunch rapidfire`` with the
written SLURM adapter submits real ``sbatch`` jobs whose ``rlaunch`` pulls the campaign's
validation Fireworks (LAMMPS on assembled MOFs) and completes them; ``lpad get_fws`` sees
them COMPLETED and the queue is empty at the end. (PBS adapters are only rendered.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mofgen.campaigns import open_campaign
from mofgen.chemistry import assemble_mof
from mofgen.documents import CampaignConfig
from mofgen.engines.lammps_md import NptStability
from mofgen.flows.validate import ValidateMaker
from mofgen.launchers.fireworks import stage_workflow, submit
from mofgen.stores.connection import connect
from tests.conftest import drop_target, mongo_target
from tests.helpers.polling import wait_for
from tests.test_campaign_engine import LINKERS, seed

pytestmark = pytest.mark.cluster

BIN = str(Path(sys.executable).parent)  # rlaunch/qlaunch of the python running the tests


def validate_workflow(db, campaign: str, doc_id: str, steps: int, priority: int = 1):
    """The Firework the daemon queues for validating ``doc_id`` (LAMMPS, ``steps`` MD steps)."""
    maker = ValidateMaker(md=NptStability(steps=steps))
    return stage_workflow(maker.make(db.target, campaign, [doc_id]), db, campaign, "validate",
                          "cpu", priority, doc_ids=[doc_id])


def worker_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}


def squeue() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %j %T"], capture_output=True, text=True,
                         check=True).stdout
    return [line for line in out.splitlines() if "mofgen-" in line]


@pytest.fixture
def campaign_on_cluster(local_cluster, tmp_path):
    """Two assembled MOFs waiting for validation, their Fireworks on the cluster's server."""
    target = mongo_target(local_cluster)
    db = connect(target)
    open_campaign(db, "slurm", CampaignConfig())
    structures = [assemble_mof([linker], pillar=pillar).structure
                  for linker, pillar in LINKERS[:2]]
    ids = seed(db, "slurm", structures)
    submit(db, [validate_workflow(db, "slurm", doc_id, steps=200) for doc_id in ids])
    yield target, db, ids
    subprocess.run(["scancel", "--name=mofgen-cpu"], capture_output=True)
    db.close()
    drop_target(target)


def test_qlaunch_on_real_slurm_completes_the_campaigns_cpu_fireworks(campaign_on_cluster,
                                                                     tmp_path):
    target, db, ids = campaign_on_cluster
    files = tmp_path / "cluster"
    written = subprocess.run([sys.executable, "-m", "mofgen.cli", "workers", "--write",
                              str(files), "--db", target], capture_output=True, text=True)
    assert written.returncode == 0, written.stderr

    # the README's command, run in the written directory
    qlaunch = subprocess.run(
        ["qlaunch", "-q", "qadapter_slurm_cpu.yaml", "-w", "fworker_cpu.yaml",
         "-l", "my_launchpad.yaml", "rapidfire"],
        cwd=files, env=worker_env(), capture_output=True, text=True, timeout=600)
    assert qlaunch.returncode == 0, qlaunch.stdout[-2000:] + qlaunch.stderr[-2000:]
    scripts = sorted(files.glob("block_*/launcher_*/FW_submit.script"))
    assert scripts, "qlaunch wrote and submitted job scripts"
    assert "#SBATCH --cpus-per-task=1" in scripts[0].read_text()

    def finished():
        states = [fw["state"] for fw in db.collection("fireworks").find(
            {"spec._category": "cpu"}, {"state": 1})]
        return not squeue() and all(s in ("COMPLETED", "FIZZLED") for s in states)

    wait_for(finished, timeout_s=900, every_s=2)

    lpad = subprocess.run(
        ["lpad", "-l", "my_launchpad.yaml", "get_fws", "-q",
         json.dumps({"spec._category": "cpu"}), "-d", "more"],
        cwd=files, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert lpad.returncode == 0, lpad.stderr
    fws = json.loads(lpad.stdout)
    fws = fws if isinstance(fws, list) else [fws]
    assert len(fws) == len(ids) and {fw["state"] for fw in fws} == {"COMPLETED"}, fws
    # every rocket ran inside a SLURM job: in a launcher directory qlaunch made, whose
    # job wrote its output file there
    for fw in fws:
        (launch,) = fw["launches"]
        block, job, *_ = Path(launch["launch_dir"]).relative_to(files).parts
        job_dir = files / block / job
        assert (job_dir / "FW_submit.script").exists() and list(job_dir.glob("mofgen-cpu-*.out")
                                                               ), f"not a SLURM job: {job_dir}"
    assert not squeue(), "the queue is empty at the end"

    for doc in db.structures.find({"_id": {"$in": ids}}):
        assert doc["state"] in ("validated", "rejected"), (doc["state"], doc.get("failure"))
        assert "lock" not in doc and doc["attempts"]["validate"] == 1
