"""The bias-correction constants of control charts, computed instead of copied from a table.

``d2(n)`` and ``d3(n)`` are the mean and the standard deviation of the range of ``n``
independent standard normal values; ``c4(n)`` is the mean of the sample standard
deviation of ``n`` of them. The printed tables (Montgomery, *Introduction to Statistical
Quality Control*, Appendix VI; ASTM E2587) round these to three or four places; computing
them gives every ``n`` to full precision, and the tests hold them to the printed values.

The chart factors (A2, A3, D3, D4, B3, B4) follow from them, with the lower factors
clipped at zero as the tables print them.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri, roots_legendre

from thread.quality.errors import QualityInputError

#: Beyond eight standard deviations the integrands are below double precision.
_REACH = 8.0
#: Median of the moving range of two normal values, in units of sigma: sqrt(2)*z(0.75).
MEDIAN_MR_FACTOR = math.sqrt(2.0) * float(ndtri(0.75))


def _check(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise QualityInputError(f"subgroup size {n!r} is not valid: expected an integer >= 2")


@lru_cache(maxsize=256)
def d2(n: int) -> float:
    """Mean range of ``n`` standard normal values: E[R] = integral of 1 - Phi^n - (1-Phi)^n."""
    _check(n)
    reach = _REACH + math.log(n)
    from scipy import integrate  # slow to import; the values are cached once computed

    def integrand(x: float) -> float:
        return float(1.0 - ndtr(x) ** n - ndtr(-x) ** n)

    value, _ = integrate.quad(integrand, -reach, reach, epsabs=1e-13, epsrel=1e-13, limit=200)
    return float(value)


@lru_cache(maxsize=256)
def d3(n: int) -> float:
    """Standard deviation of the range of ``n`` standard normal values.

    E[R^2] = 2 * integral over r > 0 of r * P(R > r), with
    P(R <= r) = n * integral of phi(x) * (Phi(x + r) - Phi(x))^(n-1) dx.
    """
    _check(n)
    reach = _REACH + math.log(n)
    # A double integral by nested adaptive quadrature takes seconds per n; a composite
    # Gauss-Legendre grid over smooth integrands agrees with it to about 1e-13.
    x, wx = _gauss_legendre(-reach, reach)
    r, wr = _gauss_legendre(0.0, 2.0 * reach)
    density = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    inside = (ndtr(x[None, :] + r[:, None]) - ndtr(x)[None, :]) ** (n - 1)
    range_cdf = n * (inside @ (density * wx))
    second = float(np.sum(wr * r * (1.0 - range_cdf)))
    return math.sqrt(2.0 * second - d2(n) ** 2)


def _gauss_legendre(low: float, high: float, panels: int = 40,
                    order: int = 20) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and weights of composite Gauss-Legendre quadrature on [low, high]."""
    base, weights = roots_legendre(order)
    edges = np.linspace(low, high, panels + 1)
    half = (edges[1:] - edges[:-1]) / 2.0
    middle = (edges[1:] + edges[:-1]) / 2.0
    return (middle[:, None] + half[:, None] * base).ravel(), (half[:, None] * weights).ravel()


@lru_cache(maxsize=256)
def c4(n: int) -> float:
    """E[s]/sigma for ``n`` normal values: sqrt(2/(n-1)) * Gamma(n/2) / Gamma((n-1)/2)."""
    _check(n)
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def a2(n: int) -> float:
    """X-bar limits from the mean range: centre +/- A2 * R-bar, A2 = 3 / (d2 * sqrt(n))."""
    return 3.0 / (d2(n) * math.sqrt(n))


def a3(n: int) -> float:
    """X-bar limits from the mean standard deviation: A3 = 3 / (c4 * sqrt(n))."""
    return 3.0 / (c4(n) * math.sqrt(n))


def d3_factor(n: int) -> float:
    """Lower R-chart factor D3 = max(0, 1 - 3 d3/d2) (the table's D3, not the constant d3)."""
    return max(0.0, 1.0 - 3.0 * d3(n) / d2(n))


def d4_factor(n: int) -> float:
    """Upper R-chart factor D4 = 1 + 3 d3/d2."""
    return 1.0 + 3.0 * d3(n) / d2(n)


def b3(n: int) -> float:
    """Lower S-chart factor B3 = max(0, 1 - 3 sqrt(1 - c4^2) / c4)."""
    return max(0.0, 1.0 - 3.0 * math.sqrt(1.0 - c4(n) ** 2) / c4(n))


def b4(n: int) -> float:
    """Upper S-chart factor B4 = 1 + 3 sqrt(1 - c4^2) / c4."""
    return 1.0 + 3.0 * math.sqrt(1.0 - c4(n) ** 2) / c4(n)
