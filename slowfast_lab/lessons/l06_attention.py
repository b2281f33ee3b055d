"""Lesson 06, what each pathway attends to: attribution overlays per pathway, per-frame mass
curves, localisation per class group (the attributions themselves: `slowfast_lab.attribution`)."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from .. import attribution, synthetic
from ..model import VideoNet
from .common import FAST_COLOR, PART_COLORS, SLOW_COLOR, Question
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


def attention_overlay_figure(frames, maps: dict, alpha: int, steps=None, title: str = "") -> Figure:
    """Static overlays: rows = the clip's Fast frames at `steps` (default: every alpha-th), columns
    = frame, Slow attribution over its frame, Fast attribution over its frame (both normalised per
    pathway over the clip). frames: uint8 [alpha T, H, W, 3] (the Fast frames)."""
    norm = normalised_maps(maps)
    steps = steps if steps is not None else list(range(0, len(frames), alpha))
    cols = ["frame", *[p for p in ("slow", "fast") if p in norm]]
    fig = Figure(figsize=(1.7 * len(steps), 1.8 * len(cols)), layout="constrained")
    axes = fig.subplots(len(cols), len(steps), squeeze=False)
    for k, j in enumerate(steps):
        for r, what in enumerate(cols):
            ax = axes[r][k]
            ax.imshow(frames[j])
            if what != "frame":
                i = j // alpha if what == "slow" else j
                ax.imshow(norm[what][i], cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(what.capitalize() if what != "frame" else "frame", fontsize=9)
            if r == 0:
                ax.set_title(f"fast frame {j}", fontsize=8)
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
        "The Fast pathway sees a 90 degree step per frame. The Slow pathway can still tell the "
        "class group (an L, not a square) and is attributed on the object for that.",
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
