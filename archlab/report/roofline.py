"""The roofline figure: one point per layer on log-log axes under the measured roof and the
measured ceilings of the layers' kinds.

Rendering only: the numbers come from :mod:`archlab.measure.roofline` (formulas in
docs/counting.md, "Roofline").
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from archlab.measure.roofline import Roofline
from archlab.report.plots import COLORS, new_figure, set_title


def roofline_figure(result: Roofline) -> Figure:
    """Attained MAC rate against intensity per layer, coloured by kind, under min(peak, I x BW)."""
    fig, (ax,) = new_figure()
    intensities = np.array([x.intensity for x in result.layers])
    lo = min(float(intensities.min()), result.ridge) / 4
    hi = max(float(intensities.max()), result.ridge) * 4
    xs = np.geomspace(lo, hi, 200)
    roof = np.minimum(result.peak_macs_per_s, xs * result.bandwidth_bytes_per_s)
    ax.plot(xs, roof, color="0.2", linewidth=1.5, label="roof: min(peak, intensity x bandwidth)")
    ceilings = sorted({(x.kind, x.ceiling_macs_per_s) for x in result.layers
                       if x.ceiling_macs_per_s != result.peak_macs_per_s})  # fmt: skip
    for kind, ceiling in ceilings:  # the measured in-core ceilings of the layers' kinds
        ax.plot(xs, np.minimum(ceiling, xs * result.bandwidth_bytes_per_s), color="0.55",
                linewidth=0.8, linestyle=":", label=f"{kind} ceiling {ceiling:.3g}")  # fmt: skip
    kinds = sorted({x.kind for x in result.layers})
    for i, kind in enumerate(kinds):
        pts = [x for x in result.layers if x.kind == kind]
        ax.scatter([x.intensity for x in pts], [x.attained_macs_per_s for x in pts], s=18,
                   color=COLORS[i % len(COLORS)], label=kind, zorder=3)  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (MACs per byte moved)")
    ax.set_ylabel("attained MACs per second")
    ax.legend(fontsize=7, loc="lower right")
    shapes = " ".join("x".join(map(str, s)) for s in result.input_shapes)
    set_title(ax, f"{result.name}, {shapes}, {result.dtype} on {result.device} "
                  f"({result.threads} threads)")  # fmt: skip
    return fig
