"""Diffusion generator: E(3) equivariance, checkpoint format, size rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from mofgen.errors import InvalidInput
from mofgen.generator.checkpoints import shipped_model
from mofgen.generator.corpus import entry_from_smiles
from mofgen.generator.diffusion import collate
from mofgen.generator.model import GeneratorModel, Prompt, SizeRule
from mofgen.generator.sampling import sample_raw

torch.set_num_threads(1)
ROTATION = Rotation.from_euler("zyx", [37.0, -71.0, 122.0], degrees=True).as_matrix()
SHIFT = np.array([3.5, -12.0, 7.25])


def _bpdc_prompt() -> Prompt:
    e = entry_from_smiles("OC(=O)c1ccc(cc1)-c1ccc(cc1)C(=O)O")
    return Prompt("COO", e.symbols[:e.n_fragment], e.positions[:e.n_fragment].astype(float))


def test_network_is_equivariant():
    model = GeneratorModel({"hidden": 32, "layers": 3})
    net = model.network.double()
    for p in net.parameters():  # untrained coordinate heads barely move: make them matter
        torch.nn.init.normal_(p, std=0.3)
    rng = np.random.default_rng(0)
    batch = collate([rng.integers(0, 7, 12)], [rng.normal(size=(12, 3)) * 2], [6], 7)
    batch = batch.to("cpu", torch.float64)
    t = torch.tensor([0.4], dtype=torch.float64)
    eps_x, eps_h = net(batch.x, batch.h, t, batch.node_mask, batch.frag_mask)
    rot = torch.as_tensor(ROTATION)
    moved = batch.x @ rot.T + torch.as_tensor(SHIFT)
    eps_x2, eps_h2 = net(moved, batch.h, t, batch.node_mask, batch.frag_mask)
    assert eps_x.abs().max() > 1e-2  # a real test, not zero = zero
    assert torch.allclose(eps_x2, eps_x @ rot.T, atol=1e-9)
    assert torch.allclose(eps_h2, eps_h, atol=1e-9)


def test_sampling_rotates_and_translates_with_the_prompt():
    """Same seed, rotated + translated anchors -> the same linker, rotated + translated."""
    model = shipped_model()
    model.diffusion.double()
    prompt = _bpdc_prompt()
    moved = Prompt("COO", prompt.symbols, prompt.coords @ ROTATION.T + SHIFT)
    (sym_a, xyz_a), = sample_raw(model, [prompt], [12], seed=11, steps=40)
    (sym_b, xyz_b), = sample_raw(model, [moved], [12], seed=11, steps=40)
    assert sym_a == sym_b
    assert np.abs(xyz_a - prompt.coords.mean(0)).max() > 1.0
    np.testing.assert_allclose(xyz_b, xyz_a @ ROTATION.T + SHIFT, atol=1e-6)
    # and a different seed gives a different linker (the noise matters)
    (_, xyz_c), = sample_raw(model, [prompt], [12], seed=12, steps=40)
    assert np.abs(xyz_c - xyz_a).max() > 0.1


def test_checkpoint_round_trip_and_corrupt_bytes():
    model = shipped_model()
    again = GeneratorModel.from_bytes(model.to_bytes(), "copy")
    for (k, a), b in zip(model.network.state_dict().items(), again.network.state_dict().values()):
        assert torch.equal(a, b), k
    assert len(again.prompts) == len(model.prompts) and again.anchors() == ["COO", "cyano"]
    with pytest.raises(InvalidInput, match="corrupt or incompatible"):
        GeneratorModel.from_bytes(model.to_bytes()[:5000])
    with pytest.raises(InvalidInput, match="corrupt or incompatible"):
        GeneratorModel.from_bytes(b"not a checkpoint at all")


def test_size_rule_follows_training_sizes_and_blends():
    bdc = entry_from_smiles("OC(=O)c1ccc(cc1)C(=O)O")
    rule = SizeRule.from_entries([bdc])
    distance = float(np.linalg.norm(bdc.positions[0] - bdc.positions[3]))
    rng = np.random.default_rng(0)
    assert {rule.sample("COO", distance, rng) for _ in range(20)} == {6}
    amino = SizeRule.from_entries([entry_from_smiles("Nc1cc(ccc1C(=O)O)C(=O)O")])  # 7 atoms
    mixed = rule.blend(amino, 0.5)
    draws = np.array([mixed.sample("COO", distance, rng) for _ in range(400)])
    assert set(draws) == {6, 7} and 0.35 < np.mean(draws == 7) < 0.65
    with pytest.raises(InvalidInput):
        rule.sample("cyano", 5.0, rng)
