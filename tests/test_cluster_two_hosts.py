"""A distributed run on one machine: a worker on a second "host" (its own network namespace,
joined by a veth pair on a private /30) pulls Fireworks from the database server over TCP
and completes them; cut off mid-task (its link taken down), its run is detected as lost,
the structure is queued again and completed by a worker elsewhere.

Both workers run the ``rlaunch_local_cpu.sh`` that ``mofgen workers --write`` wrote, with
FireWorks pinging every second (``PING_TIME_SECS``) so the daemon's ``recover`` can tell a live
run from a lost one within seconds instead of hours. Needs root (``ip netns``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mofgen.campaigns import open_campaign
from mofgen.chemistry import assemble_mof
from mofgen.documents import CampaignConfig
from mofgen.launchers.daemon import Daemon
from mofgen.launchers.fireworks import submit
from mofgen.stores.connection import connect
from tests.conftest import start_secantus
from tests.helpers.polling import wait_for
from tests.test_campaign_engine import LINKERS, seed
from tests.test_cluster_slurm import validate_workflow

pytestmark = pytest.mark.cluster


HOST_IP, WORKER_IP = "10.213.7.1", "10.213.7.2"  # a private /30 of our own
PING_S, LOST_AFTER_S = 1, 6
BIN = str(Path(sys.executable).parent)


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    prefix = ["ip", "netns", "exec", netns, "ip"] if netns else ["ip"]
    return subprocess.run([*prefix, *args], capture_output=True, text=True,
                          check=check).stdout


@pytest.fixture
def second_host():
    """A network namespace with its own address, reachable from here over a veth pair."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("a second network host needs root and iproute2 (ip netns)")
    tag = f"{os.getpid() % 100000}"
    netns, host_if, ns_if = f"mofgen-{tag}", f"mgh{tag}", f"mgw{tag}"
    try:
        ip("netns", "add", netns)
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        ip("link", "set", ns_if, "netns", netns)
        ip("addr", "add", f"{HOST_IP}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("addr", "add", f"{WORKER_IP}/30", "dev", ns_if, netns=netns)
        ip("link", "set", ns_if, "up", netns=netns)
        ip("link", "set", "lo", "up", netns=netns)
        yield {"netns": netns, "link": ns_if}
    finally:
        for pid in ip("netns", "pids", netns, check=False).split():
            os.kill(int(pid), signal.SIGKILL)  # only processes this test started in there
        ip("netns", "del", netns, check=False)
        ip("link", "del", host_if, check=False)  # gone with the namespace; just in case


@pytest.fixture
def server_on_link(second_host, tmp_path):
    """The database server listening on this host's side of the link."""
    try:
        process, uri = start_secantus(tmp_path / "db", host=HOST_IP)
    except RuntimeError as exc:
        pytest.skip(f"no database server on {HOST_IP}: {exc}")
    yield uri + "twohosts"
    process.terminate()
    process.wait(30)


def start_worker(files: Path, workdir: Path, netns: str | None = None) -> subprocess.Popen:
    """``rlaunch_local_cpu.sh`` as written, here or inside the namespace."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "FW_config.yaml").write_text(f"PING_TIME_SECS: {PING_S}\n")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
           "FW_CONFIG_FILE": str(workdir / "FW_config.yaml")}
    command = ["bash", str(files / "rlaunch_local_cpu.sh")]
    if netns:
        command = ["ip", "netns", "exec", netns, *command]
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)


def test_worker_on_a_second_host_is_cut_off_and_its_structure_completes_elsewhere(
        second_host, server_on_link, tmp_path):
    target, netns = server_on_link, second_host["netns"]
    db = connect(target)
    campaign = open_campaign(db, "twohosts", CampaignConfig())
    structures = [assemble_mof([linker], pillar=pillar).structure
                  for linker, pillar in LINKERS[:2]]
    quick, long = seed(db, "twohosts", structures)
    # the quick one first (higher priority), then one long enough to be cut off mid-run
    submit(db, [validate_workflow(db, "twohosts", quick, steps=200, priority=5),
                validate_workflow(db, "twohosts", long, steps=12000, priority=1)])
    files = tmp_path / "files"
    written = subprocess.run([sys.executable, "-m", "mofgen.cli", "workers", "--write",
                              str(files), "--db", target], capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    fw_of = {fw["spec"]["mofgen"]["doc_id"]: fw["fw_id"]
             for fw in db.collection("fireworks").find({}, {"fw_id": 1, "spec.mofgen": 1})}
    daemon = Daemon(db, "twohosts", campaign.config)

    remote = start_worker(files, tmp_path / "host2", netns=netns)
    try:
        # the second host completes the quick structure over TCP ...
        wait_for(lambda: db.structures.find_one(
            {"_id": quick, "state": {"$in": ["validated", "rejected"]}}), timeout_s=300)
        # ... and takes the long one; its connection to the server runs over the veth link
        leased = wait_for(lambda: db.structures.find_one({"_id": long, "lock": {"$ne": None}}),
                          timeout_s=120, every_s=0.2)
        sockets = subprocess.run(["ip", "netns", "exec", netns, "ss", "-tn", "state",
                                  "established"], capture_output=True, text=True).stdout
        port = target.rsplit(":", 1)[1].split("/")[0]
        assert f"{WORKER_IP}:" in sockets and f"{HOST_IP}:{port}" in sockets, sockets
        # a live run keeps pinging: not lost, however long it runs
        time.sleep(LOST_AFTER_S + PING_S)
        assert daemon.recover(lost_after_s=LOST_AFTER_S)["requeued"] == []
        assert db.structures.find_one({"_id": long})["lock"] == leased["lock"]

        assert db.collection("fireworks").find_one({"fw_id": fw_of[long]})["state"] == "RUNNING"
        ip("link", "set", second_host["link"], "down", netns=netns)  # cut it off mid-task

        recovered = wait_for(lambda: daemon.recover(lost_after_s=LOST_AFTER_S)["requeued"],
                             timeout_s=120, every_s=1)
        assert recovered == [fw_of[long]]
        after = db.structures.find_one({"_id": long})
        assert after["state"] == "generated" and "lock" not in after, "queued again"
        assert db.collection("fireworks").find_one({"fw_id": fw_of[long]})["state"] == "READY"

        # a worker elsewhere (this host) completes it
        local = start_worker(files, tmp_path / "host1")
        assert local.wait(timeout=600) == 0
    finally:
        os.killpg(remote.pid, signal.SIGKILL)
        remote.wait()

    done = db.structures.find_one({"_id": long})
    assert done["state"] in ("validated", "rejected"), (done["state"], done.get("failure"))
    assert done["attempts"]["validate"] == 2 and "lock" not in done
    assert [h["to"] for h in done["history"]][1:] == [done["state"]], "one transition"
    fw = db.collection("fireworks").find_one({"fw_id": fw_of[long]})
    assert fw["state"] == "COMPLETED"
    launches = {launch["state"]: launch["launch_dir"] for launch in db.collection(
        "launches").find({"fw_id": fw_of[long]})}
    assert launches["FIZZLED"].startswith(str(tmp_path / "host2")), launches
    assert launches["COMPLETED"].startswith(str(tmp_path / "host1")), launches
    quick_launch = db.collection("launches").find_one({"fw_id": fw_of[quick]})
    assert quick_launch["state"] == "COMPLETED"
    assert quick_launch["launch_dir"].startswith(str(tmp_path / "host2"))
    db.close()
