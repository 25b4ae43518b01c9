"""The partial-charge methods by name: one place that turns ``eqeq|qeq|dft`` into a
calculation, for the ``mofgen charges`` command and the MOF campaign's simulate stage.

* ``eqeq`` — extended charge equilibration (Wilmer et al. 2012), numpy, seconds;
* ``qeq`` — Rappé–Goddard QEq in LAMMPS (``fix qeq/slater``), seconds;
* ``dft`` — DDAPC charges of a CP2K PBE density, hours per MOF on two cores.

``benchmarks/bench_charges.py`` measures them against literature charges (README,
"Partial charges"); ``DEFAULT_METHOD`` is the one that did best there.
"""

from __future__ import annotations

from typing import Literal

from mofgen.engines.charges import ChargeEquilibration
from mofgen.engines.cp2k_charges import Cp2kCharges
from mofgen.engines.eqeq import EqeqCharges

ChargeMethod = Literal["eqeq", "qeq", "dft"]
CHARGE_METHODS: tuple[str, ...] = ("eqeq", "qeq", "dft")
DEFAULT_METHOD: ChargeMethod = "eqeq"
ChargeCalculation = EqeqCharges | ChargeEquilibration | Cp2kCharges


def charge_calculation(method: str = DEFAULT_METHOD, **settings) -> ChargeCalculation:
    """The calculation of ``method`` with ``settings`` (e.g. ``max_atoms``) applied."""
    classes = {"eqeq": EqeqCharges, "qeq": ChargeEquilibration, "dft": Cp2kCharges}
    if method not in classes:
        raise ValueError(f"unknown charge method {method!r} (known: {', '.join(classes)})")
    return classes[method](**settings)
