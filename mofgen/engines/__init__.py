"""Wrappers around external simulation codes, one small module per code.

Naming convention. Each engine exposes one *calculation*: a dataclass of settings named
for what it computes (``ChgnetRelaxation``, ``Cp2kRelaxation``, ``EqeqCharges``,
``ChargeEquilibration`` (QEq), ``Cp2kCharges`` (DDAPC), ``PoreAnalysis``,
``GcmcAdsorption``; ``AdsorptionScreen`` chains pores -> charges -> GCMC;
``charge_methods.charge_calculation`` picks a charge method by name).
``calc.run(structure, workdir)`` performs it and returns a typed result from
:mod:`mofgen.engines.results` that is never raised, only reported (``ok``, ``rejected``,
``failed``). The module-level ``run_*(structure, calc, workdir)`` functions do the same
with default settings. These are not jobflow Makers: the campaign's Makers (in
``flows/``) hold calculations as fields and decide what their results mean for a
structure's state.
"""
