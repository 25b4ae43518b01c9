"""Conditional equivariant diffusion over linker atoms (EDM, Hoogeboom et al. 2022; DiffLinker).

State: coordinates and scaled one-hot atom types of the linker atoms; the prompt atoms (two
anchor groups) stay clean and fixed throughout. Forward process ``z_t = alpha_t x +
sigma_t eps`` with EDM's polynomial schedule; the network predicts ``eps``.

Centre of mass: as in DiffLinker, every molecule is expressed relative to the centroid of
its *prompt*. The prompt pins the translation, so linker noise is a plain isotropic
Gaussian (no zero-CoM projection needed) and the prior is N(0, I) around the prompt.

Equivariant sampling with a seed: the Gaussian noise is drawn in a frame built from the
prompt atoms and rotated into the world. An isotropic Gaussian is unchanged by this, so the
sampled distribution is exactly EDM's; but a rotated/translated prompt now receives the
rotated noise for the same seed, and the (equivariant) network then makes the whole
trajectory, and the generated linker, rotate and translate with the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mofgen.generator.egnn import EGNNDynamics

#: Scale of the one-hot atom types relative to coordinates (EDM's normalisation of 1/4).
TYPE_SCALE = 0.25


def polynomial_gamma(timesteps: int, s: float = 1e-5, power: float = 2.0) -> torch.Tensor:
    """EDM's ``polynomial_2`` schedule as gamma_t = -log(alpha_t^2 / sigma_t^2), t=0..T."""
    steps = np.linspace(0, timesteps, timesteps + 1)
    alphas2 = (1 - (steps / timesteps) ** power) ** 2
    alphas2 = np.concatenate([[1.0], alphas2])
    ratio = np.clip(alphas2[1:] / alphas2[:-1], 0.001, 1.0)  # clip_noise_schedule
    alphas2 = np.cumprod(ratio)
    alphas2 = (1 - 2 * s) * alphas2 + s
    return torch.tensor(-(np.log(alphas2) - np.log1p(-alphas2)), dtype=torch.float64)


@dataclass
class Batch:
    """Padded molecules: prompt atoms first, then linker atoms; all centred on the prompt."""

    x: torch.Tensor  # [B, N, 3]
    h: torch.Tensor  # [B, N, T] scaled one-hot
    node_mask: torch.Tensor  # [B, N]
    frag_mask: torch.Tensor  # [B, N]

    @property
    def link_mask(self) -> torch.Tensor:
        return self.node_mask * (1 - self.frag_mask)

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> Batch:
        return Batch(*(t.to(device=device, dtype=dtype) for t in
                       (self.x, self.h, self.node_mask, self.frag_mask)))


def collate(types: Sequence[np.ndarray], coords: Sequence[np.ndarray], n_fragment: Sequence[int],
            n_types: int) -> Batch:
    """Molecules (type indices, coordinates, prompt size) -> a padded, prompt-centred batch."""
    b, n = len(types), max(len(t) for t in types)
    x = torch.zeros(b, n, 3, dtype=torch.float64)  # cast by Batch.to (float32 to train)
    h = torch.zeros(b, n, n_types, dtype=torch.float64)
    node = torch.zeros(b, n, dtype=torch.float64)
    frag = torch.zeros(b, n, dtype=torch.float64)
    for i, (t, c, k) in enumerate(zip(types, coords, n_fragment)):
        c = torch.as_tensor(np.asarray(c, dtype=np.float64))
        x[i, :len(t)] = c - c[:k].mean(0)
        h[i, torch.arange(len(t)), torch.as_tensor(np.asarray(t, dtype=np.int64))] = TYPE_SCALE
        node[i, :len(t)] = 1
        frag[i, :k] = 1
    return Batch(x, h, node, frag)


class Diffusion(torch.nn.Module):
    """Noise schedule + denoiser: training loss and ancestral sampling."""

    def __init__(self, dynamics: EGNNDynamics, timesteps: int = 500):
        super().__init__()
        self.dynamics = dynamics
        self.timesteps = timesteps
        self.register_buffer("gamma", polynomial_gamma(timesteps).float(), persistent=False)

    # ----------------------------------------------------------------- schedule helpers
    def _gamma(self, t_int: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return self.gamma.to(like.dtype)[t_int]

    @staticmethod
    def _alpha_sigma(gamma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.sqrt(torch.sigmoid(-gamma)), torch.sqrt(torch.sigmoid(gamma))

    # ----------------------------------------------------------------- training
    def loss(self, batch: Batch) -> torch.Tensor:
        """Simple EDM loss: mean squared error of the predicted noise on linker atoms."""
        b = batch.x.shape[0]
        t_int = torch.randint(1, self.timesteps + 1, (b,), device=batch.x.device)
        alpha, sigma = self._alpha_sigma(self._gamma(t_int, batch.x))
        alpha, sigma = alpha[:, None, None], sigma[:, None, None]
        link = batch.link_mask[..., None]
        eps_x = torch.randn_like(batch.x) * link
        eps_h = torch.randn_like(batch.h) * link
        z_x = batch.x + (alpha * batch.x + sigma * eps_x - batch.x) * link
        z_h = batch.h + (alpha * batch.h + sigma * eps_h - batch.h) * link
        t = t_int.to(batch.x.dtype) / self.timesteps
        pred_x, pred_h = self.dynamics(z_x, z_h, t, batch.node_mask, batch.frag_mask)
        err = ((pred_x - eps_x) ** 2).sum((1, 2)) + ((pred_h - eps_h) ** 2).sum((1, 2))
        dims = batch.link_mask.sum(1) * (3 + batch.h.shape[-1])
        return (err / dims.clamp(min=1)).mean()

    # ----------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, prompt_types: Sequence[np.ndarray], prompt_coords: Sequence[np.ndarray],
               n_linker: Sequence[int], steps: int, generator: torch.Generator
               ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Generate linker atoms for each prompt: list of (type indices, world coordinates).

        ``steps`` sub-samples the training time grid (EDM's transitions hold for any s < t).
        """
        param = next(self.dynamics.parameters())
        device, dtype = param.device, param.dtype
        n_types = self.dynamics.n_types
        types = [np.concatenate([np.asarray(t, dtype=np.int64), np.zeros(k, dtype=np.int64)])
                 for t, k in zip(prompt_types, n_linker)]
        coords = [np.concatenate([np.asarray(c, dtype=np.float64), np.zeros((k, 3))])
                  for c, k in zip(prompt_coords, n_linker)]
        batch = collate(types, coords, [len(t) for t in prompt_types], n_types)
        batch = batch.to(device, dtype)
        centres = [torch.as_tensor(np.asarray(c, dtype=np.float64)).mean(0) for c in prompt_coords]
        frames = torch.stack([prompt_frame(torch.as_tensor(np.asarray(c, dtype=np.float64)))
                              for c in prompt_coords]).to(device, dtype)
        link = batch.link_mask[..., None]

        def noise_like_x() -> torch.Tensor:
            canon = torch.randn(batch.x.shape, generator=generator, dtype=torch.float64)
            return torch.einsum("bij,bnj->bni", frames, canon.to(device, dtype)) * link

        def noise_like_h() -> torch.Tensor:
            return torch.randn(batch.h.shape, generator=generator,
                               dtype=torch.float64).to(device, dtype) * link

        z_x = batch.x * (1 - link) + noise_like_x()
        z_h = batch.h * (1 - link) + noise_like_h()
        grid = np.unique(np.round(np.linspace(0, self.timesteps, steps + 1)).astype(int))[::-1]
        ones = torch.ones(len(types), device=device, dtype=torch.long)
        for t_val, s_val in zip(grid[:-1], grid[1:]):
            g_t, g_s = self._gamma(ones * int(t_val), z_x), self._gamma(ones * int(s_val), z_x)
            a_t, sig_t = self._alpha_sigma(g_t)
            a_s, sig_s = self._alpha_sigma(g_s)
            a_ts = a_t / a_s
            sig2_ts = -torch.expm1(torch.nn.functional.softplus(g_s)
                                   - torch.nn.functional.softplus(g_t))  # sigma^2_{t|s}
            eps_x, eps_h = self.dynamics(z_x, z_h, ones.to(dtype) * t_val / self.timesteps,
                                         batch.node_mask, batch.frag_mask)
            coef = (sig2_ts / a_ts / sig_t)[:, None, None]
            std = (torch.sqrt(sig2_ts) * sig_s / sig_t)[:, None, None]
            a_ts = a_ts[:, None, None]
            new_x = z_x / a_ts - coef * eps_x + std * noise_like_x()
            new_h = z_h / a_ts - coef * eps_h + std * noise_like_h()
            z_x = z_x * (1 - link) + new_x * link
            z_h = z_h * (1 - link) + new_h * link
        g_0 = self._gamma(ones * 0, z_x)
        a_0, sig_0 = self._alpha_sigma(g_0)
        eps_x, eps_h = self.dynamics(z_x, z_h, ones.to(dtype) * 0.0, batch.node_mask,
                                     batch.frag_mask)
        x = (z_x - sig_0[:, None, None] * eps_x) / a_0[:, None, None]
        h = (z_h - sig_0[:, None, None] * eps_h) / a_0[:, None, None]
        out = []
        for i, (k, t_prompt) in enumerate(zip(n_linker, prompt_types)):
            start = len(t_prompt)
            xyz = x[i, start:start + k].double().cpu() + centres[i]
            out.append((h[i, start:start + k].argmax(-1).cpu().numpy(), xyz.numpy()))
        return out


def prompt_frame(coords: torch.Tensor) -> torch.Tensor:
    """A right-handed orthonormal frame (columns) that rotates with the prompt atoms.

    Axis 1 joins the two anchor groups (first half / second half of the prompt); axis 2 is
    an index-weighted sum of the atoms' components perpendicular to it; axis 3 completes
    the frame. For a perfectly linear prompt axis 2 falls back to a fixed perpendicular:
    the distribution is still right, only the same-seed equivariance is undefined there.
    """
    c = coords - coords.mean(0)
    half = len(c) // 2
    e1 = c[half:].mean(0) - c[:half].mean(0)
    e1 = e1 / e1.norm().clamp(min=1e-12)
    weights = torch.arange(1, len(c) + 1, dtype=c.dtype)[:, None]
    perp = c - (c @ e1)[:, None] * e1
    v = (weights * perp).sum(0)
    if v.norm() < 1e-3:
        helper = torch.eye(3, dtype=c.dtype)[int(torch.argmin(e1.abs()))]
        v = helper - (helper @ e1) * e1
    e2 = v / v.norm()
    e3 = torch.linalg.cross(e1, e2)
    return torch.stack([e1, e2, e3], dim=1)
