"""Generative linker model: corpus, E(3)-equivariant diffusion, training, sampling, registry."""
