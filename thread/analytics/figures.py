"""The canvas every quality picture is drawn on: a matplotlib Figure on the Agg canvas
(never pyplot, so drawing is safe in a server or a test run), and PNG bytes of it."""

from __future__ import annotations

import math
from io import BytesIO

from thread.analytics import require

try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
except ModuleNotFoundError:  # name the extra to install, not only the module
    require("matplotlib")
    raise

#: Resolution of every figure (as :data:`thread.analytics.plots.DPI`).
DPI = 150


def png(figure: Figure) -> bytes:
    """A figure as PNG bytes at :data:`DPI`."""
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches, laid out by matplotlib's constrained layout."""
    # whole tenths of an inch: whole pixels at DPI, so the PNG is exactly the drawn size
    drawn = Figure(figsize=(round(width, 1), round(height, 1)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(drawn)
    return drawn



def number(value: float | None) -> str:
    """A number in six significant digits; a dash for none."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else (
        f"{value:.6g}")
