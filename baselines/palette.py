"""Palette (Saharia, Chan, Chang, Lee, Ho, Salimans, Fleet, Norouzi, SIGGRAPH 2022): a conditional diffusion model
that sees the degraded image next to its noisy input, one model per task.

Released code (unofficial; the authors released none): ``Janspiry/Palette-Image-to-Image-Diffusion-Models``
at commit 136b29f58d0af6e5db9f3655d2891f5a855fcdaa: ``models/network.py`` feeds ``cat([cond_image, y_t])`` to the UNet, one network per task, and
``data/dataset.py`` builds ``cond_image`` (inpainting: the image with its hole filled by N(0, 1) noise).
Here the conditioning is :func:`eps.nn.conditioning.degraded_image` (``y`` on the image grid, ``A^+ y`` for
super-resolution, unobserved pixels of a mask filled with fresh N(0, 1) draws). It enters through
``cond_conv``, a 3x3 convolution of the condition added to the first 3x3 convolution of the noisy input: that
*is* a 3x3 convolution of the channel concatenation ``[x, cond]`` (convolution is linear in its input
channels), initialised to zero on the condition's channels.

Budget (ours, stated; the EPS paper does not give Palette's): one Palette network per task, fine-tuned from
the same unconditional prior as EPS, with EPS's steps, batch and learning rate (``eps train --kind palette
--init PRIOR --tasks TASK``, EDM loss on ``(x0 + sigma n, sigma, degraded image)``). So each Palette network
gets as many updates on its one task as the EPS network gets on all five (5x EPS's compute in total), and
step 0 is exactly the prior's denoiser, as for EPS.

Sampling is the backbone's own sampler (EDM Heun by default), the same as EPS's, with the denoiser

    D(x_t, t) = D_theta(x_t / alpha_t; sigma_t, degraded image)

and nothing else: no likelihood gradients, one network call per NFE. Deliberate deviations from the release,
stated: its own 1000/2000-step DDPM ancestral sampler with ``clip_denoised`` (we compare at the backbone's
NFE like every method here), and for inpainting its replacement of the observed pixels by the clean image
after every step and its loss restricted to the hole (``mask`` in ``Network.restoration`` / ``forward``),
which assume noise-free observations (here ``sigma_y > 0``). The prior must provide
``denoise_palette(x~, sigma, condition)`` (:class:`eps.nn.NetworkPrior` built with ``palette_ckpt``).
"""
from __future__ import annotations

from eps.methods.eps import BackboneSampler
from eps.methods import Problem, Prior, register_method
from eps.nn.conditioning import degraded_image

from ._loop import bound


@register_method("palette")
class Palette(BackboneSampler):
    def sample(self, problem, prior, nfe, generator):
        """The degraded image (its noise fill drawn first from ``generator``) is bound once per call."""
        condition = degraded_image(problem.operator, problem.y, generator)
        return super(Palette, bound(self, _condition=condition)).sample(problem, prior, nfe, generator)

    def denoiser(self, problem: Problem, prior: Prior):
        if not hasattr(getattr(prior, "prior", prior), "denoise_palette"):  # look behind the counting wrapper
            raise ValueError("palette needs a trained Palette network: pass eps sample --palette-net CKPT "
                             "(eps train --kind palette --init PRIOR makes one per task)")
        interpolant, condition = prior.interpolant, self._condition

        def denoise(x_t, t):
            alpha, beta = interpolant.alpha(t), interpolant.beta(t)
            return prior.denoise_palette(x_t / alpha, beta / alpha, condition)

        return denoise
