"""What every lesson uses: fast mode, the device, the opening banner, learner questions, tables
for a learner (`rows_to_frame`, `display_number`) and the pathway colours of every figure (and the colormap of attribution overlays)."""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd
import torch

from ..colors import FAST_COLOR, LATERAL_COLOR, PART_COLORS, SLOW_COLOR
from ..timing import default_device

OVERLAY_CMAP = "inferno"  # attribution maps drawn over frames (lessons 06 and 08)

__all__ = [
    "FAST_COLOR",
    "LATERAL_COLOR",
    "OVERLAY_CMAP",
    "PART_COLORS",
    "SLOW_COLOR",
    "LESSON_TIMES",
    "LessonTime",
    "Question",
    "banner",
    "device",
    "device_name",
    "display_number",
    "explore",
    "explore_manual",
    "fast_mode",
    "format_seconds",
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


# ------------------------------------------------------------------------------------------------
# Run times: the one place that states them (banners read it, tests check the README against it)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LessonTime:
    """A lesson's expected run time, top to bottom.

    `cpu_fast_s`: seconds in fast mode on a 2-core CPU, measured by tests/test_notebooks.py
    (which fails when a lesson takes more than `SANITY_FACTOR` times this, in wall clock and in
    the kernel's CPU time); `cpu_full` and `gpu`: full mode, as text ("about 5 min"; marked
    "(estimate)" where nobody timed it).
    """

    cpu_fast_s: int
    cpu_full: str
    gpu: str

    @property
    def cpu_fast(self) -> str:
        return f"about {format_seconds(self.cpu_fast_s)}"


# Fast mode: `tests/test_notebooks.py` in a clean-clone `make test` on an idle 2-core machine
# (2026-12-02: 01 12.0 s, 02 13.0, 03 12.8, 04 12.0, 05 11.5, 06 12.9, 07 12.7, kernel start
# included), rounded up; under load (other jobs on the 2 cores) expect 2-5x more. 08 was written on
# a busy machine and not timed idle: tests/test_notebooks.py gave it 21-29 s of kernel CPU at load
# average 5-6.4 where 06 took 22.9 s at 6.2, so 15 s is scaled from 06's idle 12.9 s. Full mode: 04
# and 06 measured; 08 measured at load average 6 (2 min 12 s, kernel CPU 83 s, without official
# weights); "(estimate)": not measured. To re-measure, change the numbers here: the banners and
# the README's table follow (tests/test_lessons_common.py checks the README).
LESSON_TIMES: dict[int, LessonTime] = {
    1: LessonTime(15, "about 15 s (estimate)", "about 20 s (nothing here needs a GPU)"),
    2: LessonTime(15, "about 1 min (estimate)", "about 30 s (estimate)"),
    3: LessonTime(15, "about 1 min (estimate)", "about 30 s (estimate)"),
    4: LessonTime(15, "about 5 min", "about 1 min (estimate)"),
    5: LessonTime(15, "about 10 min (estimate)", "about 2 min (estimate)"),
    6: LessonTime(15, "about 2 min", "about 1 min (estimate)"),
    7: LessonTime(
        15, "about 30 min (estimate: 60 views of R50 at 256^2)", "about 2 min (estimate)"
    ),
    8: LessonTime(15, "about 2 min", "about 1 min (estimate)"),
    9: LessonTime(15, "about 4 min", "about 30 s (estimate)"),
}
SANITY_FACTOR = 3  # a lesson slower than this many times its stated fast-mode time fails its test


def format_seconds(seconds: float) -> str:
    """A run time as a reader says it: 15 -> '15 s', 60 -> '1 min', 90 -> '1 min 30 s'."""
    seconds = round(seconds)
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


def banner(
    title: str,
    cpu_fast: str | None = None,
    cpu_full: str | None = None,
    gpu: str | None = None,
    *,
    lesson: int | None = None,
) -> str:
    """The first cell's text: the lesson, its expected run times, the device found and the mode.

    With `lesson=N` the times come from `LESSON_TIMES[N]` (the one source of truth); explicit
    `cpu_fast` / `cpu_full` / `gpu` texts override it.
    """
    times = LESSON_TIMES.get(lesson) if lesson is not None else None
    if times is not None:
        cpu_fast = cpu_fast or times.cpu_fast
        cpu_full = cpu_full or times.cpu_full
        gpu = gpu or times.gpu
    mode = "FAST mode (SLOWFAST_LAB_FAST=1): small sizes, few steps" if fast_mode() else "full mode"
    return (
        f"{title}\n"
        f"  expected run time: CPU fast mode {cpu_fast or '?'}, CPU full mode {cpu_full or '?'}, "
        f"GPU {gpu or '?'}\n"
        f"  device: {device_name()}   |   {mode}"
    )


# ------------------------------------------------------------------------------------------------
# Questions for the learner
# ------------------------------------------------------------------------------------------------


class Question:
    """A question for the learner, with a check function and/or a revealable answer.

    Lessons keep their questions in their module (`L.QUESTIONS["name"]`), so that the notebook
    cell, `L.QUESTIONS["name"].widget()`, does not show the answer. `solution` is a response the
    check accepts (the tests try it). The answer sits in a closed `<details>` element: it opens on
    a click in JupyterLab and in the exported book alike, with no kernel needed.
    """

    def __init__(
        self,
        text: str,
        answer: str,
        check: Callable[[str], bool] | None = None,
        solution: str | None = None,
    ):
        if check is not None and solution is None:
            raise ValueError("a question with a check needs a `solution` the check accepts")
        self.text, self.answer, self.check, self.solution = text, answer, check, solution

    def grade(self, response: str) -> str:
        """Feedback for a response (a pure function, tested on its own)."""
        if self.check is None:
            return "No automatic check for this one: compare with the answer."
        try:
            ok = self.check(response.strip())
        except (ValueError, TypeError, IndexError):
            ok = False
        return "Correct!" if ok else "Not quite: try again, or reveal the answer."

    def answer_html(self) -> str:
        """The answer, hidden until the learner opens it (works without a kernel)."""
        return (
            '<details class="sfl-answer"><summary>show answer</summary>'
            f"<div>{html.escape(self.answer)}</div></details>"
        )

    def widget(self):
        """The question, an answer box with a check button (when there is a check function) and
        the hidden answer. The check's feedback goes to an HTML widget, not an Output widget."""
        import ipywidgets as w

        children = [w.HTML(f"<b>Question.</b> {html.escape(self.text)}")]
        if self.check is not None:
            box = w.Text(placeholder="your answer")
            check = w.Button(description="check")
            feedback = w.HTML()

            def on_check(_) -> None:
                feedback.value = html.escape(self.grade(box.value))

            check.on_click(on_check)
            children.append(w.HBox([box, check, feedback]))
        children.append(w.HTML(self.answer_html()))
        return w.VBox(children).add_class("sfl-question")


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
