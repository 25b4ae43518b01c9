"""The README's campaigns over ``mongodb://``: the demo campaign through every stage, and a
Li-Fe-O crystal campaign, on the wire-protocol server (SecantusDB started by the session
fixture, or ``MOFGEN_TEST_MONGO_URI``). The checks are those of the embedded-store tests.

The demo runs a shorter budget than on the embedded store (6 instead of 9 minutes, to keep
CI short): every stage is reached and a retrained generator registered, but generation has
not yet resumed after validation backpressure, so "sampled from the retrained version" is
checked by the embedded-store test only.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.conftest import drop_target, mongo_target
from tests.test_campaign_demo import check_demo_campaign
from tests.test_crystal_campaign import SMALL, check_lifeo_campaign

DEMO_MINUTES = "6"


def mofgen_run(target: str, cwd, *args: str, timeout: float = 1800) -> None:
    run = subprocess.run([sys.executable, "-m", "mofgen.cli", "run", "--db", target, *args],
                         cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


@pytest.mark.slow
def test_demo_campaign_on_the_server_reaches_every_stage_and_retrains(mongo_uri, tmp_path):
    target = mongo_target(mongo_uri)
    try:
        mofgen_run(target, tmp_path, "--campaign", "demo", "--config", "demo",
                   "--minutes", DEMO_MINUTES)
        check_demo_campaign(target, sampled_from_retrained=False)
    finally:
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
