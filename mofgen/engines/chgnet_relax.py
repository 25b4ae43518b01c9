"""CHGNet relaxation of cell and positions: the one used for MOFs and for crystals.

The optimiser is atomate2's ``AseRelaxer`` (the relaxer behind its ``ForceFieldRelaxMaker``):
ASE FIRE on positions and, with ``relax_cell``, on the cell through ``FrechetCellFilter``,
with CHGNet as the calculator. CHGNet ships its weights in the wheel, so nothing is
downloaded.

Two ways to run the same relaxation:

* :meth:`ChgnetRelaxation.run` — in a child process (``python -m
  mofgen.engines.chgnet_relax``) with one torch thread: a hard time limit, and torch's
  memory stays out of the worker. Campaign stages use this.
* :meth:`ChgnetRelaxation.run_in_process` — here, with a model the caller already loaded and
  no time limit: for many small cells in a row (a crystal campaign's reference phases),
  where starting a child per cell would cost more than the relaxation.

Both return :class:`~mofgen.engines.results.RelaxResult`; the energy is CHGNet's energy of
the final structure.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymatgen.core import Structure

from mofgen.engines._tools import (
    EngineError,
    check_atoms,
    package_version,
    run_json_tool,
    workdir_for,
)
from mofgen.engines.results import RelaxResult, Status

if TYPE_CHECKING:
    from chgnet.model import CHGNet

TOOL = "chgnet"
# CHGNet's graph (5 Å bonds, 3 Å angles) grows ~4-5 MB per atom of a MOF on the CPU: the
# 5,300-atom cell of issue #13 took ~24 GB. 2,000 atoms stays under ~10 GB.
MAX_ATOMS = 2000


@dataclass
class ChgnetRelaxation:
    """Settings of one CHGNet relaxation (cell and positions)."""

    steps: int = 500
    fmax_eV_per_A: float = 0.05
    relax_cell: bool = True
    max_volume_change: float | None = 0.5  # |V1/V0 - 1| above: collapsed (None: no check)
    timeout_s: float = 3600.0
    max_atoms: int | None = MAX_ATOMS  # atoms of the cell; None: no limit

    def run(self, structure: Structure, workdir: Path | str | None = None) -> RelaxResult:
        """Relax in a child process (time limit ``timeout_s``); writes ``relaxed.cif``."""
        return run_chgnet_relax(structure, self, workdir)

    def check_size(self, structure: Structure) -> None:
        check_atoms(TOOL, len(structure), self.max_atoms)

    def run_in_process(self, structure: Structure, model: CHGNet | None = None) -> RelaxResult:
        """Relax in this process with ``model`` (default: the shipped CHGNet), no time limit."""
        self.check_size(structure)
        t0 = time.perf_counter()
        result = _new_result(structure, None)
        try:
            out = relax_with_chgnet(structure, self, model)
        except Exception as exc:  # CHGNet/ASE raise many types on odd structures
            result.status = Status.failed
            result.reason = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        else:
            result = _finish(result, structure, out, self)
        result.wall_time_s = time.perf_counter() - t0
        return result


def run_chgnet_relax(
    structure: Structure, calc: ChgnetRelaxation | None = None,
    workdir: Path | str | None = None,
) -> RelaxResult:
    calc = calc or ChgnetRelaxation()
    calc.check_size(structure)
    wd = workdir_for(workdir, "chgnet")
    t0 = time.perf_counter()
    result = _new_result(structure, wd)
    (wd / "input.json").write_text(json.dumps({"structure": structure.as_dict(),
                                               "settings": asdict(calc)}))
    try:
        out = run_json_tool(TOOL, [sys.executable, "-m", "mofgen.engines.chgnet_relax",
                                   "input.json"], wd, calc.timeout_s, "relax.log", "output.json")
    except EngineError as exc:
        result.status, result.reason = Status.failed, exc.message
    else:
        result = _finish(result, structure, out, calc)
        Structure.from_dict(out["final_structure"]).to(filename=str(wd / "relaxed.cif"))
    result.wall_time_s = time.perf_counter() - t0
    return result


def relax_with_chgnet(structure: Structure, calc: ChgnetRelaxation,
                      model: CHGNet | None = None) -> dict[str, Any]:
    """The relaxation itself (in this process): final structure, energy, forces, steps."""
    import contextlib
    import io

    import numpy as np
    from atomate2.ase.utils import AseRelaxer
    from chgnet.model.dynamics import CHGNetCalculator

    with contextlib.redirect_stdout(io.StringIO()):  # CHGNet announces model and device
        calculator = CHGNetCalculator(model=model, use_device="cpu")
        relaxer = AseRelaxer(calculator, optimizer="FIRE", relax_cell=calc.relax_cell)
        out = relaxer.relax(structure, fmax=calc.fmax_eV_per_A, steps=calc.steps,
                            final_atoms_object_file=None, use_emmet_models=False)
    frames = out.trajectory.frame_properties
    forces = np.linalg.norm(np.asarray(frames[-1]["forces"]), axis=1)
    final: Structure = out.final_mol_or_struct
    return {
        "final_structure": final.as_dict(),
        "energy_eV": float(frames[-1]["energy"]),
        "max_force_eV_per_A": float(forces.max()),
        "n_steps": max(len(frames) - 1, 0),
        "converged": bool(forces.max() < calc.fmax_eV_per_A),
        "method": f"chgnet-{calculator.model.version}",
    }


def _new_result(structure: Structure, wd: Path | None) -> RelaxResult:
    return RelaxResult(
        tool=TOOL, fidelity="mlip", workdir=str(wd) if wd else None,
        software_version=f"chgnet {package_version('chgnet')}, "
                         f"atomate2 {package_version('atomate2')}",
        initial_volume_A3=structure.volume,
    )


def _finish(result: RelaxResult, structure: Structure, out: dict[str, Any],
            calc: ChgnetRelaxation) -> RelaxResult:
    """Volumes, energy per atom and the collapse check, from the relaxation's output."""
    result = result.model_copy(update=out)
    final = Structure.from_dict(out["final_structure"])
    result.final_volume_A3 = final.volume
    result.volume_change = final.volume / structure.volume - 1.0
    result.energy_per_atom_eV = out["energy_eV"] / len(final)
    limit = calc.max_volume_change
    if limit is not None and abs(result.volume_change) > limit:
        result.status = Status.rejected
        result.reason = (f"cell volume changed by {result.volume_change:+.1%} on relaxation "
                         f"(limit ±{limit:.0%})")
    return result


def _child_main(input_file: str) -> int:
    """Child process: :func:`relax_with_chgnet` on one torch thread, output.json."""
    import warnings

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    data = json.loads(Path(input_file).read_text())
    out = relax_with_chgnet(Structure.from_dict(data["structure"]),
                            ChgnetRelaxation(**data["settings"]))
    Path("output.json").write_text(json.dumps(out, default=float))  # numpy scalars
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
