"""Helpers every lesson uses: fast mode, the device, the opening banner, and learner questions."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch


def fast_mode() -> bool:
    """True when SLOWFAST_LAB_FAST=1: every cell must finish quickly on a 2-core CPU."""
    return os.environ.get("SLOWFAST_LAB_FAST", "0").strip().lower() in ("1", "true", "yes")


def pick(fast: object, full: object) -> object:
    """`fast` in fast mode, else `full` (sizes, step counts, number of clips...)."""
    return fast if fast_mode() else full


def device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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
