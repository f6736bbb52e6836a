"""Parameter ranges and complexity bands: what a design space draws from and keeps.

:class:`ParamRange` says how one parameter is drawn (see :mod:`archlab.search.sampling`);
:class:`Band` holds inclusive bounds on MACs, params and activations, the one band filter used by
sampling, ``space --acts`` and :func:`~archlab.search.solver.enumerate_space`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

import pandas as pd

from archlab.errors import SpecError

SAMPLERS: tuple[str, ...] = ("uniform", "log-uniform", "pow2", "choice")
QUANTITIES: tuple[str, ...] = ("macs", "params", "acts")
Bound = tuple[float | None, float | None]
Number = int | float


def is_number(value: object) -> bool:
    """A finite int or float (not a bool): NaN or infinity in a range or band is an error."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ParamRange:
    """How one parameter is drawn: ``low``/``high`` with a sampler, or ``values`` for choice."""

    low: Number | None = None
    high: Number | None = None
    sampler: str = "uniform"
    values: tuple[Number, ...] | None = None

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise SpecError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if self.sampler == "choice":
            if self.low is not None or self.high is not None:
                raise SpecError("the choice sampler takes values, not low/high")
            if not isinstance(self.values, tuple) or not self.values:
                raise SpecError("the choice sampler needs a non-empty tuple of values")
            if not all(is_number(v) for v in self.values):
                raise SpecError(f"values must be finite numbers, got {self.values!r}")
            return
        if self.values is not None:
            raise SpecError(f"values apply only to the choice sampler, not {self.sampler!r}")
        for name in ("low", "high"):
            if not is_number(getattr(self, name)):
                raise SpecError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        if self.low > self.high:  # type: ignore[operator]
            raise SpecError(f"low {self.low} is above high {self.high}")
        if self.sampler in ("log-uniform", "pow2") and self.low <= 0:  # type: ignore[operator]
            raise SpecError(f"the {self.sampler} sampler needs low > 0, got {self.low}")
        if self.sampler == "pow2" and self._exponents()[0] > self._exponents()[1]:
            raise SpecError(f"no power of two lies in [{self.low}, {self.high}]")

    @classmethod
    def choice(cls, *values: Number) -> ParamRange:
        """Uniform over the given values (one value: a fixed parameter)."""
        return cls(sampler="choice", values=tuple(values))

    def _exponents(self) -> tuple[int, int]:
        return math.ceil(math.log2(self.low)), math.floor(math.log2(self.high))  # type: ignore[arg-type]

    def sample(self, rng: random.Random, *, integer: bool = True) -> Number:
        """One draw; ``integer`` rounds log-uniform draws and makes powers of two ints."""
        if self.values is not None:
            return rng.choice(self.values)
        low, high = self.low, self.high
        assert low is not None and high is not None  # validated
        if self.sampler == "pow2":
            k = rng.randint(*self._exponents())
            return 1 << k if integer and k >= 0 else 2.0**k
        if self.sampler == "uniform":
            return rng.randint(int(low), int(high)) if integer else rng.uniform(low, high)
        x = math.exp(rng.uniform(math.log(low), math.log(high)))
        return min(max(round(x) if integer else x, low), high)

    def bounds(self) -> tuple[Number, Number]:
        """The smallest and the largest value a draw can take."""
        if self.values is not None:
            return min(self.values), max(self.values)
        if self.sampler == "pow2":
            k_lo, k_hi = self._exponents()
            return 2.0**k_lo, 2.0**k_hi
        return self.low, self.high  # type: ignore[return-value]

    def allows(self, x: Number) -> bool:
        """Whether ``x`` is a value a draw can take."""
        if self.values is not None:
            return x in self.values
        lo, hi = self.bounds()
        return lo <= x <= hi and (self.sampler != "pow2" or math.log2(x).is_integer())


@dataclass(frozen=True)
class Band:
    """Inclusive (min, max) bounds on MACs, params and activations; None leaves a side open."""

    macs: Bound = (None, None)
    params: Bound = (None, None)
    acts: Bound = (None, None)

    def __post_init__(self) -> None:
        for name in QUANTITIES:
            bound = getattr(self, name)
            if bound is None:
                object.__setattr__(self, name, (None, None))
                continue
            if (
                not isinstance(bound, tuple)
                or len(bound) != 2
                or not all(v is None or is_number(v) for v in bound)
            ):
                raise SpecError(f"band.{name} must be a (min, max) pair of finite numbers or None")
            lo, hi = bound
            if lo is not None and hi is not None and lo > hi:
                raise SpecError(f"band.{name}: min {lo:g} is above max {hi:g}, the band is empty")

    def contains(self, macs: int, params: int, acts: int) -> bool:
        """Whether all three counts lie inside their bounds."""
        return all(
            (lo is None or v >= lo) and (hi is None or v <= hi)
            for v, (lo, hi) in zip((macs, params, acts), self._bounds(), strict=True)
        )

    def _bounds(self) -> tuple[Bound, Bound, Bound]:
        return self.macs, self.params, self.acts

    def replaced(
        self, *, macs: Bound | None = None, params: Bound | None = None, acts: Bound | None = None
    ) -> Band:
        """This band with the given quantities' bounds replaced (None keeps the current one)."""
        new = {"macs": macs, "params": params, "acts": acts}
        return replace(self, **{k: v for k, v in new.items() if v is not None})

    def filter(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of a ``space`` frame (macs, params, acts columns) inside the band."""
        keep = [self.contains(*row) for row in frame[list(QUANTITIES)].itertuples(index=False)]
        # A boolean Series, not a list: pandas reads an empty list as a column selection.
        return frame.loc[pd.Series(keep, index=frame.index, dtype=bool)].reset_index(drop=True)
