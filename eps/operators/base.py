"""Linear operators in spectral (SVD) form: ``A = U S V^T``.

Every forward model of the project is a batch of linear maps from images ``x`` of shape ``(B, C, H, W)``
to measurements ``y`` of shape ``(B, *measurement_shape)``. Each operator exposes its singular value
decomposition through four real orthogonal transforms and one tensor of singular values:

    V_T(x) -> coefficients c  (the "spectral layout": same shape as x)
    V(c)   -> image           (V V_T = I)
    U_T(y) -> coefficients    (spectral layout; zero where the measurement has no component)
    U(c)   -> measurement     (U U_T = I on the measurement space)
    s      -> singular values in the spectral layout, broadcastable to it (zero for unmeasured
              directions)

so that ``A x = U(s * V_T(x))`` and ``A^T y = V(s * U_T(y))``. Everything the project needs from an
operator is a diagonal function of ``s`` in this basis:

    spectral_apply(x, f)   = V f(s) V^T x          e.g. (a I + b A^T A)^(-1) x,  Sigma_star x
    spectral_pullback(y, f) = V f(s) U^T y         e.g. A^T y, A^+ y, PiGDM's A^T (r^2 A A^T + s_y^2)^(-1) y

Operator parameters (masks, kernels) carry a leading batch axis of size 1 (shared by the whole batch)
or ``B`` (one operator per sample).
"""
from __future__ import annotations

from typing import Callable, ClassVar

import torch

Tensor = torch.Tensor


class LinearOperator:
    """Base class: subclasses define ``V_T, V, U_T, U``, the singular values ``s`` and their parameters."""

    task: ClassVar[str]
    rcond: ClassVar[float] = 1e-6  # relative cut-off below which a singular value counts as zero (pinv)

    def __init__(self, image_shape: tuple[int, int, int]):
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
        self.image_shape = tuple(int(v) for v in image_shape)

    # --- spectral form, provided by subclasses -------------------------------------------------
    @property
    def s(self) -> Tensor:
        raise NotImplementedError

    def V_T(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def V(self, c: Tensor) -> Tensor:
        raise NotImplementedError

    def U_T(self, y: Tensor) -> Tensor:
        raise NotImplementedError

    def U(self, c: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def measurement_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def params(self) -> dict[str, Tensor]:
        """Tensors that define this operator instance (saved by :func:`eps.operators.save`)."""
        raise NotImplementedError

    def pixel_variance(self, var: Tensor) -> Tensor:
        """Diagonal of ``V diag(var) V^T`` as an image (per-pixel variance of an anisotropic noise)."""
        raise NotImplementedError

    # --- derived -------------------------------------------------------------------------------
    def A(self, x: Tensor) -> Tensor:
        """Forward model ``A x = U S V^T x``."""
        self.check_image(x)
        return self.U(self.s * self.V_T(x))

    def A_T(self, y: Tensor) -> Tensor:
        """Adjoint ``A^T y = V S U^T y``."""
        return self.V(self.s * self.U_T(y))

    def spectral_apply(self, x: Tensor, f: Callable[[Tensor], Tensor]) -> Tensor:
        """``V diag(f(s)) V^T x``: any function of ``A^T A`` applied to an image."""
        return self.V(f(self.s) * self.V_T(x))

    def spectral_pullback(self, y: Tensor, f: Callable[[Tensor], Tensor]) -> Tensor:
        """``V diag(f(s)) U^T y``: a measurement mapped to image space through a function of ``s``."""
        return self.V(f(self.s) * self.U_T(y))

    def pinv(self, y: Tensor) -> Tensor:
        """Pseudo-inverse ``A^+ y = V S^+ U^T y``; singular values below ``rcond * max(s)`` count as zero."""
        keep = self.measured()
        return self.spectral_pullback(y, lambda s: torch.where(keep, 1.0 / torch.where(keep, s, 1.0), 0.0))

    def measured(self) -> Tensor:
        """Spectral-layout mask of the numerically measured directions: ``s > rcond * max(s)`` per sample."""
        s = self.s
        return s > self.rcond * s.flatten(1).amax(dim=1).reshape(-1, *([1] * (s.dim() - 1)))

    def measure(self, x0: Tensor, sigma_y: float, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``y = A x0 + sigma_y n``, ``n ~ N(0, I)`` on the measurement space."""
        Ax = self.A(x0)
        n = torch.randn(Ax.shape, generator=generator, dtype=Ax.dtype, device=Ax.device)
        return Ax + sigma_y * n

    def check_image(self, x: Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{self.task}: expected images of shape (B, {', '.join(map(str, self.image_shape))}), "
                f"got {tuple(x.shape)}"
            )

    def to(self, device=None, dtype=None) -> "LinearOperator":
        """A copy with every parameter moved (floating parameters cast to ``dtype``)."""
        moved = {
            k: v.to(device=device, dtype=dtype if v.is_floating_point() and dtype is not None else v.dtype)
            for k, v in self.params().items()
        }
        return type(self)(self.image_shape, **moved)

    def repeat(self, k: int) -> "LinearOperator":
        """Repeat every per-sample parameter ``k`` times (``repeat_interleave``), e.g. for K samples per y."""
        params = {n: (p if p.shape[0] == 1 else p.repeat_interleave(k, dim=0)) for n, p in self.params().items()}
        return type(self)(self.image_shape, **params)

    def __getitem__(self, index) -> "LinearOperator":
        """The operators of a slice of the batch (shared parameters stay shared)."""
        params = {n: (p if p.shape[0] == 1 else p[index]) for n, p in self.params().items()}
        return type(self)(self.image_shape, **params)

    @property
    def batch_size(self) -> int:
        return max(p.shape[0] for p in self.params().values())

    def dense(self, which: str = "A", index: int = 0, dtype=torch.float64) -> Tensor:
        """Dense matrix of ``A`` (``which='A'``) for sample ``index`` — for tests and tiny analytic priors."""
        op = self[index : index + 1].to(dtype=dtype)
        d = int(torch.tensor(self.image_shape).prod())
        basis = torch.eye(d, dtype=dtype, device=op.s.device).reshape(d, *self.image_shape)
        if which == "A":
            return op.A(basis).reshape(d, -1).T
        raise ValueError(f"unknown matrix {which!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task={self.task!r}, image_shape={self.image_shape}, batch={self.batch_size})"


def _per_sample(v: Tensor | float, like: Tensor) -> Tensor | float:
    """Reshape a per-sample ``(B,)`` tensor to broadcast against ``(B, C, H, W)``; pass scalars through."""
    if isinstance(v, Tensor) and v.dim() == 1:
        return v.reshape(-1, *([1] * (like.dim() - 1)))
    return v
