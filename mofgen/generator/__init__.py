"""Generative linker model: corpus, E(3)-equivariant diffusion, training, sampling.

MOFA's MOFLinker (a DiffLinker fine-tuned on hMOF fragments) rebuilt so it trains here:
a curated, hMOF-style expanded corpus of ditopic linkers (:mod:`.linker_list`,
:mod:`.corpus`), an EGNN denoiser (:mod:`.egnn`) inside an EDM-style conditional diffusion
over the linker atoms between two fixed anchor groups (:mod:`.diffusion`, :mod:`.model`),
pretraining / fine-tuning (:mod:`.training`), sampling as a stream of batches
(:mod:`.sampling`), checkpoints (:mod:`.checkpoints`; versions live in the model
registry :mod:`mofgen.models`) and quality metrics (:mod:`.metrics`). Typical use::

    from mofgen import models
    from mofgen.generator import sampling
    model = models.load(db, "generator", version or "shipped")
    for batch in sampling.generate(model, n=64, anchor="COO"):
        for linker in batch:            # GeneratedLinker: .valid, .smiles, .model_version
            ...

Submodules are imported explicitly (nothing here imports torch).
"""
