"""Natural cubic spline bases (NumPy, evaluated once at set-up).

A natural cubic spline through knot values ``y`` at knots ``x`` is linear in ``y``: its
value at any point ``u`` is ``J(u) @ y`` for a row vector ``J(u)`` that depends only on
the knots. BayeSN writes its SED surfaces, the Hsiao template resampling and the
Fitzpatrick (1999) dust law in this form, so every spline in sndust is one of these
matrices, built here with NumPy and then used inside JAX as a constant or a gathered row.

Beyond the end knots the spline continues as the straight line with the end slope
(a natural spline has zero curvature there), as in BayeSN (Mandel+22, §2).
"""

from __future__ import annotations

import numpy as np

from ._errors import ModelError

__all__ = ["second_derivative_matrix", "spline_basis"]


def second_derivative_matrix(knots) -> np.ndarray:
    """Matrix ``K`` with ``y'' = K @ y`` at the knots of a natural cubic spline.

    Args:
        knots: strictly increasing knot locations, shape ``(n,)`` with ``n >= 3``.

    Returns:
        ``(n, n)`` float64 array; its first and last rows are zero (natural boundary).
    """
    x = np.asarray(knots, dtype=np.float64)
    n = x.shape[0]
    if x.ndim != 1 or n < 3:
        raise ModelError(f"a natural cubic spline needs at least 3 knots, got shape {x.shape}")
    h = np.diff(x)
    if np.any(h <= 0):
        raise ModelError(f"spline knots must be strictly increasing, got {x.tolist()}")
    # Continuity of the first derivative at the interior knots: A y''_int = B y.
    m = n - 2
    a = np.zeros((m, m))
    b = np.zeros((m, n))
    idx = np.arange(m)
    a[idx, idx] = (h[:-1] + h[1:]) / 3.0
    a[idx[1:], idx[:-1]] = h[1:-1] / 6.0
    a[idx[:-1], idx[1:]] = h[1:-1] / 6.0
    b[idx, idx] = 1.0 / h[:-1]
    b[idx, idx + 1] = -(1.0 / h[:-1] + 1.0 / h[1:])
    b[idx, idx + 2] = 1.0 / h[1:]
    k = np.zeros((n, n))
    k[1:-1] = np.linalg.solve(a, b)
    return k


def spline_basis(points, knots, curvature: np.ndarray | None = None) -> np.ndarray:
    """Rows ``J`` such that ``spline(points) = J @ y`` for knot values ``y``.

    Args:
        points: evaluation points, any shape ``S``.
        knots: strictly increasing knots, shape ``(n,)``.
        curvature: ``second_derivative_matrix(knots)``, if already computed.

    Returns:
        float64 array of shape ``S + (n,)``. Points outside ``[knots[0], knots[-1]]``
        are extrapolated linearly with the end slopes.
    """
    x = np.asarray(knots, dtype=np.float64)
    k = second_derivative_matrix(x) if curvature is None else np.asarray(curvature)
    u = np.asarray(points, dtype=np.float64)
    shape = u.shape
    u = u.reshape(-1)
    n = x.shape[0]
    out = np.zeros((u.shape[0], n))
    rows = np.arange(u.shape[0])

    # Interior: standard cubic-spline form on the interval [x_q, x_{q+1}].
    q = np.clip(np.searchsorted(x, u, side="right") - 1, 0, n - 2)
    h = x[q + 1] - x[q]
    a = (x[q + 1] - u) / h
    b = 1.0 - a
    c = (a**3 - a) * h**2 / 6.0
    d = (b**3 - b) * h**2 / 6.0
    interior = np.zeros_like(out)
    interior[rows, q] = a
    interior[rows, q + 1] += b
    interior += c[:, None] * k[q] + d[:, None] * k[q + 1]

    # Below the first knot: line through (x_0, y_0) with the spline's slope at x_0.
    h0 = x[1] - x[0]
    below = np.zeros_like(out)
    below[:, 0] = 1.0 - (u - x[0]) / h0
    below[:, 1] = (u - x[0]) / h0
    below -= ((u - x[0]) * h0 / 6.0)[:, None] * k[1]

    # Above the last knot: line through (x_{n-1}, y_{n-1}) with the end slope.
    h1 = x[-1] - x[-2]
    above = np.zeros_like(out)
    above[:, -2] = (x[-1] - u) / h1
    above[:, -1] = 1.0 - (x[-1] - u) / h1
    above += ((u - x[-1]) * h1 / 6.0)[:, None] * k[-2]

    out = np.where((u < x[0])[:, None], below, np.where((u > x[-1])[:, None], above, interior))
    return out.reshape(shape + (n,))
