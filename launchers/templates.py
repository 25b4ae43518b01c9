"""Ready-to-edit FireWorks files for clusters: LaunchPad, one FWorker per category, queue
adapters (SLURM, PBS) and local scripts whose rockets are plain ``rlaunch`` — so ``qlaunch``,
``lpad get_wflows`` and ``lpad webgui`` work on the same MongoDB as ``mofgen daemon``.

Every file holds the database URI, password included, so each is written readable by its
owner only (0600; the scripts 0700), also when it replaces an older, wider file."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from mofgen.errors import InvalidInput

CATEGORIES = ("gpu", "cpu", "mpi")

# Per category: what one queue job asks for. Edit the written files for your machine.
RESOURCES: dict[str, dict[str, dict[str, Any]]] = {
    "SLURM": {
        "gpu": {"nodes": 1, "ntasks": 1, "cpus_per_task": 8, "gpus_per_task": 1,
                "walltime": "02:00:00"},
        "cpu": {"nodes": 1, "ntasks": 1, "cpus_per_task": 1, "walltime": "04:00:00"},
        "mpi": {"nodes": 2, "ntasks_per_node": 32, "walltime": "12:00:00"},
    },
    "PBS": {
        "gpu": {"nnodes": 1, "ppnode": 8, "walltime": "02:00:00"},
        "cpu": {"nnodes": 1, "ppnode": 1, "walltime": "04:00:00"},
        "mpi": {"nnodes": 2, "ppnode": 32, "walltime": "12:00:00"},
    },
}


def database_in_uri(uri: str, default: str = "mofgen") -> str:
    """The database a MongoDB URI names (``mongodb://host/NAME?…``), else ``default``.

    Parsed by hand: pymongo's parser resolves ``mongodb+srv`` names in DNS.
    """
    rest = uri.split("://", 1)[1].split("?", 1)[0]
    path = rest.split("/", 1)[1] if "/" in rest else ""
    return unquote(path) or default


def write_worker_files(directory: str | Path, db_target: str, database: str | None = None,
                       campaign: str | None = None) -> list[Path]:
    """Write ``my_launchpad.yaml``, ``fworker_*.yaml`` and ``qadapter_*_*.yaml`` into DIR.

    The LaunchPad's database is the one the URI names (as for ``mofgen --db``), so
    ``qlaunch`` and ``lpad`` see the Fireworks the daemon inserted.
    """
    if not db_target.startswith(("mongodb://", "mongodb+srv://")):
        raise InvalidInput("cluster workers need a shared MongoDB: give --db mongodb://… "
                           "(the embedded store serves one machine: use `mofgen run`)")
    database = database or database_in_uri(db_target)
    out = Path(directory).expanduser().resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create {directory}: {exc.strerror}") from None
    written = [_dump(out / "my_launchpad.yaml", {
        "host": db_target, "uri_mode": True, "name": database, "logdir": None,
        "strm_lvl": "INFO", "mongoclient_kwargs": {"serverSelectionTimeoutMS": 30000},
    })]
    # Queue jobs start a login shell, whose profile resets PATH: put back the environment
    # (virtualenv, conda, pyenv) that wrote these files, so `rlaunch` runs the same mofgen.
    exports = [f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\"",
               f"export MOFGEN_DB={shlex.quote(db_target)}"]
    environment = "; ".join(exports)
    for category in CATEGORIES:
        written.append(_dump(out / f"fworker_{category}.yaml", {
            "name": f"mofgen-{category}", "category": category,
            # with a campaign, these workers take only its Fireworks
            "query": json.dumps({"spec.mofgen.campaign": campaign} if campaign else {}),
            "env": {"MOFGEN_DB": db_target},
        }))
        launchpad_file = shlex.quote(str(out / "my_launchpad.yaml"))
        fworker_file = shlex.quote(str(out / f"fworker_{category}.yaml"))
        rlaunch = (f"rlaunch -l {launchpad_file} -w {fworker_file}"
                   " rapidfire --nlaunches 0 --timeout 6600")
        for queue_type, per_category in RESOURCES.items():
            written.append(_dump(out / f"qadapter_{queue_type.lower()}_{category}.yaml", {
                "_fw_name": "CommonAdapter", "_fw_q_type": queue_type,
                "rocket_launch": rlaunch, "queue": None, "account": None,
                "job_name": f"mofgen-{category}",
                "pre_rocket": f"{environment}; export OMP_NUM_THREADS=1",
                "post_rocket": None, **per_category[category],
            }))
        local = out / f"rlaunch_local_{category}.sh"  # no queue: run workers by hand
        script = "\n".join(["#!/bin/bash", *exports, rlaunch]) + "\n"
        written.append(_write_private(local, script,
                                      mode=0o700))
    return written


def _dump(path: Path, data: dict[str, Any]) -> Path:
    return _write_private(path, yaml.safe_dump({k: v for k, v in data.items() if v is not None},
                                               sort_keys=False))


def _write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    """Write ``text`` so that only the owner can read it, from the first byte on."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(fd, mode)  # an existing file keeps its old mode through O_CREAT
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
    return path
