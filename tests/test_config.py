"""Campaign configs: the kind's own section, old flat configs, strict keys and ranges."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from mofgen.documents import CampaignConfig, load_config
from mofgen.errors import InvalidInput


def test_shipped_configs_use_sections():
    demo = load_config("demo")
    assert demo.kind == "mof" and demo.settings.stability_protocol == "demo-avg"
    assert demo.model_dump()["mof"]["thresholds"]["retrain_min_stable"] == 2
    crystal = load_config("crystal-demo")
    assert crystal.settings.system == "Fe-Li-O"  # canonical order
    assert set(crystal.model_dump()) >= {"kind", "crystal", "resources"}


def test_round_trip_through_the_stored_form():
    config = load_config("demo")
    assert CampaignConfig.model_validate(config.model_dump()) == config


def test_a_flat_config_still_loads_with_one_deprecation_line(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"md_steps": 500, "thresholds": {"stable_strain": 0.2},
                                    "seed": 3}))
    code = ("from mofgen.documents import load_config; "
            f"c = load_config({str(path)!r}); print(c.settings.md_steps, "
            "c.settings.thresholds.stable_strain, c.seed)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["500", "0.2", "3"]
    assert result.stderr.count("\n") == 1 and "deprecated" in result.stderr
    assert "md_steps" in result.stderr and "'mof:'" in result.stderr


@pytest.mark.parametrize("data, message", [
    ({"mof": {"thresholds": {"stabel_strain": 0.1}}}, "mof.thresholds.stabel_strain"),
    ({"mof": {"md_stepz": 10}}, "mof.md_stepz"),
    ({"resources": {"cpu": -1}}, "resources.cpu"),
    ({"mof": {"temperature_K": float("nan")}}, "mof.temperature_K"),
    ({"mof": {"gcmc_cycles": 10**30}}, "mof.gcmc_cycles"),
    ({"kind": "crystal", "mof": {}, "crystal": {"system": "Li-O"}}, "section 'mof:'"),
    ({"kind": "pottery"}, "unknown campaign kind 'pottery'"),
    ({"budget": {"minutes": float("inf")}}, "budget.minutes"),
])
def test_bad_configs_name_the_key(tmp_path, data, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InvalidInput) as excinfo:
        load_config(str(path))
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)
