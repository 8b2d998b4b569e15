"""The performance contract's table: each figure with its value, the baseline measured in the same run, the
ratio, the target and whether it is met (computed here from the numbers, never typed)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    figure: str
    value: str
    baseline: str
    ratio: float | None
    target: str
    met: bool


def _num(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "%":  # a share: 99.5 % must not read as 100 %
        return f"{value:,.1f} %"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.0f} {unit}".strip()


def at_least_ratio(figure: str, value: float, baseline: float, minimum: float, *, unit: str,
                   baseline_label: str = "") -> Figure:
    """A rate (higher is better) against a baseline rate: met when value / baseline >= minimum."""
    ratio = value / baseline if baseline else 0.0
    label = f"{baseline_label} {_num(baseline, unit)}".strip()
    return Figure(figure, _num(value, unit), label, ratio, f"ratio >= {minimum:g}", ratio >= minimum)


def at_least_ratio_of_time(figure: str, seconds: float, baseline_seconds: float, minimum: float, *,
                           baseline_label: str = "") -> Figure:
    """A duration against a baseline duration of the same work: the ratio is baseline / value (a speed
    ratio, so 0.5 means twice as long as the baseline); met when it is >= minimum."""
    ratio = baseline_seconds / seconds if seconds else 0.0
    label = f"{baseline_label} {_num(baseline_seconds, 's')}".strip()
    return Figure(figure, _num(seconds, "s"), label, ratio, f"ratio >= {minimum:g}", ratio >= minimum)


def below(figure: str, value: float, limit: float, *, unit: str, baseline: float | None = None,
          baseline_label: str = "") -> Figure:
    """A value (lower is better) under a fixed limit; an optional baseline is shown with value / baseline."""
    ratio = value / baseline if baseline else None
    shown = f"{baseline_label} {_num(baseline, unit)}".strip() if baseline is not None else (baseline_label or "-")
    return Figure(figure, _num(value, unit), shown, ratio, f"< {_num(limit, unit)}", value < limit)


def at_least(figure: str, value: float, minimum: float, *, unit: str, baseline_label: str = "-") -> Figure:
    """A value (higher is better, a percentage say) over a fixed floor."""
    return Figure(figure, _num(value, unit), baseline_label, None, f">= {_num(minimum, unit)}", value >= minimum)


def at_most(figure: str, value: float, maximum: float, *, unit: str, baseline_label: str = "-") -> Figure:
    """A value (lower is better, a share of false candidates say) under or at a fixed ceiling."""
    return Figure(figure, _num(value, unit), baseline_label, None, f"<= {_num(maximum, unit)}", value <= maximum)


def markdown(figures: list[Figure]) -> str:
    lines = ["| figure | value | baseline | ratio | target | met |", "|---|---|---|---|---|---|"]
    for f in figures:
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
        lines.append(f"| {f.figure} | {f.value} | {f.baseline} | {ratio} | {f.target} | "
                     f"{'yes' if f.met else '**no**'} |")
    return "\n".join(lines) + "\n"
