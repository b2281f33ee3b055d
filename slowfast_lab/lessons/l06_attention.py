"""Lesson 06, what each pathway attends to: attribution overlays per pathway, per-frame mass
curves, localisation per class group (the attributions themselves: `slowfast_lab.attribution`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from .. import attribution, synthetic
from ..model import VideoNet
from .common import FAST_COLOR, OVERLAY_CMAP, PART_COLORS, SLOW_COLOR, Question
from .l01_sampling import find_clip


def mass_curve_rows(masses: dict, indices: dict) -> list[dict]:
    """Per-frame attribution mass of each pathway, placed at the raw frames it saw.

    masses: {"slow": [T] shares, "fast": [alpha T] shares} (each sums to 1, e.g.
    `Attribution.frame_mass`); indices: {"slow": raw frame indices, "fast": ...}.
    Rows {pathway, frame (raw index), mass, per_raw (mass / frames the sample stands for)}:
    a Slow frame stands for alpha raw-frame steps, a Fast frame for one, so `per_raw` puts both
    on one scale (mass per Fast-frame step).
    """
    n_fast = len(indices["fast"]) if "fast" in indices else None
    rows = []
    for p, m in masses.items():
        values = [float(v) for v in m]
        span = (n_fast / len(values)) if n_fast else 1.0
        for i, v in zip(indices[p], values, strict=True):
            rows.append({"pathway": p, "frame": int(i), "mass": v, "per_raw": v / span})
    return rows


def mass_curves_figure(curves: dict[str, list[dict]], title: str = "") -> Figure:
    """Per-frame mass curves, one panel per clip: {clip name: `mass_curve_rows`}. Uniform mass
    (the dotted line) means the pathway spreads its attribution evenly over time."""
    n = len(curves)
    fig = Figure(figsize=(4.2 * n, 2.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (name, rows) in zip(axes, curves.items(), strict=True):
        for p, color, marker in (("slow", SLOW_COLOR, "s"), ("fast", FAST_COLOR, "o")):
            pts = [r for r in rows if r["pathway"] == p]
            if pts:
                ax.plot(
                    [r["frame"] for r in pts],
                    [r["per_raw"] for r in pts],
                    marker=marker,
                    color=color,
                    label=p.capitalize(),
                )
        fast = [r for r in rows if r["pathway"] == "fast"]
        if fast:
            ax.axhline(1 / len(fast), color="grey", ls=":", lw=1, label="uniform")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("raw frame")
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("share of attribution\nper Fast-frame step")
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def input_frames(x, mean: float = 0.45, std: float = 0.225):
    """A normalised model input [1, 3, t, H, W] (or [3, t, H, W]) back to uint8 frames
    [t, H, W, 3], to draw attribution over exactly the pixels the model saw."""
    a = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float32)
    a = a[0] if a.ndim == 5 else a
    return np.clip(np.round((a * std + mean) * 255), 0, 255).astype(np.uint8).transpose(1, 2, 3, 0)


def normalised_maps(maps: dict) -> dict:
    """|map| / its maximum over the whole clip, per pathway, as numpy [t, H, W] in [0, 1]: one
    scale per pathway and clip, so frames with little attribution look faint."""
    out = {}
    for p, m in maps.items():
        a = np.abs(np.asarray(m, dtype=np.float32))
        top = float(a.max())
        out[p] = a / top if top > 0 else a
    return out


def animation_steps(n_fast: int, alpha: int) -> list[tuple[int, int]]:
    """(fast frame j, slow frame i) shown together at each step: the Slow frame is the latest one
    at or before Fast frame j (i = j // alpha), as the paper samples them."""
    return [(j, j // alpha) for j in range(n_fast)]


def overlay_steps(n_fast: int, alpha: int) -> list[int]:
    """Fast frames for the static overlays: one per Slow frame, each one Fast frame further past
    its Slow frame (0, alpha + 1, 2 alpha + 2, ...: 0, 5, 10, 15 for alpha = 4, T = 4). A
    MotionShapes spin is aliased to the Slow stride, so the Slow-aligned frames 0, alpha, 2 alpha,
    ... all show one pose; these show the turn, and every Slow frame once."""
    steps = [k * alpha + k % alpha for k in range(n_fast // alpha)]
    return [j for j in steps if j < n_fast]


def attention_overlay_figure(frames, maps: dict, alpha: int, steps=None, title: str = "") -> Figure:
    """Static overlays: columns = the clip's Fast frames at `steps` (default `overlay_steps`), rows
    = the Fast frame, the Slow attribution over the Slow frame it belongs to (j // alpha: the
    pose the Slow pathway saw), the Fast attribution over its frame. Both maps are |attribution|
    divided by its maximum over the clip, per pathway (the colour bar). frames: uint8
    [alpha T, H, W, 3] (the Fast frames)."""
    norm = normalised_maps(maps)
    steps = steps if steps is not None else overlay_steps(len(frames), alpha)
    cols = ["frame", *[p for p in ("slow", "fast") if p in norm]]
    fig = Figure(figsize=(1.7 * len(steps) + 1.0, 1.8 * len(cols)), layout="constrained")
    axes = fig.subplots(len(cols), len(steps), squeeze=False)
    heat = None
    for k, j in enumerate(steps):
        for r, what in enumerate(cols):
            ax = axes[r][k]
            i = j // alpha if what == "slow" else j
            ax.imshow(frames[alpha * i] if what == "slow" else frames[j])
            if what != "frame":
                heat = ax.imshow(norm[what][i], cmap=OVERLAY_CMAP, alpha=0.6, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if what == "slow":
                ax.set_xlabel(f"Slow frame {i} (fast {alpha * i})", fontsize=7, labelpad=2)
            if k == 0:
                ax.set_ylabel(what.capitalize() if what != "frame" else "frame", fontsize=9)
            if r == 0:
                ax.set_title(f"fast frame {j}", fontsize=8)
    if heat is not None:
        bar = fig.colorbar(heat, ax=axes[1:, :].ravel().tolist(), shrink=0.9, aspect=25)
        bar.set_label("|attribution| / its max\nover the clip, per pathway", fontsize=7)
        bar.ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def attention_animation(frames, maps: dict, alpha: int, title: str = ""):
    """A plotly animation (frames + Play button + slider, kept by HTML export): the clip's Fast
    frames on the left, the Slow and the Fast pathway's normalised |attribution| beside it.
    frames: uint8 [alpha T, H, W, 3]; maps: {"slow": [T, H, W], "fast": [alpha T, H, W]}."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    norm = normalised_maps(maps)
    names = [p for p in ("slow", "fast") if p in norm]
    steps = animation_steps(len(frames), alpha)
    fig = make_subplots(
        1, 1 + len(names), subplot_titles=["frame", *[f"{p.capitalize()} pathway" for p in names]]
    )

    def traces(j, i):
        out = [go.Image(z=frames[j])]
        for p in names:
            z = norm[p][i if p == "slow" else j]
            out.append(go.Heatmap(z=z, zmin=0, zmax=1, colorscale="Inferno", showscale=False))
        return out

    for c, tr in enumerate(traces(*steps[0]), start=1):
        fig.add_trace(tr, 1, c)
    fig.frames = [go.Frame(data=traces(j, i), name=str(j)) for j, i in steps]
    play = {"frame": {"duration": 400, "redraw": True}, "fromcurrent": True}
    fig.update_layout(
        title=title,
        height=330,
        width=260 * (1 + len(names)),
        updatemenus=[
            {
                "type": "buttons",
                "x": 0,
                "y": -0.08,
                "buttons": [
                    {"label": "Play", "method": "animate", "args": [None, play]},
                    {
                        "label": "Pause",
                        "method": "animate",
                        "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}],
                    },
                ],
            }
        ],
        sliders=[
            {
                "x": 0.15,
                "len": 0.85,
                "currentvalue": {"prefix": "fast frame "},
                "steps": [
                    {
                        "label": str(j),
                        "method": "animate",
                        "args": [[str(j)], {"frame": {"duration": 0, "redraw": True}}],
                    }
                    for j, _ in steps
                ],
            }
        ],
    )
    for c in range(2, 2 + len(names)):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{c}", row=1, col=c)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return fig


def localisation_figure(rows: list[dict], title: str = "") -> Figure:
    """Localisation ratio (attribution share inside the object / the object's share of the frame)
    per class group, one bar per pathway; rows {group, pathway, ratio, ...}. 1 = no localisation."""
    groups = list(dict.fromkeys(r["group"] for r in rows))
    paths = list(dict.fromkeys(r["pathway"] for r in rows))
    fig = Figure(figsize=(5.5, 3), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(paths), 1)
    for k, p in enumerate(paths):
        vals = [
            next((r["ratio"] for r in rows if r["group"] == g and r["pathway"] == p), 0.0)
            for g in groups
        ]
        ax.bar(
            [g + (k - (len(paths) - 1) / 2) * width for g in range(len(groups))],
            vals,
            width,
            color=PART_COLORS.get(p, None),
            label=p.capitalize(),
        )
    ax.axhline(1, color="grey", ls=":", lw=1)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel("localisation ratio")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------
# Where each pathway's attribution lands: the object, the distractor discs, the background
# ------------------------------------------------------------------------------------------------

REGIONS = ("object", "distractors", "background")


def clip_regions(clip: synthetic.MotionShapesClip, alpha: int) -> dict[str, dict[str, np.ndarray]]:
    """Each pathway's frames split into three regions, bool [t, H, W] each, that cover every pixel
    once: the object, the distractor discs visible around it, and the rest (background with its
    drifting grating). {"slow": {region: [T, H, W]}, "fast": {region: [alpha T, H, W]}}; the Slow
    frames are every alpha-th Fast frame. clip: the Fast frames (as `class_clip` renders them)."""
    obj = np.asarray(clip.mask, dtype=bool)
    discs = synthetic.distractor_mask(clip)
    fast = {"object": obj, "distractors": discs, "background": ~(obj | discs)}
    return {"slow": {r: m[::alpha] for r, m in fast.items()}, "fast": fast}


def region_mass_rows(maps: dict, regions: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    """Per pathway and region: the share of the pathway's |attribution| inside the region
    ("attribution"), the region's share of the pixels ("pixels") and their ratio (1 = no more
    than an even spread). maps: {pathway: [t, H, W]}; regions: `clip_regions`."""
    rows = []
    for p, m in maps.items():
        a = np.abs(np.asarray(m, dtype=np.float64))
        total = a.sum() or 1.0
        for region, mask in regions[p].items():
            share, pixels = float(a[mask].sum() / total), float(mask.mean())
            rows.append(
                {
                    "pathway": p,
                    "region": region,
                    "attribution": share,
                    "pixels": pixels,
                    "ratio": share / pixels if pixels else float("nan"),
                }
            )
    return rows


def region_table(rows_by_clip: dict[str, list[dict]]) -> pd.DataFrame:
    """One row per clip and pathway, one column per region: "41% (17% of pixels)"."""
    table = []
    for name, rows in rows_by_clip.items():
        for p in dict.fromkeys(r["pathway"] for r in rows):
            line = {"clip": name, "pathway": p}
            for r in rows:
                if r["pathway"] == p:
                    line[r["region"]] = f"{r['attribution']:.0%} ({r['pixels']:.0%} of pixels)"
            table.append(line)
    frame = pd.DataFrame(table)
    frame.index = [""] * len(frame)
    return frame


def region_summary(rows_by_clip: dict[str, list[dict]]) -> str:
    """One line per clip and pathway from `region_mass_rows`, e.g. "L-cw, Slow: 11% on the object
    (15% of the pixels), 17% on the distractor discs (2% of the pixels), ...; per pixel, most on
    the distractor discs." (per pixel: the highest ratio of attribution share to pixel share)."""
    words = {"object": "the object", "distractors": "the distractor discs",
             "background": "the background"}  # fmt: skip
    lines = []
    for name, rows in rows_by_clip.items():
        for p in dict.fromkeys(r["pathway"] for r in rows):
            mine = {r["region"]: r for r in rows if r["pathway"] == p}
            parts = ", ".join(
                f"{r['attribution']:.0%} on {words[k]} ({r['pixels']:.0%} of the pixels)"
                for k, r in mine.items()
            )
            top = max(mine, key=lambda k: mine[k]["ratio"] if mine[k]["pixels"] else -1.0)
            lines.append(f"{name}, {p.capitalize()}: {parts}; per pixel, most on {words[top]}.")
    return "\n".join(lines)


def region_rows_by_clip(clips: dict[str, dict], results: dict, alpha: int) -> dict[str, list[dict]]:
    """`region_mass_rows` of every clip: clips {name: `class_clip`}, results {name: Attribution}."""
    return {
        name: region_mass_rows(results[name].maps, clip_regions(c["clip"], alpha))
        for name, c in clips.items()
    }


def decimal_frame(rows: list[dict], digits: int = 2) -> pd.DataFrame:
    """Rows as a table with every float written as a decimal to `digits` places (0.84, never
    `common.display_number`'s 21/25: these are measurements, not exact fractions), blank index."""
    frame = pd.DataFrame(
        [{k: f"{v:.{digits}f}" if isinstance(v, float) else v for k, v in r.items()} for r in rows]
    )
    frame.index = [""] * len(frame)
    return frame


def randomisation_table(rhos: dict[str, dict[str, float]]) -> pd.DataFrame:
    """The randomisation test per method: {method: {pathway: rank correlation}} (from
    `attribution.randomisation_test`) as a table, correlations to two decimals."""
    return decimal_frame(
        [
            {"method": m, **{f"rank corr. {p}": float(v) for p, v in rho.items()}}
            for m, rho in rhos.items()
        ]
    )


# ------------------------------------------------------------------------------------------------
# A MotionShapes clip as the model sees it, and its attribution overlay in one call
# ------------------------------------------------------------------------------------------------


def class_clip(class_name: str, seed: int, task: synthetic.TaskConfig) -> dict:
    """The first clip of `class_name` in split `seed`, as both pathways see it:
    {"clip": MotionShapesClip, "inputs": {"slow": [1,3,T,H,W], "fast": [1,3,alpha T,H,W]},
    "masks": {"slow": [T,H,W], "fast": [alpha T,H,W]}}."""
    _, fast_idx = synthetic.pathway_indices(task)
    clip = synthetic.render_clip(seed, find_clip(class_name, seed, task), task, fast_idx)
    fast = torch.from_numpy(clip.frames)[None]
    return {
        "clip": clip,
        "inputs": {
            "slow": synthetic.frames_to_input(fast[:, :: task.alpha]),
            "fast": synthetic.frames_to_input(fast),
        },
        "masks": {"slow": clip.mask[:: task.alpha], "fast": clip.mask},
    }


def attention_for(
    model: VideoNet,
    task: synthetic.TaskConfig,
    class_name: str,
    method: str,
    seed: int,
    steps: int = attribution.IG_STEPS,
) -> Figure:
    """Attribute `class_name`'s first clip of split `seed` with `method` and draw the overlay."""
    c = class_clip(class_name, seed, task)
    a = attribution.attribute(
        model, c["inputs"], c["clip"].label, method=method, steps=steps, progress=False
    )
    return attention_overlay_figure(
        c["clip"].frames, a.maps, task.alpha, title=f"{class_name}: {method}"
    )


# ------------------------------------------------------------------------------------------------
# Questions (kept here, so that the notebook cell does not show the answer)

QUESTIONS: dict[str, Question] = {
    "clockwise_pathway": Question(
        "The Slow pathway's frames of the L-cw clip show the L in the same pose every time. Which "
        "pathway do you expect to carry the evidence for 'clockwise' (slow or fast)?",
        "fast. The L turns one full turn every tau = 8 raw frames, the Slow stride, so every Slow "
        "frame shows the same pose (temporal aliasing): nothing in the Slow input says clockwise. "
        "The Fast pathway sees a 90 degree step per frame. The Slow pathway's own map for this "
        "clip lies mostly on a distractor disc, not on the L (see the table above): it carries "
        "nothing about the direction.",
        check=lambda s: s.strip().lower().startswith("fast"),
        solution="fast",
    ),
    "localisation_ratio": Question(
        "A localisation ratio of 1.0 means what: the attribution ignores the object, spreads "
        "evenly, or sits entirely on the object? (ignores / even / object)",
        "even. The ratio is (share of attribution inside the mask) / (share of pixels inside the "
        "mask): 1 means the object gets exactly its share of pixels, no more. Ignoring the object "
        "gives 0; all attribution on the object gives 1 / mask share (the object covers 15 to 20% "
        "of the frame here, so about 5 to 7).",
        check=lambda s: s.strip().lower().startswith("even"),
        solution="even",
    ),
    "randomised_maps": Question(
        "After randomising the weights a method's maps have rank correlation 0.98 with the "
        "trained model's maps. Is that method telling you about the model? (yes / no)",
        "no. The maps are nearly the same without the learned weights, so they come from the "
        "input (edges, contrast) and the architecture, not from what the model learned (Adebayo "
        "et al. 2018).",
        check=lambda s: s.strip().lower().startswith("no"),
        solution="no",
    ),
}
