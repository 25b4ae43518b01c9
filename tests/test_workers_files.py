"""Cluster files from ``mofgen workers --write``: they load in FireWorks and render scripts.

No scheduler exists here, so the queue scripts are rendered (as ``qlaunch`` would before
submitting) and checked, not submitted.
"""

from __future__ import annotations

import subprocess
import sys

from fireworks import FWorker, LaunchPad
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

URI = "mongodb://user:pw@db.cluster.example:27017/mofgen?authSource=admin&tls=true"


def test_written_files_load_and_render(tmp_path):
    out = tmp_path / "fw"
    result = subprocess.run([sys.executable, "-m", "mofgen.cli", "workers", "--db", URI,
                             "--write", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    launchpad = LaunchPad.from_file(str(out / "my_launchpad.yaml"))
    assert launchpad.host == URI and launchpad.uri_mode and launchpad.name == "mofgen"
    for category in ("gpu", "cpu", "mpi"):
        worker = FWorker.from_file(str(out / f"fworker_{category}.yaml"))
        assert worker.category == category and worker.env["MOFGEN_DB"] == URI
        for queue in ("slurm", "pbs"):
            adapter = CommonAdapter.from_file(str(out / f"qadapter_{queue}_{category}.yaml"))
            script = adapter.get_script_str(str(tmp_path))
            assert f"fworker_{category}.yaml" in script and "rlaunch" in script
            assert "MOFGEN_DB" in script
        assert (out / f"rlaunch_local_{category}.sh").stat().st_mode & 0o100
    slurm_gpu = CommonAdapter.from_file(str(out / "qadapter_slurm_gpu.yaml"))
    assert "#SBATCH --gpus-per-task=1" in slurm_gpu.get_script_str(str(tmp_path))


def test_embedded_store_is_refused_for_cluster_files(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mofgen.cli", "workers", "--db",
                             str(tmp_path / "db"), "--write", str(tmp_path / "fw")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "need a shared MongoDB" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_workers_of_one_campaign_take_only_its_fireworks(tmp_path):
    """`mofgen workers --campaign NAME`: the FWorker's query names the campaign."""
    from fireworks import FWorker

    from mofgen.launchers.templates import write_worker_files

    write_worker_files(tmp_path / "one", "mongodb://h/db", campaign="hmof1")
    write_worker_files(tmp_path / "any", "mongodb://h/db")
    one = FWorker.from_file(str(tmp_path / "one" / "fworker_cpu.yaml"))
    anyone = FWorker.from_file(str(tmp_path / "any" / "fworker_cpu.yaml"))
    assert one.query["spec.mofgen.campaign"] == "hmof1" and one.category == "cpu"
    assert "spec.mofgen.campaign" not in anyone.query
