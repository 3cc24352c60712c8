"""Blur kernels: DPS's Gaussian, and camera-shake kernels with the ``motionblur`` library's semantics.

Gaussian (DPS2022/diffusion-posterior-sampling ``util/img_utils.py`` @ effbde7, ``Blurkernel``): the
``size x size`` kernel is ``scipy.ndimage.gaussian_filter`` of a centred delta with ``sigma = std`` (its
defaults: truncation at ``int(4 std + 0.5)`` pixels, ``mode='reflect'``). The filter is separable, so the
kernel is ``g g^T`` with ``g = gaussian_filter1d`` of a 1-D delta (:func:`gaussian_kernel_1d`).

Motion (LeviBorodenko/motionblur ``motionblur.py`` @ 5781378, ``Kernel(size, intensity).kernelMatrix``, as
DPS and DAPS call it): re-implemented here from the library's description, drawing from a
``torch.Generator`` instead of numpy's global state. On a canvas of twice the size (diagonal ``D``):

1. path length ``L = 0.75 D (U(0, 1) + U(0, intensity^2))``; step lengths ``Beta(1, 30) (1 - intensity + 0.1) D``
   (a step ``>= L`` is redrawn) until their sum reaches ``L``;
2. step directions (absolute, not turns): ``a_max ~ U(0, pi intensity)``, sign-flip probability
   ``j ~ Beta(2, 20)``; the first direction ``~ U(-a_max, a_max)``, each next
   ``|a| ~ Triangular(0, intensity a_max, a_max + 0.1)`` with the sign of the previous one flipped w.p. ``j``;
3. the path (cumulative sum of the steps) is centred on its mean point, rotated by ``U(0, pi)`` and placed
   at the canvas centre;
4. rasterised, blurred with a Gaussian of std ``int(0.01 D)`` pixels (none below ``D = 100``), reduced to
   ``size x size`` and normalised to sum one.

Deliberate differences in step 4 only (the random path is the library's): the path is drawn as an
antialiased line (bilinear splats every ``<= 1/4`` px, weighted by arc length; the library draws an aliased
PIL line of width ``int(D / 150)`` whose overlaps saturate) and reduced by 2x2 block averaging (the library:
Lanczos resampling).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.ndimage
import torch

Tensor = torch.Tensor

_EPS = 0.1  # the library's constant in the step lengths and the triangular angle distribution


def gaussian_kernel_1d(size: int, std: float) -> Tensor:
    """``scipy.ndimage.gaussian_filter1d`` of a length-``size`` delta at ``size // 2`` (float64, sums to one)."""
    if size < 1 or size % 2 == 0 or std <= 0:
        raise ValueError(f"deblur_gauss: need an odd kernel_size >= 1 and std > 0, got {size}, {std}")
    delta = np.zeros(size)
    delta[size // 2] = 1.0
    return torch.from_numpy(scipy.ndimage.gaussian_filter1d(delta, sigma=std))


def gaussian_kernel(size: int, std: float, batch_size: int = 1) -> Tensor:
    """DPS's 2-D Gaussian kernel ``g g^T`` as ``(batch_size, size, size)`` float32."""
    g = gaussian_kernel_1d(size, std)
    return torch.outer(g, g).float().expand(batch_size, size, size).clone()


def _uniform(generator, n: int = 1, low: float = 0.0, high: float = 1.0) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def _beta(a: int, b: int, generator) -> float:
    """``Beta(a, b) = G_a / (G_a + G_b)`` for integer ``a, b`` (``G_k``: a sum of ``k`` standard exponentials)."""
    e = -torch.log1p(-_uniform(generator, a + b))
    return float(e[:a].sum() / e.sum())


def _triangular(left: float, mode: float, right: float, u: Tensor) -> Tensor:
    """Inverse CDF of the triangular distribution on ``[left, right]`` with the given mode, at ``u``."""
    span = right - left
    return torch.where(u < (mode - left) / span, left + torch.sqrt(u * span * (mode - left)),
                       right - torch.sqrt((1 - u) * span * (right - mode)))


def _step_lengths(L: float, scale: float, generator, chunk: int = 64) -> Tensor:
    """Steps ``Beta(1, 30) scale`` (``Beta(1, 30) = 1 - U^(1/30)``), those ``>= L`` redrawn, until they sum to ``L``."""
    steps = torch.zeros(0, dtype=torch.float64)
    while True:
        draw = (1 - _uniform(generator, chunk) ** (1 / 30)) * scale
        steps = torch.cat([steps, draw[draw < L]])
        reached = torch.nonzero(torch.cumsum(steps, 0) >= L)
        if len(reached):
            return steps[: int(reached[0]) + 1]


def motion_path(size: int, intensity: float, generator) -> Tensor:
    """Steps 1-3 of the module doc: ``(N, 2)`` float64 points ``(x, y)`` on the ``2 size`` canvas."""
    canvas = 2 * size
    D = math.sqrt(2) * canvas
    L = 0.75 * D * float(_uniform(generator) + _uniform(generator, 1, 0.0, intensity**2))
    steps = _step_lengths(L, (1 - intensity + _EPS) * D, generator)
    a_max = float(_uniform(generator, 1, 0.0, intensity * math.pi))
    jitter = _beta(2, 20, generator)
    first = _uniform(generator, 1, -a_max, a_max)
    magnitude = _triangular(0.0, intensity * a_max, a_max + _EPS, _uniform(generator, len(steps) - 1))
    flips = torch.where(_uniform(generator, len(steps) - 1) < jitter, -1.0, 1.0)
    angles = torch.cat([first, torch.sign(first) * torch.cumprod(flips, 0) * magnitude])
    z = torch.cumsum(steps * torch.exp(1j * angles), 0)
    rotation = float(_uniform(generator, 1, 0.0, math.pi))
    z = (z - z.mean()) * complex(math.cos(rotation), math.sin(rotation)) + complex(canvas / 2, canvas / 2)
    return torch.stack([z.real, z.imag], dim=1)


def rasterise(path: Tensor, canvas: int) -> Tensor:
    """Antialiased line through ``path`` on a ``canvas x canvas`` grid (pixel ``[r, c]`` centred at
    ``(c + 1/2, r + 1/2)``): bilinear splats every ``<= 1/4`` px along each segment, weighted by arc length."""
    p, q = (path[:-1], path[1:]) if len(path) > 1 else (path, path)
    length = torch.linalg.vector_norm(q - p, dim=1)
    n = torch.ceil(4 * length).long().clamp_min(1)
    segment = torch.repeat_interleave(torch.arange(len(n)), n)
    within = torch.arange(int(n.sum())) - torch.repeat_interleave(torch.cumsum(n, 0) - n, n)
    t = (within + 0.5) / n[segment]
    points = p[segment] + t[:, None] * (q - p)[segment] - 0.5  # pixel-centre coordinates
    mass = (length.clamp_min(1e-12) / n)[segment]
    base = torch.floor(points)
    frac = points - base
    image = torch.zeros(canvas * canvas, dtype=torch.float64)
    for dx in (0, 1):
        for dy in (0, 1):
            w = (frac[:, 0] if dx else 1 - frac[:, 0]) * (frac[:, 1] if dy else 1 - frac[:, 1])
            col, row = base[:, 0].long() + dx, base[:, 1].long() + dy
            inside = (col >= 0) & (col < canvas) & (row >= 0) & (row < canvas)
            image.index_add_(0, (row * canvas + col)[inside], (w * mass)[inside])
    return image.reshape(canvas, canvas)


def motion_kernel(size: int, intensity: float, batch_size: int, generator: torch.Generator | None) -> Tensor:
    """``(batch_size, size, size)`` float32 camera-shake kernels (module doc), drawn in order from ``generator``."""
    if size < 3 or size % 2 == 0 or not 0.0 <= intensity <= 1.0:
        raise ValueError(f"deblur_motion: need an odd kernel_size >= 3 and intensity in [0, 1], "
                         f"got {size}, {intensity}")
    canvas = 2 * size
    blur_std = int(0.01 * math.sqrt(2) * canvas)
    kernels = []
    for _ in range(batch_size):
        image = rasterise(motion_path(size, intensity, generator), canvas)
        if blur_std > 0:
            image = torch.from_numpy(scipy.ndimage.gaussian_filter(image.numpy(), blur_std, mode="constant"))
        k = image.reshape(size, 2, size, 2).mean(dim=(1, 3))
        kernels.append(k / k.sum())
    return torch.stack(kernels).float()


def line_kernel(length: float, angle: float, size: int, quadrature: int = 64) -> Tensor:
    """Straight-line motion kernel (EPS paper App. B): the uniform density on the segment ``s u``,
    ``s in [-L/2, L/2]``, ``u = (cos angle, sin angle)`` (``angle`` in degrees, counter-clockwise from the
    column axis, rows pointing down), spread onto the ``size x size`` grid centred at pixel ``size // 2`` by
    bilinear (tent) splats, as float64:

        k[r, c] = (1 / L) int_{-L/2}^{L/2} tent(c - c0 - s u_x) tent(r - r0 + s u_y) ds,   tent(d) = max(0, 1 - |d|)

    The tents of a point sum to one over the grid, so ``sum k = 1`` exactly while the support
    ``size >= 2 ceil(L / 2) + 1`` holds; the kernel of ``angle + 180`` is the same set (``s -> -s``). The
    integral is the midpoint rule with ``ceil(quadrature * L)`` nodes (at least one; ``L = 0`` is the identity).
    Its covariance, as a density over pixel offsets, is ``L^2 (1 - 1/n^2) / 12 u u^T + I / 6`` (a discrete
    uniform on ``n`` midpoints plus the tent's variance 1/6 per axis).
    """
    radius = size // 2
    if size % 2 == 0 or length < 0 or 2 * math.ceil(length / 2) + 1 > size:
        raise ValueError(f"deblur_motion: a line of length {length} needs an odd kernel of at least "
                         f"{2 * math.ceil(length / 2) + 1} pixels, got {size}")
    n = max(1, math.ceil(quadrature * length))
    s = ((torch.arange(n, dtype=torch.float64) + 0.5) / n - 0.5) * length
    theta = math.radians(angle)
    dx, dy = s * math.cos(theta), -s * math.sin(theta)  # offsets (column, row) of the nodes
    grid = torch.arange(size, dtype=torch.float64) - radius
    wx = (1 - (grid[None, :] - dx[:, None]).abs()).clamp_min(0)  # (n, size) tent weights per column
    wy = (1 - (grid[None, :] - dy[:, None]).abs()).clamp_min(0)  # per row
    return torch.einsum("nr,nc->rc", wy, wx) / n


def line_support(max_length: float) -> int:
    """The odd kernel size that holds every line up to ``max_length``: ``2 ceil(L / 2) + 1``."""
    return 2 * math.ceil(max_length / 2) + 1


def line_motion_kernels(lengths, batch_size: int, generator: torch.Generator | None,
                        scale: float = 1.0) -> tuple[Tensor, Tensor, Tensor]:
    """``batch_size`` straight-line motion kernels (EPS paper App. B): per sample a length drawn uniformly from
    ``lengths`` (then multiplied by ``scale``) and an angle ``~ U[0, 180)`` degrees, drawn in that order from
    ``generator``. Returns the ``(B, k, k)`` float32 kernels on the common support ``k`` of the longest length,
    and the drawn lengths and angles (float64)."""
    table = torch.tensor([float(v) * scale for v in lengths], dtype=torch.float64)
    if table.dim() != 1 or not len(table) or (table < 0).any():
        raise ValueError(f"deblur_motion: lengths must be a non-empty list of non-negative numbers, got {lengths}")
    size = line_support(float(table.max()))
    drawn, angles, kernels = [], [], []
    for _ in range(batch_size):
        length = float(table[int(torch.randint(len(table), (), generator=generator))])
        angle = 180.0 * float(torch.rand((), generator=generator, dtype=torch.float64))
        drawn.append(length)
        angles.append(angle)
        kernels.append(line_kernel(length, angle, size))
    return (torch.stack(kernels).float(), torch.tensor(drawn, dtype=torch.float64),
            torch.tensor(angles, dtype=torch.float64))
