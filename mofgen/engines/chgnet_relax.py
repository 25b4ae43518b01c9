"""Simulate stage, cell optimisation (default fidelity): CHGNet via atomate2.

Uses atomate2's ``ForceFieldRelaxMaker`` with ``force_field_name="CHGNet"`` (full cell
and positions relaxation). CHGNet ships its weights in the wheel, so nothing is
downloaded. The job runs in a child process (``python -m mofgen.engines.chgnet_relax``)
with one torch thread, which gives a hard time limit and keeps torch's memory out of the
worker.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pymatgen.core import Structure

from mofgen.engines._tools import EngineError, package_version, run_json_tool, workdir_for
from mofgen.engines.results import RelaxResult, Status

TOOL = "chgnet"


@dataclass
class ChgnetRelaxation:
    """Settings of one CHGNet cell relaxation."""

    steps: int = 500
    fmax_eV_per_A: float = 0.05
    relax_cell: bool = True
    max_volume_change: float = 0.5  # |V1/V0 - 1| above this: the framework collapsed
    timeout_s: float = 3600.0

    def run(self, structure: Structure, workdir: Path | str | None = None) -> RelaxResult:
        return run_chgnet_relax(structure, self, workdir)


def run_chgnet_relax(
    structure: Structure, calc: ChgnetRelaxation | None = None,
    workdir: Path | str | None = None,
) -> RelaxResult:
    calc = calc or ChgnetRelaxation()
    wd = workdir_for(workdir, "chgnet")
    t0 = time.perf_counter()
    result = RelaxResult(
        tool=TOOL, fidelity="mlip", workdir=str(wd),
        software_version=f"chgnet {package_version('chgnet')}, "
                         f"atomate2 {package_version('atomate2')}",
        initial_volume_A3=structure.volume,
    )
    (wd / "input.json").write_text(json.dumps({"structure": structure.as_dict(),
                                               "settings": asdict(calc)}))
    try:
        out = run_json_tool(TOOL, [sys.executable, "-m", "mofgen.engines.chgnet_relax",
                                   "input.json"], wd, calc.timeout_s, "relax.log", "output.json")
    except EngineError as exc:
        result.status, result.reason = Status.failed, exc.message
    else:
        result = result.model_copy(update=out)
        final = Structure.from_dict(out["final_structure"])
        final.to(filename=str(wd / "relaxed.cif"))
        result.final_volume_A3 = final.volume
        result.volume_change = final.volume / structure.volume - 1.0
        result.energy_per_atom_eV = out["energy_eV"] / len(final)
        if abs(result.volume_change) > calc.max_volume_change:
            result.status = Status.rejected
            result.reason = (f"cell volume changed by {result.volume_change:+.1%} on relaxation "
                             f"(limit ±{calc.max_volume_change:.0%})")
    result.wall_time_s = time.perf_counter() - t0
    return result


def _child_main(input_file: str) -> int:
    """Child process: atomate2 ForceFieldRelaxMaker(CHGNet) run locally with jobflow."""
    import warnings

    import numpy as np
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from atomate2.forcefields.jobs import ForceFieldRelaxMaker
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    data = json.loads(Path(input_file).read_text())
    settings = data["settings"]
    structure = Structure.from_dict(data["structure"])
    maker = ForceFieldRelaxMaker(
        force_field_name="CHGNet", steps=settings["steps"], relax_cell=settings["relax_cell"],
        relax_kwargs={"fmax": settings["fmax_eV_per_A"]},
    )
    job = maker.make(structure)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    doc = job.run(store=store).output  # raises the real error, unlike run_locally
    final = doc.output.structure
    forces = np.array(doc.output.forces) if doc.output.forces is not None else np.zeros((1, 3))
    n_steps = doc.output.n_steps if getattr(doc.output, "n_steps", None) else 0
    out = {
        "final_structure": final.as_dict(),
        "energy_eV": float(doc.output.energy),
        "max_force_eV_per_A": float(np.linalg.norm(forces, axis=1).max()),
        "n_steps": int(n_steps or 0),
        "converged": bool(np.linalg.norm(forces, axis=1).max() <= settings["fmax_eV_per_A"]),
    }
    Path("output.json").write_text(json.dumps(out, default=float))  # numpy scalars
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
