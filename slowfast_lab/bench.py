"""How fast the full model runs: `python -m slowfast_lab bench ...`.

Measures, per setting, inference clips/s and training step time of the R50 presets across batch
sizes, fp32 vs bf16 autocast, channels_last_3d on/off and torch.compile on/off, on the CPU and on
CUDA when present (same code path). Each row also gives the achieved multiply-adds per second
(`complexity`'s count of one view x clips/s) against the device's *measured* dense matrix
throughput (a timed large matmul in the same precision), so the distance from the hardware limit
is visible:

    achieved MAC/s = macs_per_clip x passes x clips/s         (passes: 1 inference, 3 training)
    of peak        = achieved MAC/s / matmul MAC/s            (an n x n x n matmul is n^3 MACs)

A training step counts 3 passes (forward, and a backward about twice the forward's work).
Optionally PyTorchVideo's `create_slowfast` runs in the same table (`--pytorchvideo`), built to
the same architecture, as a yardstick for our forward.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import platform
import statistics
import sys
import time
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .complexity import complexity
from .config import get_config
from .inference import fold_batchnorm
from .model import build_model, dummy_inputs
from .timing import synchronize, time_call

PRECISIONS = ("fp32", "bf16")
MODES = ("infer", "train")
IMPLS = ("ours", "pytorchvideo")
TRAIN_PASSES = 3  # forward + backward (about 2x the forward's multiply-adds)


# ------------------------------------------------------------------------------------------------
# Arithmetic (pure functions, tested on values)
# ------------------------------------------------------------------------------------------------


def matmul_macs(n: int, m: int | None = None, k: int | None = None) -> int:
    """Multiply-adds of an [n, k] @ [k, m] matmul: n*m*k (n^3 for square)."""
    m = n if m is None else m
    k = n if k is None else k
    return n * m * k


def mac_rate(macs_per_clip: int, clips_per_second: float, passes: int = 1) -> float:
    """Achieved multiply-adds per second: macs_per_clip x passes x clips/s."""
    return float(macs_per_clip) * passes * clips_per_second


def peak_fraction(achieved: float, peak: float) -> float:
    """Achieved MAC/s over the measured matmul MAC/s (0 when the peak is unknown)."""
    return achieved / peak if peak > 0 else 0.0


def clips_per_second(batch: int, seconds_per_step: float) -> float:
    return batch / seconds_per_step if seconds_per_step > 0 else float("inf")


def format_rate(macs_per_second: float) -> str:
    """1.23e12 -> '1.23 T', 4.5e10 -> '45.0 G' (multiply-adds per second)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6)):
        if macs_per_second >= scale:
            return f"{macs_per_second / scale:.3g} {unit}"
    return f"{macs_per_second:.3g} "


# ------------------------------------------------------------------------------------------------
# Timing (the timer itself is timing.time_call)
# ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _tf32(enabled: bool) -> Iterable[None]:
    """On CUDA, fp32 convs use TF32 by default (cudnn.allow_tf32): time the matmul the same way."""
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


def default_matmul_size(device: torch.device | str) -> int:
    return 8192 if torch.device(device).type == "cuda" else 2048


def matmul_peak(
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    n: int | None = None,
    repeats: int = 3,
) -> float:
    """The device's measured dense matmul throughput in multiply-adds per second: the median of
    `repeats` timings of an n x n x n matmul in `precision` (fp32 with TF32 where convs use it)."""
    device = torch.device(device)
    n = n or default_matmul_size(device)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device, dtype)
    b = torch.randn(n, n, generator=g).to(device, dtype)
    iters = 10 if device.type == "cuda" else 2
    with torch.inference_mode(), _tf32(torch.backends.cudnn.allow_tf32):
        seconds = statistics.median(
            time_call(lambda: a @ b, device, warmup=1, iters=iters, repeats=repeats)
        )
    return matmul_macs(n) / seconds


# ------------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One row of the benchmark: what runs, how, where."""

    preset: str = "slowfast_8x8_r50"
    batch: int = 1
    crop: int = 224
    mode: str = "infer"  # "infer": forward in inference mode; "train": forward+backward+SGD step
    precision: str = "fp32"  # "bf16": torch.autocast(bfloat16)
    channels_last: bool = False  # torch.channels_last_3d for model and inputs
    compiled: bool = False  # torch.compile
    fold_bn: bool = False  # BatchNorm folded into the convs (our model's inference only)
    impl: str = "ours"  # or "pytorchvideo" (create_slowfast / create_resnet, same architecture)
    device: str = "cpu"

    def __post_init__(self) -> None:
        checks = {"mode": MODES, "precision": PRECISIONS, "impl": IMPLS}
        for name, allowed in checks.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}; use one of {allowed}")
        if self.batch < 1:
            raise ValueError(f"batch={self.batch}; use 1 or more")
        if self.fold_bn and (self.mode != "infer" or self.impl != "ours"):
            raise ValueError("fold_bn applies to our model's inference only")
        get_config(self.preset)  # a clear error for an unknown preset

    @property
    def label(self) -> str:
        bits = [
            self.precision,
            "CL" if self.channels_last else "",
            "foldBN" if self.fold_bn else "",
            "compile" if self.compiled else "",
        ]
        return "+".join(b for b in bits if b)


def grid(
    presets: Sequence[str] = ("slowfast_8x8_r50",),
    batches: Sequence[int] = (1,),
    crop: int = 224,
    modes: Sequence[str] = ("infer",),
    precisions: Sequence[str] = ("fp32",),
    channels_last: Sequence[bool] = (False,),
    compiled: Sequence[bool] = (False,),
    impls: Sequence[str] = ("ours",),
    device: str = "cpu",
    fold_bn: Sequence[bool] = (False,),
) -> list[Setting]:
    """Every combination, in a stable order (preset, impl, mode, batch, precision, layout, compile).
    PyTorchVideo rows exist only for inference of presets it can build."""
    out: list[Setting] = []
    for preset, impl, mode, batch, prec, cl, fold, comp in itertools.product(
        presets, impls, modes, batches, precisions, channels_last, fold_bn, compiled
    ):
        if impl == "pytorchvideo" and (mode != "infer" or not ptv_supports(preset)):
            continue
        fold = fold and mode == "infer" and impl == "ours"  # BN folding: our inference only
        setting = Setting(preset, batch, crop, mode, prec, cl, comp, fold, impl, device)
        if setting not in out:
            out.append(setting)
    return out


def ptv_supports(preset: str) -> bool:
    cfg = get_config(preset)
    return (
        cfg.depth == 50
        and cfg.width == 64
        and cfg.stage_blocks is None
        and cfg.temporal_blocks is None
        and cfg.fusion == "t_conv"
        and cfg.pathways in ("slowfast", "slow")
    )


# ------------------------------------------------------------------------------------------------
# Building what runs
# ------------------------------------------------------------------------------------------------


def import_pytorchvideo() -> types.ModuleType:
    """pytorchvideo.models, importable without torchvision: PyTorchVideo imports
    torchvision.ops.RoIAlign at import time (detection heads only), so a stand-in is registered
    when no torchvision is installed."""
    if "torchvision" not in sys.modules:
        try:
            import torchvision  # noqa: F401
        except ImportError:
            tv, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")

            class RoIAlign(nn.Module):  # never built here
                pass

            ops.RoIAlign = RoIAlign
            tv.ops = ops
            sys.modules["torchvision"], sys.modules["torchvision.ops"] = tv, ops
    import pytorchvideo.models.resnet
    import pytorchvideo.models.slowfast

    return pytorchvideo.models


class _ListInput(nn.Module):
    """PyTorchVideo's SlowFast takes a fresh list [slow, fast] (it rewrites the list in place)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.net(list(inputs))


def build_pytorchvideo(preset: str, crop: int = 224, T: int | None = None) -> nn.Module:
    """PyTorchVideo's network with the same architecture as `preset` (head pools fit crop and T)."""
    if not ptv_supports(preset):
        raise ValueError(f"PyTorchVideo comparison supports the R50 presets, not {preset!r}")
    cfg = get_config(preset)
    models = import_pytorchvideo()
    T = cfg.T if T is None else T
    s = crop // 32
    if cfg.pathways == "slowfast":
        net = models.slowfast.create_slowfast(
            slowfast_channel_reduction_ratio=(cfg.beta_inv,),
            slowfast_conv_channel_fusion_ratio=cfg.fusion_ratio,
            slowfast_fusion_conv_kernel_size=(cfg.fusion_kernel, 1, 1),
            slowfast_fusion_conv_stride=(cfg.alpha, 1, 1),
            head_pool_kernel_sizes=((T, s, s), (cfg.alpha * T, s, s)),
            model_num_class=cfg.num_classes,
        )
        return _ListInput(net)
    return models.resnet.create_resnet(
        stem_conv_kernel_size=(1, 7, 7),
        head_pool_kernel_size=(T, s, s),
        model_depth=50,
        model_num_class=cfg.num_classes,
    )


def build(setting: Setting) -> nn.Module:
    """The network of a setting, on its device, in its memory format (not yet compiled)."""
    if setting.impl == "pytorchvideo":
        model = build_pytorchvideo(setting.preset, setting.crop)
    else:
        model = build_model(setting.preset)
    model = model.to(setting.device)
    if setting.fold_bn:
        fold_batchnorm(model.eval())
    if setting.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    return model


def _autocast(setting: Setting):
    if setting.precision == "bf16":
        return torch.autocast(torch.device(setting.device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def step_function(setting: Setting, model: nn.Module | None = None) -> Callable[[], object]:
    """One call = one measured step: an inference forward of a batch, or a training step
    (forward, cross-entropy, backward, SGD update)."""
    model = build(setting) if model is None else model
    inputs = dummy_inputs(
        setting.preset,
        setting.crop,
        setting.batch,
        device=setting.device,
        seed=0,
        channels_last=setting.channels_last,
    )
    if setting.mode == "infer":
        model.eval()
        run = torch.compile(model) if setting.compiled else model

        def infer() -> torch.Tensor:
            with torch.inference_mode(), _autocast(setting):
                return run(*inputs)

        return infer
    model.train()
    run = torch.compile(model) if setting.compiled else model
    num_classes = get_config(setting.preset).num_classes
    labels = torch.arange(setting.batch, device=setting.device) % num_classes
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def train_step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(setting):
            loss = nn.functional.cross_entropy(run(*inputs), labels)
        loss.backward()
        optimizer.step()
        return loss

    return train_step


# ------------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------------


def measure(
    setting: Setting,
    peaks: dict[str, float],
    warmup: int = 1,
    iters: int = 2,
    repeats: int = 3,
) -> dict:
    """One benchmark row: median seconds per step, clips/s, achieved MAC/s and fraction of peak."""
    macs = complexity(setting.preset, crop_size=setting.crop).macs
    step = step_function(setting)
    warm_start = time.perf_counter()
    if setting.compiled:  # the first call compiles: time it on its own
        step()
        synchronize(setting.device)
    compile_s = time.perf_counter() - warm_start if setting.compiled else 0.0
    times = time_call(step, setting.device, warmup=warmup, iters=iters, repeats=repeats)
    return result_row(setting, times, macs, peaks.get(setting.precision, 0.0), compile_s)


def result_row(
    setting: Setting,
    times: Sequence[float],
    macs_per_clip: int,
    peak: float,
    compile_s: float = 0.0,
) -> dict:
    """A row of the report from measured step times (seconds per step, one per repeat)."""
    seconds = statistics.median(times)
    cps = clips_per_second(setting.batch, seconds)
    passes = TRAIN_PASSES if setting.mode == "train" else 1
    achieved = mac_rate(macs_per_clip, cps, passes)
    return {
        **dataclasses.asdict(setting),
        "seconds_per_step": seconds,
        "step_times": list(times),
        "clips_per_s": cps,
        "gmacs_per_clip": macs_per_clip / 1e9,
        "achieved_macs_per_s": achieved,
        "peak_macs_per_s": peak,
        "peak_fraction": peak_fraction(achieved, peak),
        "compile_s": compile_s,
    }


def environment(device: torch.device | str) -> dict:
    """Where the numbers were taken: device name, threads, torch version, load average."""
    device = torch.device(device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "device": str(device),
        "device_name": name,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average": list(load) if load else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run(
    settings: Sequence[Setting],
    warmup: int = 1,
    iters: int = 2,
    repeats: int = 3,
    matmul_n: int | None = None,
    progress: bool = True,
) -> dict:
    """Measure the matmul peaks of the precisions used, then every setting. Returns the report:
    {"environment": .., "peaks": {precision: MAC/s}, "results": [rows]}."""
    device = settings[0].device if settings else "cpu"
    peaks = {
        p: matmul_peak(device, p, matmul_n, repeats)
        for p in sorted({s.precision for s in settings})
    }
    rows = []
    for setting in tqdm(settings, desc="bench", disable=not progress):
        try:
            rows.append(measure(setting, peaks, warmup, iters, repeats))
        except (RuntimeError, ValueError, ImportError) as err:  # e.g. out of memory, no compiler
            rows.append({**dataclasses.asdict(setting), "error": f"{type(err).__name__}: {err}"})
            if torch.device(setting.device).type == "cuda":
                torch.cuda.empty_cache()
    return {"environment": environment(device), "peaks": peaks, "results": rows}


COLUMNS = ("preset", "impl", "mode", "batch", "setting", "ms/step", "clips/s", "MAC/s", "of peak")


def table_rows(report: dict) -> list[dict]:
    """The report's results as display rows (the columns of `COLUMNS`)."""
    rows = []
    for r in report["results"]:
        base = {
            "preset": r["preset"],
            "impl": r["impl"],
            "mode": r["mode"],
            "batch": r["batch"],
            "setting": Setting(**{f.name: r[f.name] for f in dataclasses.fields(Setting)}).label,
        }
        if "error" in r:
            rows.append(
                {**base, "ms/step": "-", "clips/s": "-", "MAC/s": "-", "of peak": r["error"][:60]}
            )
            continue
        rows.append(
            {
                **base,
                "ms/step": f"{1e3 * r['seconds_per_step']:.1f}",
                "clips/s": f"{r['clips_per_s']:.3g}",
                "MAC/s": format_rate(r["achieved_macs_per_s"]),
                "of peak": f"{r['peak_fraction']:.1%}",
            }
        )
    return rows


def format_table(report: dict) -> str:
    """A plain-text table with a header naming the device and the measured matmul peaks."""
    env = report["environment"]
    load = env.get("load_average")
    lines = [
        f"device: {env['device_name']}  torch {env['torch']}"
        + (f"  load average {load[0]:.2f}" if load else ""),
        "measured dense matmul peak: "
        + ", ".join(f"{p} {format_rate(v)}MAC/s" for p, v in report["peaks"].items()),
    ]
    rows = table_rows(report)
    widths = {c: max([len(c)] + [len(str(r[c])) for r in rows]) for c in COLUMNS}
    lines.append("  ".join(c.ljust(widths[c]) for c in COLUMNS))
    lines.append("  ".join("-" * widths[c] for c in COLUMNS))
    for r in rows:
        lines.append("  ".join(str(r[c]).ljust(widths[c]) for c in COLUMNS))
    return "\n".join(lines)


def best(report: dict, mode: str = "infer", impl: str = "ours") -> dict | None:
    """The row with the most clips/s for a mode and implementation."""
    ok = [
        r for r in report["results"] if "error" not in r and r["mode"] == mode and r["impl"] == impl
    ]
    return max(ok, key=lambda r: r["clips_per_s"], default=None)


def write_json(report: dict, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def _bools(choice: str) -> tuple[bool, ...]:
    return {"off": (False,), "on": (True,), "both": (False, True)}[choice]


def add_arguments(p) -> None:
    """The `bench` subcommand's options (CPU defaults finish in a few minutes on 2 cores)."""
    p.add_argument(
        "--presets",
        nargs="+",
        default=None,
        help="default: slowfast_8x8_r50 slow_8x8_r50 (CPU: slowfast_8x8_r50)",
    )
    p.add_argument(
        "--batch", nargs="+", type=int, default=None, help="default: 1 on CPU; 1 8 32 64 on CUDA"
    )
    p.add_argument("--crop", type=int, default=None, help="default: 224 (CUDA), 112 (CPU)")
    p.add_argument("--mode", nargs="+", choices=MODES, default=None, help="default: infer train")
    p.add_argument(
        "--precision", nargs="+", choices=PRECISIONS, default=None, help="default: fp32 bf16"
    )
    p.add_argument(
        "--channels-last",
        choices=("off", "on", "both"),
        default=None,
        help="default: both on CUDA, off on CPU",
    )
    p.add_argument(
        "--compile",
        choices=("off", "on", "both"),
        default=None,
        help="default: both on CUDA, off on CPU",
    )
    p.add_argument(
        "--fold-bn",
        choices=("off", "on", "both"),
        default=None,
        help="fold BatchNorm into the convs in our inference rows (default: on for CUDA, off on CPU)",
    )
    p.add_argument(
        "--train-batch",
        nargs="+",
        type=int,
        default=None,
        help="batch sizes of the training rows (default: 8 32 on CUDA, as --batch on CPU)",
    )
    p.add_argument(
        "--pytorchvideo", action="store_true", help="also time PyTorchVideo's create_slowfast"
    )
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument(
        "--full", action="store_true", help="the full grid (all of the above at both values)"
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's, one per core)"
    )
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--iters", type=int, default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--matmul-n",
        type=int,
        default=None,
        help="matmul size for the peak (default 2048 CPU, 8192 CUDA)",
    )
    p.add_argument(
        "--json", default="bench.json", help="where to write the report (default bench.json)"
    )


def settings_from_args(args) -> list[Setting]:
    """The grid the command line asks for. CPU defaults are small (a few minutes on 2 cores); CUDA
    defaults cover batch sizes, fp32/bf16 and channels_last for 8x8 R50 at 224^2 (torch.compile:
    `--compile both`, or `--full` for everything)."""
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = torch.device(device).type == "cuda"
    big = cuda or args.full
    presets = args.presets or (
        ["slowfast_8x8_r50", "slow_8x8_r50"] if args.full else ["slowfast_8x8_r50"]
    )
    batches = args.batch or ([1, 16, 64, 128] if cuda else [1, 4] if args.full else [1])
    train_batches = args.train_batch or ([8, 32] if cuda and not args.batch else batches)
    crop = args.crop or (224 if big else 112)
    modes = args.mode or ["infer", "train"]
    precisions = args.precision or ["fp32", "bf16"]
    cl = _bools(args.channels_last or ("both" if big else "off"))
    comp = _bools(args.compile or ("both" if args.full else "off"))
    fold = _bools(args.fold_bn or ("both" if args.full else "on" if cuda else "off"))
    impls = ["ours", "pytorchvideo"] if args.pytorchvideo else ["ours"]
    out = []
    for mode in modes:
        b = batches if mode == "infer" else train_batches
        out += grid(presets, b, crop, [mode], precisions, cl, comp, impls, device, fold)
    return out


def main(args) -> int:
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads {args.threads} must be at least 1")
        torch.set_num_threads(args.threads)
    settings = settings_from_args(args)
    cuda = torch.device(settings[0].device).type == "cuda"
    warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    iters = args.iters if args.iters is not None else (10 if cuda else 1)
    print(f"{len(settings)} settings on {settings[0].device}", file=sys.stderr)
    report = run(settings, warmup, iters, args.repeats, args.matmul_n)
    print(format_table(report))
    if args.json:
        print(f"wrote {write_json(report, args.json)}")
    return 0
