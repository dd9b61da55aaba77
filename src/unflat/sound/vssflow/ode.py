"""ODE solvers for the flow, computing what torchdiffeq 0.2.5 computes for the published sampler
(``flow_matching.solver.ODESolver`` over ``torchdiffeq.odeint``), without depending on it:

* ``euler`` and ``midpoint``: one step per interval of the time grid;
* ``dopri5``: adaptive Dormand-Prince 5(4) with the Hairer initial step, error control on the
  RMS norm of ``error / (atol + rtol max(|y0|, |y1|))``, safety 0.9, growth at most 10x and
  shrink at most 0.2x a step, times in float64 (stage times rounded to the state's dtype, the
  last stages one ulp before the step's end, as torchdiffeq perturbs them), and the quartic
  dense output evaluated at the grid times.

Every solver returns the state at the last grid time and the number of velocity evaluations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import Tensor

from unflat.errors import ConfigError

Velocity = Callable[[Tensor, Tensor], Tensor]  # f(t, x) -> dx/dt, t a 0-dim tensor

_A = (
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_C = (1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
# 5th-order weights minus the embedded 4th-order ones (the last stage is the FSAL one).
_E = (
    35 / 384 - 1951 / 21600,
    0.0,
    500 / 1113 - 22642 / 50085,
    125 / 192 - 451 / 720,
    -2187 / 6784 - -12231 / 42400,
    11 / 84 - 649 / 6300,
    -1 / 60,
)
# Weights of the solution at the step's midpoint (Shampine's dense output).
_MID = (
    6025192743 / 30085553152 / 2,
    0.0,
    51252292925 / 65400821598 / 2,
    -2691868925 / 45128329728 / 2,
    187940372067 / 1594534317056 / 2,
    -1776094331 / 19743644256 / 2,
    11237099 / 235043384 / 2,
)
ORDER = 5
SAFETY, IFACTOR, DFACTOR = 0.9, 10.0, 0.2


def solve(
    f: Velocity,
    x: Tensor,
    grid: Tensor,
    method: str,
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> tuple[Tensor, int]:
    """Integrate ``dx/dt = f(t, x)`` over ``grid`` (increasing times); (final state, NFE)."""
    if method == "dopri5":
        return _dopri5(f, x, grid, atol, rtol)
    if method not in ("euler", "midpoint"):
        raise ConfigError(f"unknown sampler {method!r}", "use 'euler', 'midpoint' or 'dopri5'")
    nfe = 0
    for t0, t1 in itertools.pairwise(grid):
        dt = t1 - t0
        k = f(t0, x)
        if method == "midpoint":
            half = 0.5 * dt
            k = f(t0 + half, x + k * half)
        x = x + dt * k
        nfe += 1 if method == "euler" else 2
    return x, nfe


def _rms(x: Tensor) -> Tensor:
    return x.abs().pow(2).mean().sqrt()


class _Counted:
    """``f`` called with the time in the state's dtype (optionally one ulp earlier), counted."""

    def __init__(self, f: Velocity, dtype: torch.dtype):
        self.f, self.dtype, self.calls = f, dtype, 0

    def __call__(self, t: Tensor, x: Tensor, before: bool = False) -> Tensor:
        self.calls += 1
        t = t.to(self.dtype)
        if before:
            t = torch.nextafter(t, t - 1)
        return self.f(t, x)


def _initial_step(f: _Counted, t0: Tensor, y0: Tensor, f0: Tensor, atol: float, rtol: float):
    """Hairer, Norsett & Wanner's starting step (Solving ODEs I, II.4), in float64."""
    scale = atol + y0.abs() * rtol
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    h0 = (
        torch.tensor(1e-6, dtype=y0.dtype, device=y0.device)
        if d0 < 1e-5 or d1 < 1e-5
        else 0.01 * d0 / d1
    )
    f1 = f(t0 + h0, y0 + h0 * f0)
    d2 = _rms((f1 - f0) / scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = torch.maximum(torch.tensor(1e-6, dtype=y0.dtype, device=y0.device), h0 * 1e-3)
    else:
        h1 = (0.01 / torch.maximum(d1, d2)) ** (1.0 / ORDER)
    return torch.minimum(100 * h0, h1).to(torch.float64)


def _stages(f: _Counted, y0: Tensor, f0: Tensor, t0: Tensor, dt: Tensor, t1: Tensor) -> Tensor:
    """The seven Dormand-Prince slopes [..., 7] of one step (the last is f at the new state)."""
    k = [f0]
    t0s, dts = t0.to(y0.dtype), dt.to(y0.dtype)
    for row, c in zip(_A, _C, strict=True):
        weights = torch.tensor(row, dtype=torch.float64).to(y0.dtype) * dts
        yi = y0 + (torch.stack(k, dim=-1) * weights).sum(-1)
        ti = t1 if c == 1.0 else t0s + torch.tensor(c, dtype=torch.float64).to(y0.dtype) * dts
        k.append(f(ti, yi, before=c == 1.0))
    return torch.stack(k, dim=-1)


def _weighted(k: Tensor, coefficients: tuple[float, ...], dt: Tensor) -> Tensor:
    return (k * (dt.to(k.dtype) * torch.tensor(coefficients, dtype=torch.float64).to(k.dtype))).sum(
        -1
    )


def _dense(y0: Tensor, y1: Tensor, k: Tensor, dt: Tensor) -> list[Tensor]:
    """Coefficients (constant first) of the quartic through the step, in ``s`` = 0..1."""
    h = dt.to(y0.dtype)
    y_mid = y0 + _weighted(k, _MID, dt)
    f0, f1 = k[..., 0], k[..., -1]
    a = 2 * h * (f1 - f0) - 8 * (y1 + y0) + 16 * y_mid
    b = h * (5 * f0 - 3 * f1) + 18 * y0 + 14 * y1 - 32 * y_mid
    c = h * (f1 - 4 * f0) - 11 * y0 - 5 * y1 + 16 * y_mid
    return [y0, h * f0, c, b, a]


def _evaluate(coefficients: list[Tensor], t0: Tensor, t1: Tensor, t: Tensor) -> Tensor:
    s = ((t - t0) / (t1 - t0)).to(coefficients[0].dtype)
    total, power = coefficients[0] + s * coefficients[1], s
    for coefficient in coefficients[2:]:
        power = power * s
        total = total + power * coefficient
    return total


def _dopri5(f: Velocity, y: Tensor, grid: Tensor, atol: float, rtol: float) -> tuple[Tensor, int]:
    counted = _Counted(f, y.dtype)
    times = grid.to(torch.float64)
    t0 = times[0]
    f0 = counted(t0, y)
    dt = _initial_step(counted, t0, y, f0, atol, rtol)
    step_start, coefficients = t0, [y] * 5
    out = y
    for target in times[1:]:
        while target > t0:  # t0: the end of the last accepted step
            t1 = t0 + dt
            k = _stages(counted, y, f0, t0, dt, t1)
            y1 = y + _weighted(k[..., :6], _A[-1], dt)
            error = _weighted(k, _E, dt)
            ratio = _rms(error / (atol + rtol * torch.maximum(y.abs(), y1.abs())))
            if ratio <= 1:
                coefficients = _dense(y, y1, k, dt)
                step_start, t0, y, f0 = t0, t1, y1, k[..., -1]
            dt = _next_step(dt, ratio.to(torch.float64))
        out = _evaluate(coefficients, step_start, t0, target)
    return out, counted.calls


def _next_step(dt: Tensor, ratio: Tensor) -> Tensor:
    """torchdiffeq's step-size update (order 5, safety 0.9, factors 0.2..10)."""
    if ratio == 0:
        return dt * IFACTOR
    low = 1.0 if ratio < 1 else DFACTOR
    factor = min(IFACTOR, max(float(SAFETY / ratio ** (1.0 / ORDER)), low))
    return dt * factor
