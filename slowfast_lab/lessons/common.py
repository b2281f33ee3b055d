"""What every lesson uses: fast mode, the device, the opening banner, learner questions, tables
for a learner (`rows_to_frame`, `display_number`) and the pathway colours of every figure."""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction

import pandas as pd
import torch

from ..colors import FAST_COLOR, LATERAL_COLOR, PART_COLORS, SLOW_COLOR
from ..timing import default_device

__all__ = [
    "FAST_COLOR",
    "LATERAL_COLOR",
    "PART_COLORS",
    "SLOW_COLOR",
    "Question",
    "banner",
    "device",
    "device_name",
    "display_number",
    "fast_mode",
    "pick",
    "rows_to_frame",
]


def fast_mode() -> bool:
    """True when SLOWFAST_LAB_FAST=1: every cell must finish quickly on a 2-core CPU."""
    return os.environ.get("SLOWFAST_LAB_FAST", "0").strip().lower() in ("1", "true", "yes")


def pick(fast: object, full: object) -> object:
    """`fast` in fast mode, else `full` (sizes, step counts, number of clips...)."""
    return fast if fast_mode() else full


def device() -> torch.device:
    """The GPU when there is one, else the CPU (`timing.default_device`)."""
    return default_device()


def device_name(dev: torch.device | None = None) -> str:
    dev = dev or device()
    if dev.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(dev)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def banner(title: str, cpu_fast: str, cpu_full: str, gpu: str) -> str:
    """The first cell's text: the lesson, its expected run times, the device found and the mode."""
    mode = "FAST mode (SLOWFAST_LAB_FAST=1): small sizes, few steps" if fast_mode() else "full mode"
    return (
        f"{title}\n"
        f"  expected run time: CPU fast mode {cpu_fast}, CPU full mode {cpu_full}, GPU {gpu}\n"
        f"  device: {device_name()}   |   {mode}"
    )


class Question:
    """A question for the learner, with a check function and/or a revealable answer.

    In a notebook, `display(q.widget())` shows the question, an answer box when a check function
    is given, and a "show answer" button.
    """

    def __init__(self, text: str, answer: str, check: Callable[[str], bool] | None = None):
        self.text, self.answer, self.check = text, answer, check

    def grade(self, response: str) -> str:
        """Feedback for a response (a pure function, tested on its own)."""
        if self.check is None:
            return "No automatic check for this one: compare with the answer."
        try:
            ok = self.check(response.strip())
        except (ValueError, TypeError):
            ok = False
        return "Correct!" if ok else "Not quite: try again, or reveal the answer."

    def widget(self):  # pragma: no cover - exercised in notebooks and browser tests
        import ipywidgets as w

        out = w.Output()
        header = w.HTML(f"<b>Question.</b> {self.text}")
        reveal = w.Button(description="show answer")

        def on_reveal(_):
            with out:
                out.clear_output()
                print(self.answer)

        reveal.on_click(on_reveal)
        children = [header]
        if self.check is not None:
            box = w.Text(placeholder="your answer")
            check = w.Button(description="check")

            def on_check(_):
                with out:
                    out.clear_output()
                    print(self.grade(box.value))

            check.on_click(on_check)
            children.append(w.HBox([box, check, reveal]))
        else:
            children.append(reveal)
        return w.VBox([*children, out])


def display_number(value: object) -> object:
    """How a table cell reads best: 8.0 -> '8', 0.125 -> '1/8', 36.1046 -> '36.1'; other values as
    they are."""
    if not isinstance(value, float) or value != value:  # not a float, or NaN
        return value
    if value.is_integer():
        return f"{int(value):,}"
    fraction = Fraction(value).limit_denominator(64)
    if 0 < abs(value) < 1 and float(fraction) == value:
        return f"{fraction.numerator}/{fraction.denominator}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def rows_to_frame(rows: list[dict]):
    """Rows as a DataFrame for a lesson: floats formatted by `display_number` (ints stay ints),
    and blank index labels instead of 0, 1, 2, ... that mean nothing to a learner."""
    frame = pd.DataFrame(rows).map(display_number)
    frame.index = [""] * len(frame)
    return frame
