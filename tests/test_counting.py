"""The prior as a method sees it (eps.methods.CountingPrior): every denoiser entry point counted, nothing else
reachable, non-finite output stopped when asked (issue 21 §3: one wrapper with an explicit protocol)."""
from __future__ import annotations

import math

import pytest
import torch

from eps.interpolants import EDM
from eps.methods import CountingPrior, Method, Problem
from eps.operators import make_operator
from eps.rng import generator


class Toy:
    """A prior with every denoiser entry point, one extra denoiser-like method and one plain attribute."""

    image_shape = (1, 2, 2)
    interpolant = EDM()
    secret = "not part of the protocol"

    def __init__(self, value: float = 0.5):
        self.value = value

    def denoise(self, x, sigma):
        return x * self.value

    def denoise_pivot(self, pivot):
        return pivot * self.value

    def denoise_palette(self, x, sigma, condition):
        return (x + condition) * self.value

    def denoise_new(self, x, sigma):  # an entry point the wrapper does not know
        return x


def test_every_denoiser_entry_point_is_counted_with_its_vjps():
    prior = CountingPrior(Toy())
    x = torch.ones(1, 1, 2, 2, requires_grad=True)
    sigma = torch.tensor(1.0)
    out = prior.denoise(x, sigma) + prior.denoise_pivot(x) + prior.denoise_palette(x, sigma, x) + prior.count(x * 2)
    assert prior.forward == 4 and prior.vjp == 0
    out.sum().backward()
    assert prior.vjp == 4
    assert prior.image_shape == (1, 2, 2) and isinstance(prior.interpolant, EDM)


@pytest.mark.parametrize("name", ["denoise_new", "secret"])
def test_anything_outside_the_protocol_fails_loudly_instead_of_running_uncounted(name):
    with pytest.raises(AttributeError):
        getattr(CountingPrior(Toy()), name)


def test_a_method_calling_an_unknown_entry_point_fails_and_a_known_one_is_measured():
    class UsesNew(Method):  # not registered: the registry stays as installed
        def sample(self, problem, prior, nfe, g):
            return prior.denoise_new(problem.y, torch.tensor(1.0))

    class UsesDenoise(Method):
        def sample(self, problem, prior, nfe, g):
            x = torch.zeros(problem.batch_size, *prior.image_shape)
            for _ in range(nfe):
                x = prior.denoise(x, torch.tensor(1.0))
            return x

    op = make_operator("inpaint_random", (1, 2, 2), 1, generator(0))
    problem = Problem(op, op.A(torch.zeros(1, 1, 2, 2)), 0.05)
    with pytest.raises(AttributeError, match="denoise_new"):
        UsesNew().run(problem, Toy(), 3)
    assert UsesDenoise().run(problem, Toy(), 3).nfe == 3


def test_with_a_name_the_first_non_finite_output_stops_the_run_naming_call_and_what():
    prior = CountingPrior(Toy(value=math.nan), "dps on sr4 (images 0..1)")
    with pytest.raises(FloatingPointError, match=r"dps on sr4 \(images 0..1\): denoiser call 1 \(sampler step\)"):
        prior.denoise(torch.ones(1, 1, 2, 2), torch.tensor(1.0))
    assert CountingPrior(Toy(value=math.nan)).denoise(torch.ones(1), torch.tensor(1.0)).isnan().all()  # unnamed: counted only
