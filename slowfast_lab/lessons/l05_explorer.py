"""Lesson 05 and the classroom app: the alpha / beta explorer (`AlphaBetaExplorer`, ipywidgets).

Every number the panel shows comes from a small pure function in the first half of this file
(explorer state -> cost rows, shape rows, chart points), unit-tested on its values; the panel only
wires widgets to them. Its chart (`explorer_chart`, plotly) is at the end.

    from slowfast_lab.lessons.l05_explorer import AlphaBetaExplorer
    AlphaBetaExplorer().show()          # in a notebook, or served by Voila (`make classroom`)
"""

from __future__ import annotations

import functools
import html
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch

from .. import paper
from ..complexity import PARTS, Complexity, complexity
from ..config import (
    FUSIONS,
    PRESETS,
    STAGE_NAMES,
    SlowFastConfig,
    get_config,
    lateral_channels,
    pathway_spec,
)
from ..model import build_model, dummy_inputs
from ..timing import default_device, time_call
from ..train import TrainConfig, train
from .common import FAST_COLOR, LATERAL_COLOR, SLOW_COLOR, Question, pick


def explorer_chart(points: dict, runs: list[dict] | None = None):
    """The explorer's chart (plotly), three panels side by side:

    1. Kinetics-400 top-1 against GFLOPs: paper Table 5b as printed (grey), our computed GFLOPs for
       the same betas at the paper's accuracy (orange), and this configuration (a star where the paper
       ran it, else a dashed line at its GFLOPs: its accuracy is unknown);
    2. measured forward time per clip against GFLOPs ("measure" runs);
    3. MotionShapes accuracy of the small model ("train" runs) against its GFLOPs.

    `points` comes from `widgets.chart_points`, `runs` are the explorer's run dicts. The traces are
    always the same six (paper, ours, current star, current line, measured, trained), so a widget
    moves them with `update_explorer_chart` instead of building a new figure.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.5, 0.25, 0.25],
        subplot_titles=(
            "Kinetics-400 top-1 vs cost (SlowFast 4x16 R50)",
            "measured forward time",
            "MotionShapes accuracy (small model)",
        ),
    )
    paper, ours = points.get("paper", []), points.get("ours", [])
    traces = [
        (
            go.Scatter(
                x=[p.gflops for p in paper],
                y=[p.top1 for p in paper],
                mode="markers+text",
                text=[p.label.split(" ")[0].replace("beta=", "") for p in paper],
                textposition="top center",
                marker={"color": "#7f7f7f", "size": 9, "symbol": "circle-open"},
                name="paper Table 5b (as printed)",
                hovertext=[p.label for p in paper],
                hovertemplate="%{hovertext}<br>%{x:.1f} GFLOPs, top-1 %{y}%<extra></extra>",
            ),
            1,
        ),
        (
            go.Scatter(
                x=[p.gflops for p in ours],
                y=[p.top1 for p in ours],
                mode="lines+markers",
                marker={"color": FAST_COLOR, "size": 7},
                line={"color": FAST_COLOR, "width": 1},
                name="our GFLOPs count (paper's accuracy)",
                hovertext=[p.label for p in ours],
                hovertemplate="%{hovertext}<br>%{x:.2f} GFLOPs, paper top-1 %{y}%<extra></extra>",
            ),
            1,
        ),
        (
            go.Scatter(
                mode="markers",
                marker={"color": SLOW_COLOR, "size": 16, "symbol": "star"},
                name="this configuration (paper ran it)",
                hovertemplate="this configuration<br>%{x:.2f} GFLOPs, paper top-1 %{y}%"
                "<extra></extra>",
            ),
            1,
        ),
        (
            go.Scatter(
                mode="lines",
                line={"color": SLOW_COLOR, "dash": "dash"},
                name="this configuration (accuracy unknown)",
                hovertemplate="this configuration: %{x:.2f} GFLOPs<extra></extra>",
            ),
            1,
        ),
        (
            go.Scatter(
                mode="markers",
                marker={"color": SLOW_COLOR, "size": 9},
                name="measured (ms per clip)",
                hovertemplate="%{hovertext}<br>%{x:.2f} GFLOPs, %{y:.1f} ms<extra></extra>",
            ),
            2,
        ),
        (
            go.Scatter(
                mode="markers",
                marker={"color": LATERAL_COLOR, "size": 9},
                name="trained (MotionShapes %)",
                hovertemplate="%{hovertext}<br>%{x:.3f} GFLOPs, accuracy %{y:.1f}%<extra></extra>",
            ),
            3,
        ),
    ]
    for trace, col in traces:
        fig.add_trace(trace, row=1, col=col)
    fig.update_xaxes(title_text="GFLOPs (multiply-adds, one view)", row=1, col=1)
    fig.update_yaxes(title_text="top-1 % (paper)", row=1, col=1)
    fig.update_xaxes(title_text="GFLOPs", row=1, col=2)
    fig.update_yaxes(title_text="ms per clip", rangemode="tozero", row=1, col=2)
    fig.update_xaxes(title_text="GFLOPs (small model)", row=1, col=3)
    fig.update_yaxes(title_text="accuracy %", range=[0, 105], row=1, col=3)
    fig.update_layout(
        height=400,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_annotations(font_size=11)
    return update_explorer_chart(fig, points, runs)


def update_explorer_chart(fig, points: dict, runs: list[dict] | None = None):
    """Move the current configuration and the runs on a figure made by `explorer_chart`, in place
    (much faster than building a new figure); returns the figure."""
    runs = runs or []
    star, line, measured_trace, trained_trace = fig.data[2:6]
    current = points.get("current", [])
    known = [p for p in current if p.top1 is not None]
    unknown = [p for p in current if p.top1 is None]
    star.x, star.y = [p.gflops for p in known], [p.top1 for p in known]
    line.x = [unknown[0].gflops] * 2 if unknown else []
    line.y = [73.5, 76.5] if unknown else []
    measured = [r for r in runs if r["kind"] == "measure"]
    trained = [r for r in runs if r["kind"] == "train"]
    measured_trace.x = [r["gflops"] for r in measured]
    measured_trace.y = [r["ms"] for r in measured]
    measured_trace.hovertext = [f"{r['label']} on {r['device']}" for r in measured]
    trained_trace.x = [r["gflops"] for r in trained]
    trained_trace.y = [100 * r["accuracy"] for r in trained]
    trained_trace.hovertext = [f"{r['label']}, {r['budget']}" for r in trained]
    return fig


def paper_5b() -> list[tuple[int, tuple[float, float, str]]]:
    """Paper Table 5b as (beta_inv, (top-1 %, GFLOPs, source)) pairs, in the table's order."""
    return [(b, (r.top1, r.gflops, r.source)) for b, r in paper.TABLE_5B.items()]


BETA_CHOICES = (2, 4, 6, 8, 12, 16, 32, 64)


CROP_CHOICES = (64, 96, 112, 128, 160, 224, 256, 288, 320)


@dataclass(frozen=True)
class ExplorerState:
    """What the explorer's controls say. `preset` supplies every field the panel has no control for
    (width, stage layout, fusion kernel, number of classes...)."""

    preset: str = "slowfast_4x16_r50"
    alpha: int = 8
    beta_inv: int = 8
    tau: int = 16
    T: int = 4
    crop: int = 256
    depth: int = 50
    fusion: str = "t_conv"

    @classmethod
    def from_preset(cls, preset: str, crop: int | None = None) -> ExplorerState:
        """The controls as a preset sets them (crop: 256 for the paper's models, else the preset's)."""
        cfg = get_config(preset)
        if crop is None:
            crop = 256 if cfg.num_classes == 400 else cfg.crop
        return cls(
            preset=preset,
            alpha=cfg.alpha,
            beta_inv=cfg.beta_inv,
            tau=cfg.tau,
            T=cfg.T,
            crop=crop,
            depth=cfg.depth,
            fusion=cfg.fusion,
        )

    def overrides(self) -> dict:
        return {
            "alpha": self.alpha,
            "beta_inv": self.beta_inv,
            "tau": self.tau,
            "T": self.T,
            "depth": self.depth,
            "fusion": self.fusion,
        }


@dataclass(frozen=True)
class Evaluation:
    """The state evaluated: a config and its cost, or a readable `error` (then both are None)."""

    state: ExplorerState
    config: SlowFastConfig | None
    cost: Complexity | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def evaluate_state(state: ExplorerState) -> Evaluation:
    """Resolve the controls into a config and count its cost (analytic: no model is built, < 1 ms).

    Invalid combinations (alpha not dividing tau, beta leaving the Fast pathway no channels, a crop
    below 32 pixels...) give an Evaluation with `error` set to a readable message instead of raising.
    """
    try:
        cfg = get_config(state.preset, **state.overrides())
        if state.crop < 32:
            raise ValueError(
                f"crop={state.crop} is too small: the network downsamples space by 32, use >= 32"
            )
        _check_channels(cfg)
        cost = complexity(cfg, crop_size=state.crop)
    except ValueError as err:  # ConfigError is a ValueError
        return Evaluation(state, None, None, error=str(err))
    return Evaluation(state, cfg, cost)


def _check_channels(cfg: SlowFastConfig) -> None:
    """Every layer of the Fast pathway must keep at least one channel after dividing by beta_inv."""
    if not cfg.has_fast:
        return
    spec = pathway_spec(cfg, "fast")
    widths = [spec.stem_channels] + [w for st in spec.stages for w in (st.inner, st.out)]
    if min(widths) < 1:
        raise ValueError(
            f"beta=1/{cfg.beta_inv} rounds some Fast pathway layers down to 0 channels "
            f"(Slow width {cfg.width} / {cfg.beta_inv}): choose beta >= 1/{cfg.width}"
        )


def cost_rows(cost: Complexity) -> list[dict]:
    """One row per part (slow, fast, lateral, head) and a total: multiply-adds, share, params.

    `macs` and `params` are the exact integers of `complexity`; GFLOPs = macs / 1e9.
    """
    rows = []
    for part in PARTS:
        macs = cost.by_part[part]
        rows.append(
            {
                "part": part,
                "macs": macs,
                "GFLOPs": macs / 1e9,
                "share": macs / cost.macs if cost.macs else 0.0,
                "params": cost.params_by_part[part],
            }
        )
    rows.append(
        {
            "part": "total",
            "macs": cost.macs,
            "GFLOPs": cost.macs / 1e9,
            "share": 1.0,
            "params": cost.params,
        }
    )
    return rows


def _down(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def shape_rows(cfg: SlowFastConfig, crop: int) -> list[dict]:
    """The per-stage output shapes of both pathways in the paper's notation, from the config alone.

    Slow {T, S^2, C}; Fast {alpha T, S^2, beta C}; `lateral` is the channels the Fast->Slow lateral
    after that stage concatenates onto the Slow pathway ("-" where there is none).
    [{"stage": "conv1", "slow": "{4, 128^2, 64}", "fast": "{32, 128^2, 8}", "lateral": "-"}, ...]
    """
    sizes = {"conv1": _down(crop, 7, 2)}
    sizes["pool1"] = _down(sizes["conv1"], 3, 2)
    sizes["res2"] = sizes["pool1"]
    s = sizes["res2"]
    for name in ("res3", "res4", "res5"):
        s = _down(s, 3, 2)
        sizes[name] = s
    specs = {p: pathway_spec(cfg, p) for p in ("slow", "fast")}
    frames = {"slow": cfg.T, "fast": cfg.fast_frames}
    present = {"slow": cfg.has_slow, "fast": cfg.has_fast}
    fuse_after = {"pool1": 0, "res2": 1, "res3": 2, "res4": 3}
    rows = []
    for stage, size in sizes.items():
        row = {"stage": stage}
        for p, spec in specs.items():
            if not present[p]:
                row[p] = "-"
                continue
            if stage in ("conv1", "pool1"):
                channels = spec.stem_channels
            else:
                channels = spec.stages[STAGE_NAMES.index(stage)].out
            row[p] = f"{{{frames[p]}, {size}^2, {channels}}}"
        lateral = "-"
        if cfg.pathways == "slowfast" and stage in fuse_after:
            i = fuse_after[stage]
            fast_c = specs["fast"].stem_channels if i == 0 else specs["fast"].stages[i - 1].out
            added = lateral_channels(cfg, fast_c)
            lateral = f"+{added} ch" if added else f"{cfg.fusion} (adds 0 ch)"
            if cfg.fusion == "none":
                lateral = "none"
        row["lateral"] = lateral
        rows.append(row)
    return rows


@dataclass(frozen=True)
class ChartPoint:
    """A point of the accuracy / complexity chart."""

    label: str
    gflops: float
    top1: float | None  # Kinetics-400 top-1 (paper); None for a configuration the paper did not run
    source: str  # "paper", "ours" (our computed GFLOPs at the paper's beta), "current"


def paper_points() -> list[ChartPoint]:
    """Paper Table 5b as printed: (GFLOPs, top-1) of SlowFast 4x16 R50 for each beta."""
    return [ChartPoint(f"beta=1/{b} (paper)", g, acc, "paper") for b, (acc, g, _) in paper_5b()]


@functools.lru_cache(maxsize=8)
def _our_points(crop: int) -> tuple[ChartPoint, ...]:
    return tuple(
        ChartPoint(
            f"beta=1/{b} (our count)",
            complexity("slowfast_4x16_r50", crop_size=crop, beta_inv=b).gflops,
            acc,
            "ours",
        )
        for b, (acc, _, _) in paper_5b()
    )


def our_points(crop: int = 256) -> list[ChartPoint]:
    """Our analytic GFLOPs for the same models (4x16 R50, one 256^2 view) beside the paper's accuracy.

    They match the paper at beta 1/8, 1/16, 1/32 and come out slightly lower at 1/4, 1/6, 1/12.
    """
    return list(_our_points(crop))


def beta_rows(crop: int = 256, **overrides) -> list[dict]:
    """Paper Table 5b beside our count: per beta, our GFLOPs, the paper's GFLOPs and top-1, and the
    Fast pathway's GFLOPs and share (SlowFast 4x16 R50 unless `overrides` change it)."""
    rows = []
    for b, (acc, paper_g, _) in paper_5b():
        c = complexity("slowfast_4x16_r50", crop_size=crop, beta_inv=b, **overrides)
        rows.append(
            {
                "beta": f"1/{b}",
                "GFLOPs (ours)": round(c.gflops, 2),
                "GFLOPs (paper)": paper_g,
                "Fast GFLOPs (ours)": round(c.by_part["fast"] / 1e9, 2),
                "Fast share": round(c.fast_share, 3),
                "params (M)": round(c.params / 1e6, 2),
                "Kinetics top-1 (paper)": acc,
            }
        )
    return rows


def fast_stem_macs(cfg: SlowFastConfig, crop: int = 256) -> int:
    """Multiply-adds of the Fast pathway's stem conv: 3 RGB channels in, beta C out, a temporal
    kernel (5 in R50) x 7^2, stride 2 in space, on all alpha T frames: {alpha T, (S/2)^2, beta C}."""
    spec = pathway_spec(cfg, "fast")
    size = _down(crop, 7, 2)
    return 3 * spec.stem_channels * spec.stem_temporal_kernel * 49 * cfg.fast_frames * size * size


def fast_cost_by_beta(
    beta_invs=(4, 8, 16, 32), preset: str = "slowfast_4x16_r50", crop: int = 256
) -> list[dict]:
    """How each piece of the Fast pathway's cost falls as beta halves (from `complexity`).

    A layer with beta C inputs and beta C outputs costs beta^2 x as much: the residual stages
    (res2-res5) and the T-conv laterals (beta C in, 2 beta C out) fall 4x per halving. The stem
    reads the 3 RGB channels whatever beta is, so it falls only 2x, and so does the extra work the
    Slow pathway does reading the laterals' 2 beta C channels (its input grows, its output does
    not). So the whole Fast pathway falls by less than 4x per halving, the less the thinner it is.

    One row per piece: {"piece": .., "beta=1/4": GFLOPs, "beta=1/8": .., ..., "smaller per
    halving": "3.1x, 2.8x, 2.5x" (or "2x" when every step is the same)}, pieces as in
    `FAST_COST_PIECES`. "Slow reading the laterals" is the Slow pathway with these laterals minus
    the Slow pathway without any.
    """
    pieces: dict[str, list[int]] = {name: [] for name in FAST_COST_PIECES}
    for b in beta_invs:
        c = complexity(preset, crop_size=crop, beta_inv=b)
        unfused = complexity(preset, crop_size=crop, beta_inv=b, fusion="none")
        stem = fast_stem_macs(c.config, crop)
        macs = (
            c.by_part["fast"],
            stem,
            c.by_part["fast"] - stem,
            c.by_part["lateral"],
            c.by_part["slow"] - unfused.by_part["slow"],
        )
        for name, m in zip(FAST_COST_PIECES, macs, strict=True):
            pieces[name].append(m)
    rows = []
    for name, values in pieces.items():
        ratios = [a / b for a, b in zip(values, values[1:], strict=False) if b]
        same = ratios and max(ratios) - min(ratios) < 1e-9
        rows.append(
            {
                "piece": name,
                **{f"beta=1/{b}": m / 1e9 for b, m in zip(beta_invs, values, strict=True)},
                "smaller per halving": (
                    f"{ratios[0]:g}x" if same else ", ".join(f"{r:.1f}x" for r in ratios)
                ),
            }
        )
    return rows


FAST_COST_PIECES = (  # the rows of `fast_cost_by_beta`, in its order
    "Fast pathway, in all",
    "Fast stem: 3 RGB in, beta C out",
    "Fast res2-res5: beta C in, beta C out",
    "lateral convs (T-conv): beta C in, 2 beta C out",
    "Slow reading the laterals: 2 beta C more in",
)


def current_point(ev: Evaluation) -> ChartPoint | None:
    """This configuration on the chart: its GFLOPs, and the paper's accuracy only where the paper
    ran exactly this model (4x16 R50, T-conv, 256^2 crop, a beta of Table 5b); None when invalid."""
    if not ev.ok:
        return None
    cfg, st = ev.config, ev.state
    paper_model = (
        cfg.pathways == "slowfast"
        and (cfg.T, cfg.tau, cfg.alpha, cfg.depth, cfg.fusion) == (4, 16, 8, 50, "t_conv")
        and cfg.width == 64
        and cfg.stage_blocks is None
        and st.crop == 256
        and cfg.fusion_kernel == 5
    )
    top1 = (
        paper.TABLE_5B[cfg.beta_inv].top1
        if paper_model and cfg.beta_inv in paper.TABLE_5B
        else None
    )
    return ChartPoint("this configuration", ev.cost.gflops, top1, "current")


def chart_points(ev: Evaluation) -> dict[str, list[ChartPoint]]:
    """Everything the accuracy / complexity chart draws: {"paper", "ours", "current"}."""
    current = current_point(ev)
    return {"paper": paper_points(), "ours": our_points(), "current": [current] if current else []}


def summary_text(ev: Evaluation) -> str:
    """One line about the configuration: GFLOPs, params, Fast share, frames each pathway sees."""
    if not ev.ok:
        return f"Invalid configuration: {ev.error}"
    c, cfg = ev.cost, ev.config
    parts = [f"{c.gflops:.2f} GFLOPs per {ev.state.crop}^2 view", f"{c.params / 1e6:.2f}M params"]
    if cfg.pathways == "slowfast":
        parts.append(f"Fast share {c.fast_share:.1%}")
    parts.append(
        f"clip {cfg.raw_frames} raw frames: Slow sees {cfg.T} (every {cfg.tau})"
        + (f", Fast sees {cfg.fast_frames} (every {cfg.fast_stride})" if cfg.has_fast else "")
    )
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------------
# The classroom app's guided tasks: each answer computed here, checkable with the explorer itself
# ------------------------------------------------------------------------------------------------


def alpha_one_answer(base: ExplorerState = ExplorerState()) -> dict:
    """Task (a): `base` with alpha = 1 against `base` as it is. With alpha = 1 the Fast pathway
    takes the Slow pathway's own frames (stride tau), so whatever tau aliases for Slow it aliases
    for Fast too. {"frames", "stride", "slow stride", "share", "gflops", "base share",
    "base gflops", "base frames", "base stride"}."""
    one = evaluate_state(replace(base, alpha=1))
    ref = evaluate_state(base)
    if not (one.ok and ref.ok):
        raise ValueError(one.error or ref.error)
    return {
        "frames": one.config.fast_frames,
        "stride": one.config.fast_stride,
        "slow stride": one.config.tau,
        "share": one.cost.fast_share,
        "gflops": one.cost.gflops,
        "base frames": ref.config.fast_frames,
        "base stride": ref.config.fast_stride,
        "base share": ref.cost.fast_share,
        "base gflops": ref.cost.gflops,
    }


def cheapest_beta_within(points: float = 1.0) -> dict:
    """Task (b): in paper Table 5b, the cheapest beta (fewest GFLOPs as printed) whose Kinetics top-1
    is within `points` of the best. {"best": beta_inv, "best top1", "best gflops", "beta_inv",
    "top1", "gflops" (paper), "our gflops", "excluded": beta_invs below the bar}."""
    table = paper.TABLE_5B
    best = max(table, key=lambda b: table[b].top1)
    bar = table[best].top1 - points
    near = [b for b in table if table[b].top1 >= bar - 1e-9]
    cheapest = min(near, key=lambda b: table[b].gflops)
    return {
        "best": best,
        "best top1": table[best].top1,
        "best gflops": table[best].gflops,
        "beta_inv": cheapest,
        "top1": table[cheapest].top1,
        "gflops": table[cheapest].gflops,
        "our gflops": complexity("slowfast_4x16_r50", beta_inv=cheapest).gflops,
        "excluded": [b for b in table if b not in near],
    }


def fast_share_crossing(
    field: str, values, threshold: float = 0.2, base: ExplorerState = ExplorerState()
) -> dict | None:
    """Task (c): move one control of `base` through `values` (in that order, skipping invalid
    settings) and find where the Fast pathway's share of the multiply-adds first reaches
    `threshold`: {"field", "below": (value, share), "above": (value, share), "shares": {value:
    share}}; None if it never does. `below` is the last valid value before it (None if the
    first one is already above)."""
    shares: dict = {}
    for value in values:
        ev = evaluate_state(replace(base, **{field: value}))
        if ev.ok:
            shares[value] = ev.cost.fast_share
    seen = list(shares.items())
    for i, (value, share) in enumerate(seen):
        if share >= threshold:
            below = seen[i - 1] if i else None
            return {"field": field, "below": below, "above": (value, share), "shares": shares}
    return None


def classroom_tasks_html() -> str:
    """The classroom app's three guided tasks, each answer computed by the functions above and
    hidden in a <details> element a teacher can open."""
    a = alpha_one_answer()
    b = cheapest_beta_within(1.0)
    by_beta = fast_share_crossing("beta_inv", sorted(BETA_CHOICES, reverse=True))
    by_alpha = fast_share_crossing("alpha", range(1, 17))
    base = ExplorerState()

    def beta(inv: int) -> str:
        return f"1/{inv}"

    excluded = ", ".join(f"{beta(x)} ({paper.TABLE_5B[x].top1})" for x in b["excluded"])
    default_top1 = paper.TABLE_5B[base.beta_inv].top1
    near = [x for x in paper.TABLE_5B if x not in b["excluded"]]
    tasks = [
        (
            "Set <b>alpha = 1</b>. Which raw frames does the Fast pathway take now? A wheel turns "
            f"once every {base.tau} raw frames: what does each pathway see of it? What happens "
            "to the cost?",
            f"The line under the controls reads <i>Slow sees {base.T} (every {a['slow stride']}), "
            f"Fast sees {a['frames']} (every {a['stride']})</i>, and the shape table gives both "
            f"pathways {a['frames']} frames: with alpha = 1 the Fast pathway takes exactly the Slow "
            "pathway's frames, so it is aliased just like it. The wheel is in the same pose in "
            f"every frame of both pathways (so is any spin whose period divides {base.tau}): "
            "neither can see it turn. The Fast share falls from "
            f"{a['base share']:.1%} to {a['share']:.1%} ({a['base gflops']:.2f} to "
            f"{a['gflops']:.2f} GFLOPs): cheaper, but the Fast pathway no longer sees anything the "
            f"Slow one misses. At alpha = {base.alpha} it takes {a['base frames']} frames, one "
            f"every {a['base stride']}.",
        ),
        (
            "The grey circles in the chart are the paper's Table 5b: Kinetics-400 top-1 and GFLOPs "
            "of SlowFast 4x16 R50 for each beta (choose a beta to put the star on one). Which is "
            "the <b>cheapest beta whose top-1 is within 1 point of the best</b>?",
            f"beta = {beta(b['beta_inv'])}: {b['top1']} top-1 at {b['gflops']} GFLOPs (our count "
            f"{b['our gflops']:.1f}). The best is beta = {beta(b['best'])} with {b['best top1']} "
            f"at {b['best gflops']} GFLOPs, so the bar is {b['best top1'] - 1:.1f}: "
            f"{', '.join(beta(x) for x in near)} clear it; below it: {excluded}. The paper's "
            f"default, {beta(base.beta_inv)}, is {b['best top1'] - default_top1:.1f} points "
            "below the best.",
        ),
        (
            "With the 4x16 R50 settings, change beta: <b>at which beta does the Fast pathway's share "
            "of the compute first exceed 20%</b> (the line under the controls, or the 'fast' row of "
            f"the cost table)? And at beta = {beta(base.beta_inv)}, at which alpha?",
            f"{_crossing_text(by_beta, beta, 0.2)} {_crossing_text(by_alpha, str, 0.2)} The "
            f"paper's default (alpha {base.alpha}, beta {beta(base.beta_inv)}) is at "
            f"{a['base share']:.1%}: the paper's 'about 20%'.",
        ),
    ]
    out = ["<div class='sfl-tasks'><h3>Three tasks</h3><ol>"]
    for question, answer in tasks:
        out.append(
            f"<li><p>{question}</p><details><summary>Answer (for the teacher)</summary>"
            f"<p>{answer}</p></details></li>"
        )
    out.append("</ol></div>")
    return "".join(out)


def _crossing_text(crossing: dict | None, name: Callable[[int], str], threshold: float) -> str:
    """One sentence of task (c)'s answer from `fast_share_crossing`."""
    if crossing is None:
        return f"It never reaches {threshold:.0%} here."
    field = {"beta_inv": "beta"}.get(crossing["field"], crossing["field"])
    (above, share_above), below = crossing["above"], crossing["below"]
    text = f"Changing {field}, the share first passes {threshold:.0%} at {field} = {name(above)}"
    text += f" ({share_above:.1%})"
    if below is not None:
        text += f"; at {name(below[0])} it is {below[1]:.1%}"
    valid = ", ".join(name(v) for v in crossing["shares"])
    return text + f" (the valid values, in order: {valid})."


@torch.no_grad()
def measure_forward(
    cfg: SlowFastConfig,
    crop: int,
    repeats: int = 2,
    device: torch.device | str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict:
    """Build the model, run one warm-up and `repeats` timed forwards of one clip; the median in ms.

    `progress(step, total, what)` is called after each step (build, warm-up, every repeat).
    """
    dev = torch.device(device) if device is not None else default_device()
    total = repeats + 2
    report = progress or (lambda *_: None)
    model = build_model(cfg).eval().to(dev)
    report(1, total, "built")
    inputs = dummy_inputs(model, crop)
    model(*inputs)
    report(2, total, "warm-up")
    times = []
    for i in range(repeats):  # one timed forward at a time, so the progress bar moves
        times += time_call(lambda: model(*inputs), dev, warmup=0, iters=1, repeats=1)
        report(3 + i, total, f"run {i + 1}/{repeats}")
    times.sort()
    return {
        "ms": 1000 * times[len(times) // 2],
        "device": str(dev),
        "gflops": complexity(cfg, crop_size=crop).gflops,
        "params": sum(p.numel() for p in model.parameters()),
    }


def train_config(state: ExplorerState) -> SlowFastConfig:
    """The small MotionShapes model with the explorer's alpha, beta, tau, T and fusion.

    The "train" button trains this (the lesson-sized `slowfast_tiny`: width 16, one block per stage,
    64^2 clips), not the R50 the cost table describes: what transfers is the effect of alpha / beta.
    """
    return get_config(
        "slowfast_tiny",
        alpha=state.alpha,
        beta_inv=state.beta_inv,
        tau=state.tau,
        T=state.T,
        fusion=state.fusion,
    )


def run_label(kind: str, state: ExplorerState) -> str:
    """Short legend label of a measured / trained run: 'measure a8 b1/8 4x16 t_conv 256'."""
    return (
        f"{kind} a{state.alpha} b1/{state.beta_inv} {state.T}x{state.tau} {state.fusion} "
        f"{state.crop}^2"
    )


_TABLE_STYLE = (
    "<style>.sfl-t{border-collapse:collapse;font-size:13px}"
    ".sfl-t td,.sfl-t th{border:1px solid #ddd;padding:2px 8px;text-align:right}"
    ".sfl-t td:first-child,.sfl-t th:first-child{text-align:left}</style>"
)


def cost_table_html(rows: list[dict]) -> str:
    """The cost rows as an HTML table. Each number cell has `data-part`, `data-field` and the exact
    integer in `data-value`, so tests (and browser tests) read what is displayed."""
    out = [
        _TABLE_STYLE,
        '<table class="sfl-t sfl-cost"><tr><th>part</th><th>GFLOPs</th><th>share</th>'
        "<th>params</th></tr>",
    ]
    for r in rows:
        part = html.escape(r["part"])
        out.append(
            f"<tr><td>{part}</td>"
            f'<td data-part="{part}" data-field="macs" data-value="{r["macs"]}">'
            f"{r['GFLOPs']:.3f}</td>"
            f'<td data-part="{part}" data-field="share" data-value="{r["share"]:.6f}">'
            f"{r['share']:.1%}</td>"
            f'<td data-part="{part}" data-field="params" data-value="{r["params"]}">'
            f"{r['params'] / 1e6:.3f} M</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def shape_table_html(rows: list[dict]) -> str:
    """The shape rows as an HTML table: stage | Slow | Fast | lateral."""
    out = [
        _TABLE_STYLE,
        '<table class="sfl-t sfl-shapes"><tr><th>stage</th><th>Slow {T, S^2, C}</th>'
        "<th>Fast {alpha T, S^2, beta C}</th><th>lateral to Slow</th></tr>",
    ]
    for r in rows:
        out.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(r[k]))}</td>" for k in ("stage", "slow", "fast", "lateral")
            )
            + "</tr>"
        )
    out.append("</table>")
    return "".join(out)


def runs_table_html(runs: list[dict]) -> str:
    """Measured and trained runs, newest last."""
    if not runs:
        return "<i>No runs yet: 'measure' times a forward on this device; 'train' trains the small model.</i>"
    out = [
        _TABLE_STYLE,
        '<table class="sfl-t sfl-runs"><tr><th>run</th><th>GFLOPs</th><th>result</th></tr>',
    ]
    for r in runs:
        if r["kind"] == "measure":
            result = f"{r['ms']:.1f} ms per clip on {r['device']}"
        else:
            result = f"MotionShapes accuracy {r['accuracy']:.1%} ({r['budget']})"
        out.append(
            f"<tr><td>{html.escape(r['label'])}</td><td>{r['gflops']:.3f}</td>"
            f"<td>{html.escape(result)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


class AlphaBetaExplorer:
    """Widgets for alpha, beta, tau, T, crop, depth, fusion and preset; on every change the cost
    split, Fast share, shape table and the accuracy / complexity chart update (analytic, < 100 ms).

    "measure" builds the model and times a forward on this device; "train" trains the small
    MotionShapes model with these alpha / beta / fusion for the chosen budget. Both add a point to
    the chart. Invalid combinations show a readable message, never a traceback.

    Attributes used by tests: `evaluation` (the current Evaluation), `runs` (list of dicts),
    `cost_html`, `shape_html`, `message` (HTML widgets), `figure` (the plotly figure shown),
    `last_update_ms`.
    """

    def __init__(
        self,
        preset: str = "slowfast_4x16_r50",
        train_steps: int | None = None,
        train_clips: int | None = None,
        test_clips: int | None = None,
    ):
        import ipywidgets as w

        self._w = w
        self._busy = False
        self.train_clips, self.test_clips = train_clips, test_clips
        self.runs: list[dict] = []
        self.figure = None
        self.last_update_ms = 0.0
        st = ExplorerState.from_preset(preset)
        style = {"description_width": "70px"}
        lay = w.Layout(width="330px")
        self.preset = w.Dropdown(
            options=list(PRESETS), value=preset, description="preset", style=style, layout=lay
        )
        self.alpha = w.IntSlider(
            value=st.alpha, min=1, max=16, description="alpha", style=style, layout=lay
        )
        self.beta = w.Dropdown(
            options=[(f"1/{b}", b) for b in BETA_CHOICES],
            value=st.beta_inv,
            description="beta",
            style=style,
            layout=lay,
        )
        self.tau = w.IntSlider(
            value=st.tau, min=1, max=32, description="tau", style=style, layout=lay
        )
        self.T = w.IntSlider(value=st.T, min=1, max=32, description="T", style=style, layout=lay)
        crops = sorted(set(CROP_CHOICES) | {st.crop})
        self.crop = w.Dropdown(
            options=crops, value=st.crop, description="crop", style=style, layout=lay
        )
        self.depth = w.Dropdown(
            options=[50, 101], value=st.depth, description="depth", style=style, layout=lay
        )
        self.fusion = w.Dropdown(
            options=list(FUSIONS), value=st.fusion, description="fusion", style=style, layout=lay
        )
        self.summary = w.HTML()
        self.message = w.HTML()
        self.cost_html = w.HTML()
        self.shape_html = w.HTML()
        self.chart = w.Output(layout=w.Layout(min_height="380px"))
        self.measure_button = w.Button(
            description="measure",
            icon="stopwatch",
            tooltip="build the model and time a forward on this device",
        )
        self.train_button = w.Button(
            description="train",
            icon="play",
            tooltip="train the small MotionShapes model with these settings",
        )
        default_steps = train_steps if train_steps is not None else int(pick(20, 200))
        self.budget = w.IntSlider(
            value=default_steps,
            min=10,
            max=2000,
            step=10,
            description="train steps",
            style={"description_width": "80px"},
        )
        self.progress = w.IntProgress(
            value=0, min=0, max=1, description="", layout=w.Layout(width="200px")
        )
        self.status = w.HTML()
        self.runs_html = w.HTML(runs_table_html([]))
        self.log = w.Output()  # training's progress bars
        self.measure_button.on_click(lambda _b: self.measure())
        self.train_button.on_click(lambda _b: self.train())
        self.preset.observe(self._on_preset, names="value")
        for control in self.controls[1:]:
            control.observe(lambda _change: self.update(), names="value")
        self.update()

    # -- state ------------------------------------------------------------------------------------
    @property
    def controls(self) -> list:
        return [
            self.preset,
            self.alpha,
            self.beta,
            self.tau,
            self.T,
            self.crop,
            self.depth,
            self.fusion,
        ]

    @property
    def state(self) -> ExplorerState:
        return ExplorerState(
            preset=self.preset.value,
            alpha=self.alpha.value,
            beta_inv=self.beta.value,
            tau=self.tau.value,
            T=self.T.value,
            crop=self.crop.value,
            depth=self.depth.value,
            fusion=self.fusion.value,
        )

    def set_state(self, **values) -> None:
        """Set several controls at once (one update): set_state(alpha=4, beta_inv=16, tau=8)."""
        names = {"beta_inv": "beta"}
        self._busy = True
        try:
            for key, value in values.items():
                widget = getattr(self, names.get(key, key))
                if key == "crop" and value not in widget.options:
                    widget.options = sorted({*widget.options, value})
                widget.value = value
        finally:
            self._busy = False
        self.update()

    def _on_preset(self, change) -> None:
        st = ExplorerState.from_preset(change["new"])
        fields = asdict(st)
        fields.pop("preset")
        self.set_state(**fields)

    # -- fast path: every change ----------------------------------------------------------------
    def update(self) -> Evaluation:
        """Recompute everything shown from the controls (pure functions; no model is built)."""
        if self._busy:
            return self.evaluation
        start = time.perf_counter()
        ev = evaluate_state(self.state)
        self.evaluation = ev
        self.summary.value = f"<b>{html.escape(summary_text(ev))}</b>" if ev.ok else ""
        if ev.ok:
            self.message.value = ""
            self.cost_html.value = cost_table_html(cost_rows(ev.cost))
            self.shape_html.value = shape_table_html(shape_rows(ev.config, ev.state.crop))
        else:
            self.message.value = (
                '<div class="sfl-error" style="color:#a00;border:1px solid #a00;padding:6px">'
                f"<b>This combination does not make a network.</b> {html.escape(ev.error)}</div>"
            )
            self.cost_html.value = ""
            self.shape_html.value = ""
        self.measure_button.disabled = self.train_button.disabled = not ev.ok
        self._draw_chart()
        self.last_update_ms = 1000 * (time.perf_counter() - start)
        return ev

    def _draw_chart(self) -> None:
        from IPython.display import display

        points = chart_points(self.evaluation)
        if self.figure is None:
            self.figure = explorer_chart(points, self.runs)
        else:
            update_explorer_chart(self.figure, points, self.runs)
        with self.chart:
            self.chart.clear_output(wait=True)
            display(self.figure)

    # -- slow path: buttons -----------------------------------------------------------------------
    def _progress(self, step: int, total: int, what: str) -> None:
        self.progress.max = total
        self.progress.value = step
        self.status.value = html.escape(what)

    def measure(self, repeats: int = 2) -> dict | None:
        """Build the model for the current settings, time a forward on this device, add the point."""
        ev = self.evaluation
        if not ev.ok:
            return None
        self.status.value = "building the model..."
        try:
            result = measure_forward(
                ev.config, ev.state.crop, repeats=repeats, progress=self._progress
            )
        except (RuntimeError, ValueError, MemoryError) as err:
            self.status.value = (
                f'<span style="color:#a00">measure failed: {html.escape(str(err))}</span>'
            )
            return None
        run = {"kind": "measure", "label": run_label("measure", ev.state), **result}
        self._add_run(run)
        self.status.value = f"forward: {result['ms']:.1f} ms on {result['device']}"
        return run

    def train(self, steps: int | None = None, seed: int = 0) -> dict | None:
        """Train the small MotionShapes model with these alpha / beta / tau / T / fusion for the budget
        (steps), evaluate it, and add its accuracy to the chart."""
        try:
            cfg = train_config(self.state)
            _check_channels(cfg)
        except ValueError as err:
            self.status.value = (
                '<span style="color:#a00">the small model cannot use these settings: '
                f"{html.escape(str(err))}</span>"
            )
            return None
        steps = steps if steps is not None else self.budget.value
        self.status.value = f"training the small model for {steps} steps..."
        self.train_button.disabled = True
        try:
            with self.log:
                self.log.clear_output()
                result = train_small_model(
                    cfg, steps, seed=seed, train_clips=self.train_clips, test_clips=self.test_clips
                )
        except (ValueError, RuntimeError) as err:
            self.status.value = (
                f'<span style="color:#a00">training failed: {html.escape(str(err))}</span>'
            )
            return None
        finally:
            self.train_button.disabled = not self.evaluation.ok
        run = {
            "kind": "train",
            "label": run_label("train", self.state),
            "gflops": result["gflops"],
            "accuracy": result["accuracy"],
            "groups": result["groups"],
            "budget": f"{steps} steps, small model {result['clip_size']}^2",
        }
        self._add_run(run)
        groups = ", ".join(f"{g} {a:.0%}" for g, a in result["groups"].items() if a is not None)
        self.status.value = html.escape(
            f"trained {steps} steps in {result['train_time_s']:.0f} s: MotionShapes accuracy "
            f"{result['accuracy']:.1%} ({groups})"
        )
        return run

    def _add_run(self, run: dict) -> None:
        self.runs.append(run)
        self.runs_html.value = runs_table_html(self.runs)
        self._draw_chart()

    # -- layout -----------------------------------------------------------------------------------
    def widget(self):
        """The whole panel as one ipywidgets VBox."""
        w = self._w
        left = w.VBox([self.preset, self.alpha, self.beta, self.tau])
        right = w.VBox([self.T, self.crop, self.depth, self.fusion])
        self.cost_html.layout.margin = "0 24px 0 0"  # ipywidgets' Layout has no flex `gap`
        tables = w.HBox([self.cost_html, self.shape_html])
        buttons = w.HBox(
            [self.measure_button, self.train_button, self.budget, self.progress, self.status]
        )
        panel = w.VBox(
            [
                w.HTML("<h3>SlowFast alpha / beta explorer</h3>"),
                w.HBox([left, right]),
                self.message,
                self.summary,
                tables,
                self.chart,
                buttons,
                self.log,
                self.runs_html,
            ]
        )
        panel.add_class("sfl-explorer")  # a stable handle for styling and the browser tests
        return panel

    def show(self) -> None:
        from IPython.display import display

        display(self.widget())

    def _ipython_display_(self) -> None:
        self.show()


def train_small_model(
    cfg: SlowFastConfig,
    steps: int,
    seed: int = 0,
    train_clips: int | None = None,
    test_clips: int | None = None,
    progress: bool = True,
) -> dict:
    """Train the small model `cfg` (a `slowfast_tiny` variant) on MotionShapes for `steps` steps with
    `slowfast_lab.train` and evaluate it on a fresh split. Returns {"accuracy", "groups", "gflops",
    "train_time_s", "clip_size"}. tqdm progress bars show when `progress`.
    """
    run = TrainConfig(
        model=cfg,
        seed=seed,
        steps=steps,
        batch_size=16,
        train_clips=train_clips or int(pick(64, 1500)),
        val_clips=0,
        test_clips=test_clips or int(pick(60, 400)),
        warmup_steps=min(50, max(1, steps // 10)),
        progress=progress,
    )
    record = train(run).record
    size = run.task_config().size
    return {
        "accuracy": record["test"]["accuracy"],
        "groups": record["test"]["groups"],
        "gflops": complexity(cfg, crop_size=size).gflops,
        "train_time_s": record["train_time_s"],
        "clip_size": size,
    }


# ------------------------------------------------------------------------------------------------
# Questions (kept here, so that the notebook cell does not show the answer)


def beta_halving(
    preset: str = "slowfast_4x16_r50", beta_inv: int = 8, crop: int = 256
) -> dict[str, float]:
    """What halving beta (1/beta_inv -> 1/(2 beta_inv)) does to the Fast pathway's multiply-adds.

    Returns GFLOPs `fast_before`, `fast_after`, `total_before`, `total_after`, their `ratio`
    (fast_before / fast_after) and `stem_share`, the Fast stem's share of the Fast pathway
    before: the stem reads 3 colour channels, so only its output side shrinks with beta (x1/2),
    while a layer with beta C channels on both sides shrinks x1/4.
    """
    before = complexity(preset, crop_size=crop, beta_inv=beta_inv)
    after = complexity(preset, crop_size=crop, beta_inv=2 * beta_inv)
    spec = pathway_spec(before.config, "fast")
    conv1 = (crop + 2 * 3 - 7) // 2 + 1  # the stem's 7x7 conv, stride 2, padding 3
    stem = spec.stem_channels * before.config.fast_frames * conv1**2 * 3
    stem *= spec.stem_temporal_kernel * 7 * 7
    return {
        "fast_before": before.by_part["fast"] / 1e9,
        "fast_after": after.by_part["fast"] / 1e9,
        "ratio": before.by_part["fast"] / after.by_part["fast"],
        "stem_share": stem / before.by_part["fast"],
        "total_before": before.gflops,
        "total_after": after.gflops,
    }


_HALVING = beta_halving()


def _number(response: str) -> float:
    """'2.8', 'x2.8', '2.8x' -> 2.8."""
    return float(response.strip().strip("xX").strip())


QUESTIONS: dict[str, Question] = {
    "halve_beta": Question(
        "Halve beta from 1/8 to 1/16 in SlowFast 4x16 R50. By roughly what factor does the Fast "
        "pathway's cost shrink? (a number)",
        f"About {_HALVING['ratio']:.1f} ({_HALVING['fast_before']:.2f} -> "
        f"{_HALVING['fast_after']:.2f} GFLOPs), not 4. A Fast layer with beta C channels on both "
        "sides costs beta^2 (x1/4), but the stem reads 3 colour channels, so only its output "
        f"side shrinks (x1/2), and the stem is {_HALVING['stem_share']:.0%} of the Fast pathway's "
        "cost at beta=1/8 (32 frames of 128^2 through a 5x7x7 kernel). The total falls much less "
        f"({_HALVING['total_before']:.1f} -> {_HALVING['total_after']:.1f} GFLOPs), because the "
        "Slow pathway dominates.",
        check=lambda r: abs(_number(r) - _HALVING["ratio"]) <= 0.25,
        solution=f"{_HALVING['ratio']:.1f}",
    ),
    "valid_alphas": Question(
        "With tau=16, which values of alpha make a valid network? (comma-separated)",
        "1, 2, 4, 8, 16: the Fast pathway takes every tau/alpha-th raw frame, which must be a "
        "whole number of frames.",
        check=lambda r: {int(x) for x in r.replace(" ", "").split(",") if x} == {1, 2, 4, 8, 16},
        solution="1, 2, 4, 8, 16",
    ),
    "fast_share_of_time": Question(
        "In the paper's 4x16 R50 the Fast pathway is about 20% of the multiply-adds. Would you "
        "expect it to be more or less than 20% of the run time on a CPU or GPU? (more / less)",
        "More, typically: the Fast pathway's layers are thin (beta C channels) but long in time, "
        "so each multiply-add is less efficient (less data reuse, more memory traffic per "
        "operation).",
        check=lambda r: r.lower().startswith("more"),
        solution="more",
    ),
    "beta_1_32": Question(
        "The paper's accuracy at beta=1/32 is 74.2 versus 75.6 at 1/8. What does the Fast pathway "
        "lose when beta gets that small?",
        "Channels: at 1/32 the Fast res2 has only 2 inner channels (64/32) in R50, too few to "
        "represent the varied motion patterns of Kinetics; the cost saved (36.1 -> 28.6 GFLOPs) is "
        "mostly in the Fast pathway, which was already cheap.",
    ),
}
