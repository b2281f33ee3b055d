"""What every lesson uses: fast mode, the device, the opening banner, learner questions, tables
for a learner (`rows_to_frame`, `display_number`) and the pathway colours of every figure."""

from __future__ import annotations

import base64
import html
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
    "explore",
    "explore_manual",
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


# ------------------------------------------------------------------------------------------------
# Interactive controls without an Output widget
# ------------------------------------------------------------------------------------------------
# `ipywidgets.interact` shows its function's output in an Output widget. Run headless (nbconvert
# --execute, papermill, nbmake: all use nbclient), nbclient imitates that widget and sends its new
# state to the kernel on the shell socket while it is waiting on that same socket for the cell's
# reply. The send makes libzmq process the socket's pending commands, which uses up the
# edge-triggered wake-up that the arriving reply had raised; pyzmq's asyncio poll is not woken
# again and the cell sits until its whole timeout (measured: the kernel sent the reply 0.3 s into
# the cell, nbclient read it 7.7 s later, exactly at its 8 s timeout; with no timeout, nbconvert
# waited for ever). Every kernel version stalls alike (ipykernel 6.29, 6.31, 7.4; pyzmq 26, 27),
# and cells without an Output widget never did (0 of 285). So the lessons' controls render into
# an HTML widget, which needs no imitation: same controls, same pictures, full speed everywhere.


def output_html(data: dict) -> str:
    """One rich output (a display_data `data` dict) as HTML for an HTML widget: PNG and SVG images,
    HTML, else the plain text."""
    if "image/png" in data:
        png = data["image/png"]
        if isinstance(png, bytes):
            png = base64.b64encode(png).decode("ascii")
        return f'<img src="data:image/png;base64,{png}" style="max-width:100%">'
    if "image/svg+xml" in data:
        return data["image/svg+xml"]
    if "text/html" in data:
        return data["text/html"]
    return f"<pre>{html.escape(str(data.get('text/plain', '')))}</pre>"


def render_call(fn: Callable, kwargs: dict) -> str:
    """Call `fn(**kwargs)` as `interact` would (printed text, displayed objects, open matplotlib
    figures, then the returned value) and return all it showed as one HTML string; an exception
    is shown as its message, as `interact` shows it.

    A returned list or tuple is shown item by item (a lesson's panel returns [note, figure, table]),
    so a notebook passes the panel function itself instead of `lambda ...: display(*panel(...))`;
    any other returned value is displayed as it is."""
    from IPython.display import display
    from IPython.utils.capture import capture_output
    from ipywidgets.widgets.interaction import show_inline_matplotlib_plots

    error = ""
    with capture_output() as cap:
        try:
            result = fn(**kwargs)
            show_inline_matplotlib_plots()
            if isinstance(result, (list, tuple)):
                display(*result)
            elif result is not None:
                display(result)
        except Exception as err:  # shown to the learner, as interact does
            error = f"{type(err).__name__}: {err}"
    parts = [f"<pre>{html.escape(cap.stdout)}</pre>"] if cap.stdout else []
    parts += [output_html(out.data) for out in cap.outputs]
    if error:
        parts.append(f'<pre style="color:#b00020">{html.escape(error)}</pre>')
    return "\n".join(parts)


def explore(fn: Callable, manual: bool = False, **controls) -> None:
    """`ipywidgets.interact(fn, **controls)` without an Output widget (see above): the same
    controls (widgets, `ipywidgets.fixed` values or interact's abbreviations such as (1, 8)) and an
    HTML view of what `fn` shows, redrawn when a control changes (with `manual`, on a button).
    `fn` may return what it shows, several things as a list (see `render_call`)."""
    import ipywidgets as w
    from IPython.display import display
    from ipywidgets.widgets.interaction import empty

    made = {name: w.interactive.widget_from_abbrev(c, empty) for name, c in controls.items()}
    shown = [c for c in made.values() if isinstance(c, w.DOMWidget)]
    view = w.HTML(layout=w.Layout(width="100%"))

    def redraw(*_) -> None:
        view.value = render_call(fn, {name: c.value for name, c in made.items()})

    if manual:
        button = w.Button(description="Run")
        button.on_click(redraw)
        shown.append(button)
        view.value = "<i>Choose the settings, then press Run.</i>"
    else:
        for c in shown:
            c.observe(redraw, names="value")
        redraw()
    display(w.VBox([*shown, view]))


def explore_manual(fn: Callable, **controls) -> None:
    """`ipywidgets.interact_manual` without an Output widget: `explore` with a Run button."""
    explore(fn, manual=True, **controls)


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
