"""The MotionShapes comparison (paper Table 5 / Figure 2 on our synthetic task): run it, write it,
read it back, plot it.

`compare` trains every row of `COMPARISON_RUNS` with `train.train` and writes the table
(`data_samples/results/motionshapes_comparison.{json,md,png}`); `checkpoint_rows` makes rows from
trained checkpoints; `comparison_rows`, `recorded_rows`, `shipped_models`, `find_checkpoint` read
the recorded tables and shipped checkpoints back for the lessons; `accuracy_complexity_figure`
draws the table beside the paper's Figure 2 points (`paper.FIGURE2_POINTS`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import nn

from .colors import FAST_COLOR, LATERAL_COLOR, SLOW_COLOR
from .complexity import complexity
from .config import SlowFastConfig, get_config
from .model import VideoNet, dummy_inputs
from .paper import FIGURE2_POINTS, TABLE_5A
from .paths import REPO
from .synthetic import TaskConfig
from .timing import time_call
from .train import TrainConfig, machine_load, task_of, train, write_json
from .weights import load_model


@torch.no_grad()
def cpu_ms_per_clip(
    model: VideoNet, task: TaskConfig, batch_size: int = 8, repeats: int = 5
) -> float:
    """Median inference time per clip (ms) on the CPU at `batch_size`, after one warm-up."""
    model = model.cpu().eval()
    inputs = dummy_inputs(model, task.size, batch_size, T=task.T, seed=0)
    times = time_call(lambda: model(*inputs), "cpu", warmup=1, iters=1, repeats=repeats)
    return round(1000 * statistics.median(times) / batch_size, 3)


# ------------------------------------------------------------------------------------------------
# The comparison (paper Table 5 / Figure 2 on MotionShapes)
# ------------------------------------------------------------------------------------------------

# (row name, preset, overrides). T-conv at beta 1/4 is the default SlowFast (slowfast_tiny).
COMPARISON_RUNS: tuple[tuple[str, str, dict], ...] = (
    ("Slow-only", "slow_tiny", {}),
    ("Fast-only", "fast_tiny", {}),
    ("SlowFast, no lateral", "slowfast_tiny", {"fusion": "none"}),
    ("SlowFast, TtoC sum", "slowfast_tiny", {"fusion": "ttoc_sum"}),
    ("SlowFast, TtoC concat", "slowfast_tiny", {"fusion": "ttoc_concat"}),
    ("SlowFast, T-sample", "slowfast_tiny", {"fusion": "t_sample"}),
    ("SlowFast, T-conv (beta 1/4)", "slowfast_tiny", {}),
    ("SlowFast, T-conv, beta 1/8", "slowfast_tiny", {"beta_inv": 8}),
    ("SlowFast, T-conv, beta 1/16", "slowfast_tiny", {"beta_inv": 16}),
    # width 16 / 32 leaves no Fast channels: the 1/32 point doubles the Slow width.
    ("SlowFast, T-conv, beta 1/32 (width 32)", "slowfast_tiny", {"beta_inv": 32, "width": 32}),
)


# The scenes comparison (`compare --task kind=scenes --seeds 0 1 2`): the paper's Table 5a rows
# (every lateral type, and none) and the two single pathways, on the task that needs binding.
SCENE_RUNS: tuple[tuple[str, str, dict], ...] = (
    ("Slow-only", "slow_tiny", {}),
    ("Fast-only", "fast_tiny", {}),
    ("SlowFast, no lateral", "slowfast_tiny", {"fusion": "none"}),
    ("SlowFast, TtoC sum", "slowfast_tiny", {"fusion": "ttoc_sum"}),
    ("SlowFast, TtoC concat", "slowfast_tiny", {"fusion": "ttoc_concat"}),
    ("SlowFast, T-sample", "slowfast_tiny", {"fusion": "t_sample"}),
    ("SlowFast, T-conv", "slowfast_tiny", {}),
)


def runs_for(task: TaskConfig) -> tuple[tuple[str, str, dict], ...]:
    """The comparison's rows for a task: `SCENE_RUNS` for scenes, else `COMPARISON_RUNS`."""
    return SCENE_RUNS if task.kind == "scenes" else COMPARISON_RUNS


_COSMETIC = ("progress", "log_every")  # config fields that do not change a run's result


# Training options added after records were written, as those runs had them (channels_last is on by
# default now, but an older record was trained without it).
_BEFORE_THEY_EXISTED = {"channels_last": False, "bf16": False}


def same_run(have: dict, cfg: TrainConfig) -> bool:
    """Does a record's config (`have`, as JSON) describe the run `cfg`, cosmetic fields aside?

    Model fields that a record predates (added to `SlowFastConfig` later, such as `head`) count
    as their defaults, which is what the network had before they existed, and training options it
    predates as `_BEFORE_THEY_EXISTED`; a record from an older version is then still recognised
    instead of being trained again.
    """
    want = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    have = {**_BEFORE_THEY_EXISTED, **have}
    if isinstance(have.get("model"), dict):
        defaults = json.loads(json.dumps(dataclasses.asdict(SlowFastConfig()), default=str))
        have["model"] = {**{k: defaults[k] for k in want["model"]}, **have["model"]}
    return all(have.get(k) == v for k, v in want.items() if k not in _COSMETIC)


def result_row(lead: dict, model_config: dict, test: dict, cost, tail: dict) -> dict:
    """One row of a results table: `lead` (name...), the model's pathways / fusion / beta / width,
    its test accuracy per group, its exact cost (a `Complexity`), then `tail` (timings...)."""
    return {
        **lead,
        **{k: model_config[k] for k in ("pathways", "fusion", "beta_inv", "width")},
        "accuracy": test["accuracy"],
        "groups": test["groups"],
        "test_seed": test["seed"],
        "test_clips": test["clips"],
        "macs": cost.macs,
        "params": cost.params,
        "macs_by_part": cost.by_part,
        **tail,
    }


def compare(
    base: TrainConfig,
    out_dir: str | os.PathLike = "runs/compare",
    results: str | os.PathLike = "data_samples/results/motionshapes_comparison",
    runs: tuple[tuple[str, str, dict], ...] = COMPARISON_RUNS,
    resume: bool = True,
    command: str | None = None,
    seeds: tuple[int, ...] | None = None,
) -> list[dict]:
    """Train every run of `runs` with the settings of `base`, evaluate each on the test split, and
    write the table to `results`.json / .md and the accuracy / complexity figure to `results`.png.
    A run whose record already exists is not trained again (`resume`), so a long comparison can be
    run in pieces. With `seeds`, every run is trained once per training seed (data and
    initialisation; the test split stays `base.test_seed`) and the table gives mean and range.

    Each row: name, preset, overrides, seed, accuracy, groups, per_class, macs, params,
    cpu_ms_per_clip, train_time_s. The model's head gets the task's number of classes.
    CPU times are measured for all rows together at the end, on `base.threads` threads.
    """
    out_dir = Path(out_dir)
    task = base.task_config()
    rows, checkpoints = [], []
    for seed, (name, preset, overrides) in (
        (seed, run) for seed in (seeds or (base.seed,)) for run in runs
    ):  # seed by seed: the first seed's models are ready first
        slug = name.lower().replace(" ", "_").replace(",", "").replace("/", "-")
        slug = "".join(ch for ch in slug if ch.isalnum() or ch in "_-+")
        if seeds:
            slug += f"_seed{seed}"
        overrides = {**overrides, "num_classes": len(task.classes)}
        cfg = dataclasses.replace(
            base,
            model=get_config(preset, **overrides),
            seed=seed,
            out=str(out_dir / f"{slug}.pt"),
            record=None,
        )
        record_path = out_dir / f"{slug}.json"
        record = None
        if resume and record_path.is_file():
            old = json.loads(record_path.read_text())
            if same_run(old.get("config", {}), cfg):
                record = old
        if record is None:
            print(f"== {name}, seed {seed}", file=sys.stderr)
            record = train(cfg, command=command).record
            write_json(record, record_path)
        task = TaskConfig(**record["task"])
        c = complexity(preset, crop_size=task.size, **overrides)
        rows.append(
            result_row(
                {"name": name, "preset": preset, "overrides": overrides, "seed": seed},
                record["model_config"],
                record["test"],
                c,
                {
                    "per_class": record.get("test_detail", {}).get("per_class"),
                    "train_time_s": record["train_time_s"],
                    "train_load": record["machine"],
                },
            )
        )
        checkpoints.append(cfg.out)
    # Time every row in one pass after all training, on base.threads threads: timings taken
    # right after each run would mix machine states (other runs, other jobs) between rows.
    threads = torch.get_num_threads()
    torch.set_num_threads(base.threads)
    try:
        for row, path in zip(rows, checkpoints, strict=True):
            model = load_model(path)
            row["cpu_ms_per_clip"] = cpu_ms_per_clip(model, task_of(model))
            row["cpu_load_at_timing"] = machine_load()
    finally:
        torch.set_num_threads(threads)
    payload = {
        "task": "MotionShapes scenes" if task.kind == "scenes" else "MotionShapes",
        "task_config": task.to_dict(),
        "command": command,
        "base_config": dataclasses.asdict(base),
        "seeds": list(seeds) if seeds else None,
        "rows": rows,
    }
    results = Path(results)
    write_json(payload, results.with_suffix(".json"))
    if task.kind == "scenes":
        text = scenes_markdown(rows, command, base)
        figure = scenes_figure(rows)
    else:
        text = comparison_markdown(rows, command, base)
        figure = accuracy_complexity_figure(rows)
    results.with_suffix(".md").write_text(text + "\n")
    figure.savefig(results.with_suffix(".png"), dpi=100)
    return rows


def checkpoint_rows(paths: list[str | os.PathLike], timing: bool = True) -> list[dict]:
    """Comparison rows (as `compare` makes them) for trained checkpoints, from their recorded test
    accuracy: no training. Multiply-adds and params at the task's frame size; CPU time measured now.
    """
    rows = []
    for path in paths:
        model = load_model(path)
        meta, cfg = model.checkpoint_meta, model.config
        task = TaskConfig(**meta["task"])
        c = complexity(cfg, crop_size=task.size)
        name = {"slowfast": f"SlowFast ({cfg.fusion}, beta 1/{cfg.beta_inv})", "slow": "Slow-only",
                "fast": "Fast-only"}[cfg.pathways]  # fmt: skip
        rows.append(
            result_row(
                {"name": name, "checkpoint": str(path)},
                dataclasses.asdict(cfg),
                meta["test"],
                c,
                {
                    "cpu_ms_per_clip": cpu_ms_per_clip(model, task) if timing else None,
                    "cpu_load_at_timing": machine_load(),
                    "train_time_s": meta["train_time_s"],
                    "train_load": meta.get("machine"),
                    "command": meta.get("command"),
                },
            )
        )
    return rows


def _timing_words(rows: list[dict], key: str) -> str:
    """'on N thread(s) of a C-core machine at load average a-b' from the rows' machine records."""
    loads = [r[key] for r in rows if r.get(key)]
    if not loads:
        return "machine state not recorded"
    threads = sorted({m.get("threads") for m in loads})
    averages = [m["loadavg_1m"] for m in loads if m.get("loadavg_1m") is not None]
    words = (
        f"on {'/'.join(map(str, threads))} thread(s) of a {loads[0].get('cpu_count')}-core machine"
    )
    if averages:
        words += f" at load average {min(averages):.1f}-{max(averages):.1f}"
    return words


def comparison_markdown(
    rows: list[dict], command: str | None = None, base: TrainConfig | None = None
) -> str:
    """The comparison as a Markdown table (accuracy in %, MACs in millions per clip); `base`, the
    runs' common training settings, adds a line that states them."""
    head = (
        "| model | overall | appearance | motion | appearance+motion | MMACs | params | "
        "CPU ms/clip | train s |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        g = r["groups"]
        lines.append(
            f"| {r['name']} | {100 * r['accuracy']:.1f} | {100 * g['appearance']:.1f} | "
            f"{100 * g['motion']:.1f} | {100 * g['appearance+motion']:.1f} | {r['macs'] / 1e6:.1f} | "
            f"{r['params'] / 1e3:.0f}k | {r['cpu_ms_per_clip']:.2f} | {r['train_time_s']:.0f} |"
        )
    note = ""
    if rows:
        note = (
            f"\n\nTest split: seed {rows[0]['test_seed']}, {rows[0]['test_clips']} clips. Chance within a "
            "group: appearance 1/3, motion 1/3, appearance+motion 1/4. MMACs and params are exact "
            "(`sfl.complexity` at the clips' size)."
            f"\n\nCPU ms/clip: {_timing_words(rows, 'cpu_load_at_timing')}; median of 5 forwards at "
            f"batch 8. Train s: wall time of each run, clip rendering included, "
            f"{_timing_words(rows, 'train_load')}."
        )
    if base is not None:
        note += (
            f"\n\nTraining, every row: {base.steps} steps, batch {base.batch_size}, {base.optimizer} "
            f"lr {base.lr:g}, {base.train_clips} clips of split seed {base.seed}, initialisation "
            f"seed {base.seed}."
        )
    if command:
        note += f"\n\nReproduce: `{command}`"
    return "\n".join(lines) + note


def seed_summary(rows: list[dict]) -> list[dict]:
    """Rows of the same name (one per training seed) -> one row each: name, pathways, fusion,
    macs, seeds, and for "accuracy" and each group: mean, min, max and the per-seed values."""
    by_name: dict[str, list[dict]] = {}
    for r in rows:
        by_name.setdefault(r["name"], []).append(r)
    out = []
    for name, runs in by_name.items():

        def stats(values: list[float]) -> dict:
            return {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
                    "values": values}  # fmt: skip

        first = runs[0]
        out.append(
            {
                "name": name,
                "pathways": first.get("pathways"),
                "fusion": first.get("fusion"),
                "macs": first["macs"],
                "params": first["params"],
                "seeds": [r.get("seed") for r in runs],
                "accuracy": stats([r["accuracy"] for r in runs]),
                "groups": {g: stats([r["groups"][g] for r in runs]) for g in first["groups"]},
                "train_time_s": statistics.fmean(r["train_time_s"] for r in runs),
            }
        )
    return out


def scenes_markdown(
    rows: list[dict], command: str | None = None, base: TrainConfig | None = None
) -> str:
    """The scenes comparison as a Table 5a-style Markdown table: per model, the mean over training
    seeds (and the range) of the overall accuracy, the mover-colour and the direction accuracy,
    the per-seed values, the cost, and the paper's Table 5a top-1 for the same lateral type."""
    lines = [
        "| model | overall (mean, range) | per seed | mover colour | direction | MMACs | "
        "train s | paper Table 5a top-1 (K400) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def pct(s: dict) -> str:
        return f"{100 * s['mean']:.1f} ({100 * s['min']:.1f}-{100 * s['max']:.1f})"

    for r in seed_summary(rows):
        paper_row = TABLE_5A.get(r["fusion"]) if r["pathways"] == "slowfast" else None
        g = r["groups"]
        lines.append(
            f"| {r['name']} | {pct(r['accuracy'])} | "
            f"{' / '.join(f'{100 * v:.1f}' for v in r['accuracy']['values'])} | "
            f"{pct(g['mover colour'])} | {pct(g['direction'])} | {r['macs'] / 1e6:.1f} | "
            f"{r['train_time_s']:.0f} | {paper_row.top1 if paper_row else ''} |"
        )
    note = ""
    if rows:
        seeds = sorted({r.get("seed") for r in rows})
        note = (
            f"\n\nTest split: seed {rows[0]['test_seed']}, {rows[0]['test_clips']} clips; training "
            f"seeds {', '.join(map(str, seeds))} (data and initialisation). Chance: overall 1/6, "
            "mover colour 1/3, direction 1/2. The Fast pathway sees gray frames (Table 5c), "
            "in which the three colours look the same. Train s: mean wall time per run, "
            f"{_timing_words(rows, 'train_load')}."
        )
    if base is not None:
        note += (
            f"\n\nTraining, every run: {base.steps} steps, batch {base.batch_size}, "
            f"{base.optimizer} lr {base.lr:g}, {base.train_clips} clips."
        )
    if command:
        note += f"\n\nReproduce: `{command}`"
    return "\n".join(lines) + note


def scenes_figure(rows: list[dict]) -> Figure:
    """Accuracy against multiply-adds for the scenes comparison (mean over seeds, a bar for the
    range), beside the paper's Table 5a (top-1 against GFLOPs) for the same lateral types."""
    fig = Figure(figsize=(12, 4.4), layout="constrained")
    ours, paper = fig.subplots(1, 2)
    colors = {"slow": SLOW_COLOR, "fast": FAST_COLOR, "slowfast": LATERAL_COLOR}
    for i, r in enumerate(seed_summary(rows), 1):
        acc = r["accuracy"]
        x, y = r["macs"] / 1e6, 100 * acc["mean"]
        err = [[y - 100 * acc["min"]], [100 * acc["max"] - y]]
        color = colors.get(r["pathways"], "0.4")
        ours.errorbar(x, y, yerr=err, fmt="o", color=color, capsize=3, label=f"{i}  {r['name']}")
        ours.annotate(str(i), (x, y), xytext=(5, 2), textcoords="offset points", fontsize=8)
    ours.axhline(100 / 6, color="0.5", lw=0.8, ls=":")
    ours.text(ours.get_xlim()[0], 100 / 6 + 1, " chance", fontsize=7, color="0.4")
    ours.set_ylim(0, 102)
    ours.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ours.set_xlabel("multiply-adds per clip (millions)")
    ours.set_ylabel("accuracy (%), mean and range over seeds")
    ours.set_title("MotionShapes scenes (ours, tiny models)")
    ours.grid(alpha=0.3)
    for name, row in TABLE_5A.items():
        paper.scatter(row.gflops, row.top1, s=60, color=LATERAL_COLOR, zorder=3)
        paper.annotate(name, (row.gflops, row.top1), xytext=(4, -10), textcoords="offset points",
                       fontsize=8)  # fmt: skip
    paper.set_xlabel("GFLOPs per view")
    paper.set_ylabel("Kinetics-400 top-1 (%)")
    paper.set_title("Paper Table 5a (SlowFast 4x16 R50)")
    paper.grid(alpha=0.3)
    return fig


def actions_figure(rows: list[dict]) -> Figure:
    """AP per action for the scenes-with-actions runs (rows of `detect.actions_rows`): one panel
    per head (detection: frame mAP@0.5; multi-label: clip mAP), a bar per model and action at
    the mean over training seeds, a line for the range, and the prior (the AP of a scorer that
    knows nothing) as a dotted line."""
    from .detect import seed_groups  # the table's grouping, so figure and table agree
    from .synthetic import ACTIONS

    groups = seed_groups(rows)
    heads = list(dict.fromkeys(g[0]["head"] for g in groups))
    fig = Figure(figsize=(5.2 * len(heads), 3.8), layout="constrained")
    axes = fig.subplots(1, len(heads), squeeze=False)[0]
    colors = {"Slow-only": SLOW_COLOR, "Fast-only": FAST_COLOR}
    for ax, head in zip(axes, heads, strict=True):
        runs = [g for g in groups if g[0]["head"] == head]
        width = 0.8 / len(runs)
        for i, g in enumerate(runs):
            name = g[0]["name"]
            color = colors.get(name, LATERAL_COLOR if "no lateral" not in name else "0.55")
            for a, action in enumerate(ACTIONS):
                aps = [
                    100 * r["per_action"][action] for r in g if r["per_action"][action] is not None
                ]
                if not aps:
                    continue
                x, mean = a + (i - (len(runs) - 1) / 2) * width, statistics.fmean(aps)
                ax.bar(x, mean, width * 0.9, color=color, label=name if a == 0 else None)
                if len(aps) > 1:
                    ax.plot([x, x], [min(aps), max(aps)], color="black", lw=1)
        prior = runs[0][0].get("prior")
        if prior:
            for a, action in enumerate(ACTIONS):
                ax.plot([a - 0.45, a + 0.45], [100 * prior[action]] * 2, "k:", lw=1)
        seeds = sorted({len(g) for g in runs})
        ax.set_xticks(range(len(ACTIONS)), ACTIONS, fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("AP (%)" + (", mean and range over seeds" if seeds != [1] else ""))
        ax.set_title(f"{runs[0][0]['metric']} ({head} head)", fontsize=10)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("MotionShapes scenes with actions: who can tell which action", fontsize=11)
    return fig


# Where the recorded results live in the checkout (paths only; nothing is read at import).
CHECKPOINTS = REPO / "data_samples" / "checkpoints"


COMPARISON = REPO / "data_samples" / "results" / "motionshapes_comparison.json"


# The scenes comparison (`compare --task kind=scenes --seeds 0 1 2`), one row per run and seed.
SCENES_COMPARISON = REPO / "data_samples" / "results" / "scenes_comparison.json"

# Scenes with actions: the detection and multi-label models (rows with name, head, frame / clip
# mAP, per_action, groups).
ACTIONS_COMPARISON = REPO / "data_samples" / "results" / "scenes_actions.json"

# The lateral rows again with other training seeds (`compare --seed N --results ..._seedN`).
SEED_COMPARISONS = tuple(COMPARISON.with_name(f"{COMPARISON.stem}_seed{n}.json") for n in (1, 2))


# The names of shipped checkpoints: <task>_<kind>_tiny.pt, with the head for scenes with actions
# (<task>_<head>_<kind>_tiny.pt: scenes_multi_detect_slowfast_tiny.pt).
CHECKPOINT_KINDS = ("slowfast", "slowfast_nolateral", "slow_only", "fast_only")
ACTION_HEADS = ("detect", "multilabel")


def find_checkpoint(
    kind: str, folder=CHECKPOINTS, task: str = "motionshapes", head: str | None = None
) -> str | None:
    """The shipped checkpoint of `task` ("motionshapes", "scenes" or "scenes_multi") whose file
    name says `kind` ("slowfast", "slowfast_nolateral", "slow_only", "fast_only"):
    `<task>_<kind>_tiny.pt`, else the first `<task>_<kind>*` file that is not another kind's
    (`slowfast` never answers with a `slowfast_nolateral` file); None when there is none.
    Scenes with actions ("scenes_multi") have a detection and a multi-label model of each kind:
    `head` ("detect" or "multilabel") chooses, `scenes_multi_<head>_<kind>_tiny.pt`."""
    if task == "scenes_multi" and head not in ACTION_HEADS:
        raise ValueError(
            f"head={head!r}: the scenes_multi checkpoints are per head, use one of {ACTION_HEADS}"
        )
    if task != "scenes_multi" and head is not None:
        raise ValueError(f"head={head!r} is only for task='scenes_multi' (got task={task!r})")
    folder = Path(folder)
    if not folder.is_dir():
        return None
    stem = f"{task}_{head}_{kind}" if head else f"{task}_{kind}"
    others = [
        f"{task}_{head}_{k}" if head else f"{task}_{k}"
        for k in CHECKPOINT_KINDS
        if k != kind and k.startswith(kind)
    ]
    suffixes = (".pt", ".pth", ".pyth")
    exact = [folder / f"{stem}_tiny{s}" for s in suffixes]
    hits = [p for p in exact if p.is_file()] or sorted(
        p
        for p in folder.iterdir()
        if p.name.startswith(stem)
        and p.suffix in suffixes
        and not any(p.name.startswith(o) for o in others)
    )
    return str(hits[0]) if hits else None


def comparison_rows(path=COMPARISON) -> list[dict] | None:
    """The rows of the recorded MotionShapes comparison (`train.compare`), or None if absent."""
    path = Path(path)
    if not path.is_file():
        return None
    return json.loads(path.read_text())["rows"]


def lateral_runs(rows: list[dict] | None) -> list[dict]:
    """The comparison's SlowFast rows that differ from the default only in their lateral type."""
    return [
        r
        for r in rows or []
        if r.get("pathways") == "slowfast" and not set(r.get("overrides", {})) - {"fusion"}
    ]


def fusion_accuracy(rows: list[dict] | None) -> dict[str, float] | None:
    """MotionShapes test accuracy per lateral type, from the comparison rows (default beta only)."""
    return {r["fusion"]: r["accuracy"] for r in lateral_runs(rows)} or None


def model_point(name: str, model: nn.Module, report: dict, crop: int) -> dict:
    """One row for `accuracy_complexity_figure`: name, pathways, multiply-adds, accuracies."""
    c = complexity(model.config, crop_size=crop)
    return {
        "name": name,
        "pathways": model.config.pathways,
        "macs": c.macs,
        "accuracy": report["accuracy"],
        "groups": report["groups"],
    }


SHIPPED = (("Slow-only", "slow_only"), ("SlowFast", "slowfast"), ("Fast-only", "fast_only"))


def shipped_models(
    fallback: dict[str, nn.Module] | None = None,
) -> tuple[dict[str, nn.Module], list[str]]:
    """The shipped MotionShapes checkpoints as models {"Slow-only": .., "SlowFast": .., "Fast-only": ..},
    and notes on what was missing. A missing one is replaced by `fallback[name]` when given."""
    models, notes = {}, []
    for name, kind in SHIPPED:
        path = find_checkpoint(kind)
        if path is not None:
            models[name] = load_model(path).eval()
            notes.append(f"{name}: loaded {path.split('/')[-1]}")
        elif fallback and name in fallback:
            models[name] = fallback[name].eval()
            notes.append(
                f"{name}: no shipped checkpoint; using the model trained above (few steps: near chance)"
            )
        else:
            notes.append(f"{name}: no shipped checkpoint in data_samples/checkpoints/")
    return models, notes


CHECKPOINT_TABLE = REPO / "data_samples" / "results" / "motionshapes_checkpoints.json"


def recorded_rows() -> tuple[list[dict] | None, str]:
    """Recorded MotionShapes results for the accuracy/compute figure, and where they came from:
    the full comparison if recorded, else the shipped checkpoints' table, else (None, reason)."""
    for path, what in (
        (COMPARISON, "the recorded comparison"),
        (CHECKPOINT_TABLE, "the shipped checkpoints' table"),
    ):
        rows = comparison_rows(path)
        if rows:
            return rows, f"{what} ({path.relative_to(REPO)}, 1000-clip test split)"
    return None, "no recorded results in data_samples/results/"


def red_arrow(points=FIGURE2_POINTS) -> tuple[str, str] | None:
    """The paper's red arrow in Figure 2: (Slow-only, SlowFast) names where the SlowFast is more
    accurate *and* cheaper than a temporally heavy Slow-only (of such pairs, the one from the
    costliest Slow-only), or None. points: (name, GFLOPs, top-1) as `paper.FIGURE2_POINTS`."""
    slow = [p for p in points if p[0].startswith("Slow-only")]
    both = [p for p in points if p[0].startswith("SlowFast")]
    pairs = [(s, f) for s in slow for f in both if f[1] < s[1] and f[2] > s[2]]
    if not pairs:
        return None
    s, f = max(pairs, key=lambda pair: (pair[0][1], pair[1][2]))
    return s[0], f[0]


def accuracy_complexity_figure(rows: list[dict], group: str | None = None) -> Figure:
    """Accuracy against multiply-adds: our MotionShapes runs (left) and the paper's Kinetics-400
    points (right), Slow-only -> SlowFast arrows as in the paper's Figure 2, and its red arrow
    (`red_arrow`: SlowFast more accurate and cheaper than a temporally heavy Slow-only). Points
    are numbered and named in each panel's legend.

    `rows` are `train.compare` rows (name, pathways, macs, accuracy, groups); `group` plots one
    group's accuracy instead of the overall one.
    """
    fig = Figure(figsize=(12, 4.4), layout="constrained")
    ours, paper = fig.subplots(1, 2)
    colors = {"slow": SLOW_COLOR, "fast": FAST_COLOR, "slowfast": LATERAL_COLOR}
    by_name = {}
    for i, r in enumerate(rows, 1):
        acc = 100 * (r["groups"][group] if group else r["accuracy"])
        x = r["macs"] / 1e6
        # Points often coincide (several variants at 100%): number them, name them in the legend,
        # and move each number clear of the numbers already drawn at the same spot.
        near = sum(abs(x - x0) < 2 and abs(acc - a0) < 1.5 for x0, a0 in by_name.values())
        by_name[r["name"]] = (x, acc)
        color = colors.get(r.get("pathways"), "0.4")
        ours.scatter(x, acc, s=60, color=color, zorder=3, label=f"{i}  {r['name']}")
        ours.annotate(str(i), (x, acc), xytext=(5, 2 - 9 * near), textcoords="offset points",
                      fontsize=8)  # fmt: skip
    if rows:
        ours.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    slow = [r for r in rows if r.get("pathways") == "slow"]
    best = [r for r in rows if r.get("pathways") == "slowfast"]
    if slow and best:
        default = next((r for r in best if "T-conv (beta 1/4)" in r["name"]), best[0])
        ours.annotate(
            "", by_name[default["name"]], by_name[slow[0]["name"]],
            arrowprops={"arrowstyle": "->", "color": "0.3"},
        )  # fmt: skip
    ours.set_xlabel("multiply-adds per clip (millions)")
    ours.set_ylabel(f"{group or 'overall'} accuracy (%)")
    ours.set_title("MotionShapes (ours, tiny models)")
    ours.grid(alpha=0.3)
    pts = {name: (g, a) for name, g, a in FIGURE2_POINTS}
    for i, (name, (g, a)) in enumerate(pts.items(), 1):
        kind = (
            "slow" if name.startswith("Slow-only") else "fast" if "Fast" in name[:4] else "slowfast"
        )
        # numbered like ours: the names of nearby points (4x16 vs 8x8) would overlap
        paper.scatter(g, a, s=60, color=colors[kind], zorder=3,
                      label=f"{i}  {name}: {g:g} G, {a:g}%")  # fmt: skip
        paper.annotate(str(i), (g, a), xytext=(5, 2), textcoords="offset points", fontsize=8)
    for s, f in (
        ("Slow-only 4x16 R50", "SlowFast 4x16 R50"),
        ("Slow-only 8x8 R50", "SlowFast 8x8 R50"),
    ):
        paper.annotate("", pts[f], pts[s], arrowprops={"arrowstyle": "->", "color": "0.3"})
    red = red_arrow(FIGURE2_POINTS)
    if red:
        (g0, a0), (g1, a1) = pts[red[0]], pts[red[1]]
        paper.annotate("", (g1, a1), (g0, a0),
                       arrowprops={"arrowstyle": "->", "color": "red", "lw": 1.8})  # fmt: skip
        # beside the arrow's tail, right of the crowded 4x16 / 8x8 points
        paper.annotate(
            f"SlowFast {red[1].split()[1]}: more accurate\nand cheaper than {red[0]}", (g0, a0),
            xytext=(10, -24), textcoords="offset points", ha="left", fontsize=8, color="red",
        )  # fmt: skip
    paper.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    paper.set_xlabel("GFLOPs per view (multiply-adds x 1e9)")
    paper.set_ylabel("Kinetics-400 top-1 (%)")
    paper.set_title("Paper (Kinetics-400, for contrast)")
    paper.grid(alpha=0.3)
    return fig
