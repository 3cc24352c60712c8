"""Palette as the EPS paper defines it: "the EPS pipeline with x_t in place of mu_star" (arXiv 2606.17048, Sec. 4.1,
D.1 (a) ``[x_t, y, t]``, Table 12 "training-based; per-task EPS backbone"): one network per task, fine-tuned from the
same backbone as EPS with the same per-task budget and optimiser (App. B), its first convolution widened to
``[x_t, observation image]`` with the same observation image as EPS (masked y, nearest-upsampled y, blurred y;
:func:`eps.nn.conditioning.observation_image`) through the same zero-initialised channels, so step 0 is exactly
the backbone's denoiser, and sampled with the same EDM Euler sampler (the protocol's ``solver``).

Palette as Saharia et al. define it (Saharia, Chan, Chang, Lee, Ho, Salimans, Fleet, Norouzi, SIGGRAPH 2022) is the
option ``conditioning: degraded`` of its training (``eps train --kind palette --conditioning degraded``): the network
sees the *degraded image* (:func:`eps.nn.conditioning.degraded_image`: ``y`` on the image grid, ``A^+ y`` for
super-resolution, unobserved pixels of a mask filled with fresh N(0, 1) draws), as the unofficial release does
(the authors released none): ``Janspiry/Palette-Image-to-Image-Diffusion-Models`` at commit
136b29f58d0af6e5db9f3655d2891f5a855fcdaa, ``models/network.py`` feeds ``cat([cond_image, y_t])`` to the UNet, one
network per task, and ``data/dataset.py`` builds ``cond_image`` (inpainting: the hole filled by N(0, 1) noise).
Deliberate deviations from that release, stated: its own 1000/2000-step DDPM ancestral sampler with
``clip_denoised`` (we compare at the backbone's NFE like every method here), and for inpainting its replacement of
the observed pixels by the clean image after every step and its loss restricted to the hole (``mask`` in
``Network.restoration`` / ``forward``), which assume noise-free observations (here ``sigma_y > 0``).

A network saves its conditioning (``UNetConfig.conditioning``), so sampling always feeds what it was trained on.
Sampling is the backbone's own sampler with the denoiser

    D(x_t, t) = D_theta(x_t / alpha_t; sigma_t, condition)

and nothing else: no likelihood gradients, one network call per NFE. The prior must provide
``denoise_palette(x~, sigma, condition)`` and ``palette_conditioning`` (:class:`eps.nn.NetworkPrior` built with
``palette_ckpt``).
"""
from __future__ import annotations

from eps.methods.eps import BackboneSampler
from eps.methods import Problem, Prior, register_method
from eps.nn.conditioning import palette_condition

from ._loop import bound


def _network_prior(prior):
    """The prior behind wrappers (the NFE counter, the image benchmark's checks hold theirs as ``.prior``)."""
    while hasattr(prior, "prior"):
        prior = prior.prior
    return prior


@register_method("palette")
class Palette(BackboneSampler):
    def sample(self, problem, prior, nfe, generator):
        """The condition (a degraded image's noise fill drawn first from ``generator``) is bound once per call."""
        conditioning = getattr(_network_prior(prior), "palette_conditioning", None)
        if conditioning is None:
            raise ValueError("palette needs a trained Palette network: pass eps sample --palette-net CKPT "
                             "(eps train --kind palette --init PRIOR --tasks TASK makes one per task)")
        condition = palette_condition(problem.operator, problem.y, conditioning, generator)
        return super(Palette, bound(self, _condition=condition)).sample(problem, prior, nfe, generator)

    def denoiser(self, problem: Problem, prior: Prior):
        interpolant, condition = prior.interpolant, self._condition

        def denoise(x_t, t):
            alpha, beta = interpolant.alpha(t), interpolant.beta(t)
            return prior.denoise_palette(x_t / alpha, beta / alpha, condition)

        return denoise
