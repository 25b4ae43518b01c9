"""The README's campaigns over ``mongodb://``: the demo campaign through every stage, and a
Li-Fe-O crystal campaign, on the wire-protocol server (SecantusDB started by the session
fixture, or ``MOFGEN_TEST_MONGO_URI``). The checks are those of the embedded-store tests.

To keep CI short the demo is stopped (Ctrl-C) as soon as every stage was reached and a
retrained generator registered; generation has then not yet resumed after validation
backpressure, so "later generations sampled from the retrained version" is checked by the
embedded-store test only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import yaml

from mofgen.stores.connection import connect
from tests.conftest import drop_target, mongo_target
from tests.helpers.polling import wait_for
from tests.test_campaign_demo import check_demo_campaign
from tests.test_crystal_campaign import SMALL, check_lifeo_campaign

DEMO_MINUTES = "9"  # the embedded test's budget; the test stops the run once all is reached


def mofgen_run(target: str, cwd, *args: str, timeout: float = 1800) -> None:
    run = subprocess.run([sys.executable, "-m", "mofgen.cli", "run", "--db", target, *args],
                         cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


@pytest.mark.slow
def test_demo_campaign_on_the_server_reaches_every_stage_and_retrains(mongo_uri, tmp_path):
    """The demo campaign, stopped with Ctrl-C as soon as every stage was reached."""
    target = mongo_target(mongo_uri)
    log = tmp_path / "run.log"
    with log.open("w") as out:  # a file, not a pipe: nobody reads it while the run goes on
        run = subprocess.Popen(
            [sys.executable, "-m", "mofgen.cli", "run", "--db", target, "--campaign", "demo",
             "--config", "demo", "--minutes", DEMO_MINUTES], cwd=tmp_path, text=True,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    db = connect(target)

    def every_stage_reached() -> bool:
        if run.poll() is not None:  # the budget ran out: the checks below tell what is missing
            return True
        demo = {"campaign": "demo"}
        return bool(db.structures.count_documents({**demo, "history.to": "adsorbed"})
                    and db.structures.count_documents({**demo, "retrain_versions": {"$ne": []}})
                    and db.models.count_documents({**demo, "kind": "generator"}))

    try:
        wait_for(every_stage_reached, timeout_s=60 * float(DEMO_MINUTES) + 300, every_s=5)
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: running tasks finish, then it exits
        run.wait(timeout=900)
        assert run.returncode == 0, log.read_text()[-3000:]
        check_demo_campaign(target, sampled_from_retrained=False)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        db.close()
        drop_target(target)


@pytest.mark.slow
def test_crystal_campaign_on_the_server_finds_the_known_phases_on_the_hull(mongo_uri,
                                                                           tmp_path):
    target = mongo_target(mongo_uri)
    config = tmp_path / "lifeo.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    try:
        mofgen_run(target, tmp_path, "--campaign", "lifeo", "--config", str(config),
                   "--minutes", "40")
        check_lifeo_campaign(target, tmp_path)
    finally:
        drop_target(target)
