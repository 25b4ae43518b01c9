"""jobflow jobs and Makers, one module per campaign stage (installed as mofgen.flows).

Every stage Maker is a :class:`~mofgen.flows._stage.StageMaker`: one job shape,
``make(db, campaign, doc_ids, params)``, run by :func:`~mofgen.flows._stage.run_job`.
Which Makers a campaign uses, with which settings, is its kind's choice
(``mofgen.kinds.<kind>.makers``).
"""
