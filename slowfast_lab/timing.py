"""Where the time goes, and how cost grows: measured on this device, set against `complexity`.

`stage_times` times every stage of every pathway (stem, res2..res5 of Slow and Fast, the four
laterals, the head) during real forward passes, with forward hooks that read the clock before and
after each module (synchronising CUDA so the clock sees the GPU's work). The same pass counts each
stage's multiply-adds from its conv / fc output shapes, so time share and compute share can be
compared stage by stage: a stage whose time share exceeds its compute share runs below the
network's average MAC/s (thin convs, memory-bound work, poor kernels).

`cost_growth` measures forward time and peak memory while T, the crop size or the batch grows,
beside `complexity`'s prediction (multiply-adds, scaled from the smallest point).
"""

from __future__ import annotations

import statistics
import time
import weakref
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from tqdm.auto import tqdm

from .complexity import complexity
from .config import get_config
from .model import STAGES, build_model, dummy_inputs
from .train import machine_load

LATERALS = ("fuse1", "fuse2", "fuse3", "fuse4")


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously): call before reading a clock."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], object],
    device: torch.device | str = "cpu",
    warmup: int = 1,
    iters: int = 3,
    repeats: int = 3,
) -> list[float]:
    """Seconds per call: `repeats` measurements, each the mean over `iters` calls, after `warmup`
    calls. Take the median of the list (the machine may be shared)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        synchronize(device)
        times.append((time.perf_counter() - start) / iters)
    return times


def forward_ms(
    model: nn.Module, inputs: Sequence[torch.Tensor], repeats: int = 3, warmup: int = 1
) -> float:
    """Median milliseconds of one inference forward of `model(*inputs)` on the inputs' device."""

    def forward() -> torch.Tensor:
        with torch.inference_mode():
            return model(*inputs)

    device = inputs[0].device
    return 1e3 * statistics.median(time_call(forward, device, warmup, iters=1, repeats=repeats))


def timed_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The modules timed one by one, named 'slow.stem', 'slow.res2', .., 'fast.res5', 'lateral.fuse1',
    .., 'head'. They run one after another in the forward, so their times add up to (almost) all."""
    out = {}
    for pathway in ("slow", "fast"):
        p = getattr(model, pathway, None)
        if p is None:
            continue
        for stage in STAGES:
            out[f"{pathway}.{stage}"] = getattr(p, stage)
    for name in LATERALS:
        if hasattr(model, name):
            out[f"lateral.{name}"] = getattr(model, name)
    out["head"] = model.head
    return out


def _conv_macs(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-adds of a Conv3d / Linear from its output (as complexity counts them)."""
    if isinstance(module, nn.Conv3d):
        k = module.kernel_size[0] * module.kernel_size[1] * module.kernel_size[2]
        return output.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def stage_times(
    model: nn.Module,
    inputs: Sequence[torch.Tensor],
    repeats: int = 3,
    warmup: int = 1,
    progress: bool = False,
) -> dict:
    """Median seconds per timed module over `repeats` forwards, and its multiply-adds.

    Returns {"seconds": {name: s}, "macs": {name: macs}, "total_s": median whole forward}.
    The model runs in eval + inference mode on the inputs' device.
    """
    device = inputs[0].device
    modules = timed_modules(model)
    starts: dict[str, float] = {}
    samples: dict[str, list[float]] = {name: [] for name in modules}
    macs: dict[str, int] = dict.fromkeys(modules, 0)
    owner = {}
    for name, module in modules.items():
        for leaf in module.modules():
            if isinstance(leaf, (nn.Conv3d, nn.Linear)):
                owner[leaf] = name
    counting = {"on": False}
    handles = []

    def pre(name):
        def hook(_m, _i):
            synchronize(device)
            starts[name] = time.perf_counter()

        return hook

    def post(name):
        def hook(_m, _i, _o):
            synchronize(device)
            samples[name].append(time.perf_counter() - starts[name])

        return hook

    def count(leaf):
        def hook(_m, _i, out):
            if counting["on"]:
                macs[owner[leaf]] += _conv_macs(leaf, out) // out.shape[0]

        return hook

    for name, module in modules.items():
        handles.append(module.register_forward_pre_hook(pre(name)))
        handles.append(module.register_forward_hook(post(name)))
    for leaf in owner:
        handles.append(leaf.register_forward_hook(count(leaf)))
    model.eval()
    totals = []
    try:
        with torch.inference_mode():
            counting["on"] = True
            for _ in range(max(1, warmup)):
                model(*inputs)
                counting["on"] = False
            for s in samples.values():
                s.clear()
            for _ in tqdm(range(repeats), desc="timing stages", disable=not progress):
                synchronize(device)
                start = time.perf_counter()
                model(*inputs)
                synchronize(device)
                totals.append(time.perf_counter() - start)
    finally:
        for h in handles:
            h.remove()
    return {
        "seconds": {name: statistics.median(s) for name, s in samples.items()},
        "macs": macs,
        "total_s": statistics.median(totals),
        "batch": inputs[0].shape[0],
    }


def part_of_timed(name: str) -> str:
    """'slow.res3' -> 'slow', 'lateral.fuse2' -> 'lateral', 'head' -> 'head'."""
    return name.split(".")[0]


def stage_rows(timing: dict) -> list[dict]:
    """One row per timed module: ms, share of the timed total, share of the multiply-adds, and the
    achieved GMAC/s (multiply-adds of the batch over its time)."""
    seconds, macs = timing["seconds"], timing["macs"]
    t_total = sum(seconds.values()) or 1.0
    m_total = sum(macs.values()) or 1
    batch = timing.get("batch", 1)
    rows = []
    for name, s in seconds.items():
        rows.append(
            {
                "module": name,
                "part": part_of_timed(name),
                "ms": 1e3 * s,
                "time share": s / t_total,
                "MAC share": macs[name] / m_total,
                "GMACs": macs[name] / 1e9,
                "GMAC/s": macs[name] * batch / s / 1e9 if s > 0 else 0.0,
            }
        )
    return rows


def part_rows(timing: dict, predicted: dict[str, int]) -> list[dict]:
    """Per part (slow, fast, lateral, head): measured time share beside `complexity`'s share of the
    multiply-adds (`predicted` = Complexity.by_part), and the counted multiply-adds to check it."""
    seconds, macs = timing["seconds"], timing["macs"]
    t_total = sum(seconds.values()) or 1.0
    p_total = sum(predicted.values()) or 1
    rows = []
    for part, p_macs in predicted.items():
        s = sum(v for k, v in seconds.items() if part_of_timed(k) == part)
        counted = sum(v for k, v in macs.items() if part_of_timed(k) == part)
        rows.append(
            {
                "part": part,
                "ms": 1e3 * s,
                "time share": s / t_total,
                "MAC share (complexity)": p_macs / p_total,
                "GMACs (complexity)": p_macs / 1e9,
                "GMACs (counted)": counted / 1e9,
            }
        )
    return rows


def profile_stages(
    preset: str = "slowfast_8x8_r50",
    crop: int = 224,
    batch: int = 1,
    device: torch.device | str | None = None,
    repeats: int = 3,
    model: nn.Module | None = None,
    progress: bool = True,
    **overrides,
) -> dict:
    """Build (or take) a model, time its stages on random clips, and add complexity's per-part
    prediction: {"stages": stage_rows, "parts": part_rows, "total_ms": .., "device": ..}."""
    device = torch.device(device or default_device())
    cfg = get_config(preset, **overrides)
    if model is None:
        model = build_model(cfg)
    model = model.to(device)
    inputs = dummy_inputs(cfg, crop, batch, device=device, seed=0)
    timing = stage_times(model, inputs, repeats=repeats, progress=progress)
    predicted = complexity(cfg, crop_size=crop).by_part
    return {
        "stages": stage_rows(timing),
        "parts": part_rows(timing, predicted),
        "total_ms": 1e3 * timing["total_s"],
        "device": str(device),
        "preset": preset if isinstance(preset, str) else "config",
        "crop": crop,
        "batch": batch,
    }


# ------------------------------------------------------------------------------------------------
# Cost growth
# ------------------------------------------------------------------------------------------------


class LiveBytes(TorchDispatchMode):
    """Counts the bytes of tensors allocated while it is active and still alive, and their peak.

    On the CPU there is no allocator statistic like torch.cuda.max_memory_allocated; this follows
    every op's outputs (each storage once, freed when its last reference goes) instead. Weights and
    inputs made before the pass are not counted: `peak` is the extra memory the pass needs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: dict[int, int] = {}

    def _free(self, key: int, nbytes: int) -> None:
        if self._seen.pop(key, None) is not None:
            self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor) or t.device.type != "cpu":
                continue
            storage = t.untyped_storage()
            key, nbytes = storage.data_ptr(), storage.nbytes()
            if nbytes == 0 or key in self._seen:
                continue
            self._seen[key] = nbytes
            self.live += nbytes
            self.peak = max(self.peak, self.live)
            weakref.finalize(storage, self._free, key, nbytes)
        return out


def peak_memory(model: nn.Module, inputs: Sequence[torch.Tensor]) -> int:
    """Peak bytes allocated during one inference forward beyond what existed before it."""
    device = inputs[0].device
    with torch.inference_mode():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
            model(*inputs)
            torch.cuda.synchronize(device)
            return torch.cuda.max_memory_allocated(device) - before
        with LiveBytes() as live:
            model(*inputs)
        return live.peak


def growth_points(base: dict, axes: dict[str, Sequence[int]]) -> list[dict]:
    """Every point of the sweep: vary one axis at a time from `base` ({"T", "crop", "batch"})."""
    points = []
    for axis, values in axes.items():
        if axis not in ("T", "crop", "batch"):
            raise ValueError(f"axis {axis!r}: use T, crop or batch")
        for v in values:
            points.append({"axis": axis, **base, axis: int(v)})
    return points


def add_predictions(rows: list[dict]) -> list[dict]:
    """Per axis, scale the smallest point's time and memory by complexity's multiply-adds:
    predicted = measured(first) x macs / macs(first). Adds "predicted ms" and "predicted MB"."""
    out = []
    firsts: dict[str, dict] = {}
    for r in rows:
        first = firsts.setdefault(r["axis"], r)
        ratio = r["macs"] / first["macs"]
        out.append({**r, "predicted ms": first["ms"] * ratio, "predicted MB": first["MB"] * ratio})
    return out


def cost_growth(
    preset: str = "slowfast_8x8_r50",
    axes: dict[str, Sequence[int]] | None = None,
    base: dict | None = None,
    device: torch.device | str | None = None,
    repeats: int = 3,
    progress: bool = True,
    **overrides,
) -> list[dict]:
    """Measured forward time and peak memory per point, beside complexity.

    Every distinct input size (the base point is shared by the axes) gets one warm-up forward,
    then `repeats` rounds time each size once in turn: a burst of load from another process then
    slows one round of every size, not every repeat of one size, and the median over the rounds
    drops it. (Timing all repeats of one size before the next, a busy spell lands on one size and
    time can seem to fall as the work grows.)

    Each row: axis, T, crop, batch, macs (complexity x batch), ms (median over the rounds),
    ms min, ms max, MB, predicted ms, predicted MB, rounds (= repeats) and load (`machine_load`
    before and after the timing).
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats}: time at least one round")
    device = torch.device(device or default_device())
    cfg = get_config(preset, **overrides)
    base = base or {"T": cfg.T, "crop": 112, "batch": 1}
    axes = axes or {"T": [2, 4, 8], "crop": [64, 112, 160], "batch": [1, 2, 4]}
    model = build_model(cfg).to(device).eval()
    points = growth_points(base, axes)
    sizes = list(dict.fromkeys((p["T"], p["crop"], p["batch"]) for p in points))
    inputs = {s: dummy_inputs(cfg, s[1], s[2], T=s[0], device=device, seed=0) for s in sizes}

    def forward(size: tuple[int, int, int]) -> None:
        with torch.inference_mode():
            model(*inputs[size])

    load_before = machine_load()
    times: dict[tuple[int, int, int], list[float]] = {s: [] for s in sizes}
    bar = tqdm(total=len(sizes) * (1 + repeats), desc="cost growth", disable=not progress)
    for _ in range(1 + repeats):  # round 0 is the warm-up, not recorded
        for s in sizes:
            times[s].append(1e3 * time_call(lambda s=s: forward(s), device, 0, 1, 1)[0])
            bar.update()
    bar.close()
    load = {"before": load_before, "after": machine_load()}
    rows = []
    for point in points:
        s = (point["T"], point["crop"], point["batch"])
        ms = times[s][1:]
        rows.append(
            {
                **point,
                "macs": complexity(cfg, crop_size=s[1], T=s[0]).macs * s[2],
                "ms": statistics.median(ms),
                "ms min": min(ms),
                "ms max": max(ms),
                "MB": peak_memory(model, inputs[s]) / 2**20,
                "rounds": repeats,
                "load": load,
            }
        )
    return add_predictions(rows)


def growth_plan(device: torch.device | str, fast: bool) -> tuple[dict, dict[str, list[int]]]:
    """(base point, axes) of a cost-growth sweep for the R50 presets that fits the device:
    tiny in fast mode, CPU-sized around 112^2, GPU-sized around 224^2."""
    if fast:
        return {"T": 1, "crop": 32, "batch": 1}, {
            "T": [1, 2, 4],
            "crop": [32, 48, 64],
            "batch": [1, 2, 4],
        }
    if torch.device(device).type == "cuda":
        return {"T": 8, "crop": 224, "batch": 8}, {
            "T": [4, 8, 16, 32],
            "crop": [160, 224, 288, 352],
            "batch": [1, 8, 32, 64],
        }
    return {"T": 8, "crop": 112, "batch": 1}, {
        "T": [2, 4, 8, 16],
        "crop": [64, 112, 160, 224],
        "batch": [1, 2, 4],
    }
