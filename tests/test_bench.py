"""The benchmark, per-stage timing and cost growth: arithmetic on values, report structure, and
real (tiny) runs on the CPU; the same code on CUDA in the `gpu` tests."""

from __future__ import annotations

import json

import pytest
import torch

from slowfast_lab import bench, complexity, timing
from slowfast_lab.__main__ import main as cli_main
from slowfast_lab.lessons import l07_real_model as L07
from slowfast_lab.model import dummy_inputs

TINY = dict(preset="slowfast_tiny", crop=32)


# ------------------------------------------------------------------------------------------------
# Arithmetic
# ------------------------------------------------------------------------------------------------


def test_matmul_macs_counts_n_cubed():
    assert bench.matmul_macs(2) == 8
    assert bench.matmul_macs(2048) == 2048**3
    assert bench.matmul_macs(4, 5, 6) == 120


def test_mac_rate_and_fraction_of_peak():
    # 65.7 G per clip at 100 clips/s is 6.57 T MAC/s; training counts 3 passes
    assert bench.mac_rate(65_700_000_000, 100.0) == pytest.approx(6.57e12)
    assert bench.mac_rate(10, 2.0, passes=3) == 60.0
    assert bench.peak_fraction(6.57e12, 1e15) == pytest.approx(0.00657)
    assert bench.peak_fraction(1.0, 0.0) == 0.0
    assert bench.clips_per_second(8, 0.5) == 16.0


def test_format_rate_units():
    assert bench.format_rate(1.234e12) == "1.23 T"
    assert bench.format_rate(4.5e10) == "45 G"
    assert bench.format_rate(2.0e6) == "2 M"


def test_result_row_from_times():
    s = bench.Setting("slowfast_8x8_r50", batch=4, crop=224, mode="infer")
    macs = complexity("slowfast_8x8_r50", crop_size=224).macs
    row = bench.result_row(s, [0.5, 0.4, 0.6], macs, peak=1e12)
    assert row["seconds_per_step"] == 0.5  # the median
    assert row["clips_per_s"] == 8.0
    assert row["achieved_macs_per_s"] == pytest.approx(8 * macs)
    assert row["peak_fraction"] == pytest.approx(8 * macs / 1e12)
    train = bench.result_row(bench.Setting(batch=4, mode="train"), [1.0], macs, peak=1e12)
    assert train["achieved_macs_per_s"] == pytest.approx(3 * 4 * macs)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="precision"):
        bench.Setting(precision="fp16")
    with pytest.raises(ValueError, match="batch"):
        bench.Setting(batch=0)
    with pytest.raises(ValueError, match="unknown preset"):
        bench.Setting(preset="slowfast_9x9")
    assert bench.Setting(precision="bf16", channels_last=True, compiled=True).label == (
        "bf16+CL+compile"
    )


def test_grid_is_the_product_and_pytorchvideo_only_where_it_applies():
    g = bench.grid(
        ["slowfast_8x8_r50", "slowfast_tiny"],
        [1, 8],
        modes=["infer", "train"],
        precisions=["fp32", "bf16"],
        channels_last=[False, True],
        impls=["ours", "pytorchvideo"],
    )
    ours = [s for s in g if s.impl == "ours"]
    ptv = [s for s in g if s.impl == "pytorchvideo"]
    assert len(ours) == 2 * 2 * 2 * 2 * 2
    assert ptv and all(s.preset == "slowfast_8x8_r50" and s.mode == "infer" for s in ptv)
    assert len(ptv) == 2 * 2 * 2
    assert len(set(g)) == len(g)


def _report(rows):
    return {
        "environment": bench.environment("cpu"),
        "peaks": {"fp32": 1e11, "bf16": 4e11},
        "results": rows,
    }


def test_table_and_json_structure(tmp_path):
    s = bench.Setting("slowfast_8x8_r50", batch=2)
    good = bench.result_row(s, [0.25], 10**9, 1e11)
    bad = {**bench.dataclasses.asdict(bench.Setting(batch=64)), "error": "RuntimeError: OOM"}
    report = _report([good, bad])
    rows = bench.table_rows(report)
    assert [set(r) for r in rows] == [set(bench.COLUMNS)] * 2
    assert rows[0]["clips/s"] == "8" and rows[0]["of peak"] == "8.0%"
    assert "OOM" in rows[1]["of peak"]
    text = bench.format_table(report)
    assert "measured dense matmul peak" in text and "fp32 100 GMAC/s" in text
    assert text.count("\n") == 1 + 2 + 2  # device line, peak line, header, rule, 2 rows
    path = bench.write_json(report, tmp_path / "out" / "bench.json")
    back = json.loads(path.read_text())
    assert back["results"][0]["clips_per_s"] == 8.0 and back["peaks"]["bf16"] == 4e11
    assert bench.best(back)["batch"] == 2


# ------------------------------------------------------------------------------------------------
# Real runs, tiny
# ------------------------------------------------------------------------------------------------


def test_matmul_peak_is_positive_and_plausible():
    peak = bench.matmul_peak("cpu", "fp32", n=256, repeats=2)
    assert 1e7 < peak < 1e14


def test_run_tiny_grid_on_cpu():
    settings = bench.grid(
        ["slowfast_tiny"],
        [2],
        crop=32,
        modes=["infer", "train"],
        precisions=["fp32", "bf16"],
        channels_last=[True],
    )
    report = bench.run(settings, warmup=1, iters=1, repeats=2, matmul_n=256, progress=False)
    assert set(report["peaks"]) == {"fp32", "bf16"}
    assert len(report["results"]) == 4
    for r in report["results"]:
        assert "error" not in r, r.get("error")
        assert r["clips_per_s"] > 0 and len(r["step_times"]) == 2
        assert 0 < r["peak_fraction"]
    assert report["environment"]["threads"] >= 1
    fig = L07.throughput_figure(report["results"], report["peaks"])
    assert fig.axes


def test_bench_command_writes_json(tmp_path, capsys):
    out = tmp_path / "b.json"
    argv = [
        "bench",
        "--presets",
        "slowfast_tiny",
        "--crop",
        "32",
        "--mode",
        "infer",
        "--precision",
        "fp32",
        "--repeats",
        "1",
        "--matmul-n",
        "128",
        "--json",
        str(out),
    ]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    assert "slowfast_tiny" in printed and "of peak" in printed
    report = json.loads(out.read_text())
    assert report["results"][0]["preset"] == "slowfast_tiny"
    assert report["results"][0]["device"] in ("cpu", "cuda")


def test_cpu_defaults_are_small():
    import argparse

    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    settings = bench.settings_from_args(p.parse_args(["--device", "cpu"]))
    assert len(settings) <= 4 and all(s.crop <= 112 and s.batch == 1 for s in settings)
    full = bench.settings_from_args(p.parse_args(["--device", "cpu", "--full"]))
    assert len(full) > len(settings) and any(s.compiled for s in full)


def test_pytorchvideo_builds_the_same_architecture():
    pytest.importorskip("pytorchvideo")
    from slowfast_lab import build_model

    ptv = bench.build_pytorchvideo("slowfast_8x8_r50", crop=224)
    ours = build_model("slowfast_8x8_r50")
    assert sum(p.numel() for p in ptv.parameters()) == sum(p.numel() for p in ours.parameters())
    with pytest.raises(ValueError, match="R50"):
        bench.build_pytorchvideo("slowfast_tiny")


# ------------------------------------------------------------------------------------------------
# Per-stage timing
# ------------------------------------------------------------------------------------------------


def test_stage_timing_counts_what_complexity_predicts():
    result = timing.profile_stages("slowfast_tiny", crop=64, batch=2, repeats=2, progress=False)
    names = [r["module"] for r in result["stages"]]
    assert names[:5] == ["slow.stem", "slow.res2", "slow.res3", "slow.res4", "slow.res5"]
    assert "lateral.fuse4" in names and names[-1] == "head"
    assert sum(r["time share"] for r in result["stages"]) == pytest.approx(1.0)
    assert sum(r["MAC share"] for r in result["stages"]) == pytest.approx(1.0)
    for part in result["parts"]:  # counted on the real forward == complexity's analytic count
        assert part["GMACs (counted)"] == pytest.approx(part["GMACs (complexity)"])
    timed = sum(r["ms"] for r in result["stages"])
    assert timed <= result["total_ms"] * 1.5
    fig = L07.stage_time_figure(result["stages"], result["parts"])
    assert len(fig.axes) == 2


def test_stage_timing_of_a_slow_only_model_has_no_fast_or_laterals():
    result = timing.profile_stages("slow_tiny", crop=32, repeats=1, progress=False)
    assert {r["part"] for r in result["stages"]} == {"slow", "head"}


# ------------------------------------------------------------------------------------------------
# Cost growth
# ------------------------------------------------------------------------------------------------


def test_growth_points_vary_one_axis_at_a_time():
    pts = timing.growth_points({"T": 4, "crop": 64, "batch": 1}, {"T": [2, 4], "batch": [1, 2, 4]})
    assert len(pts) == 5
    assert pts[0] == {"axis": "T", "T": 2, "crop": 64, "batch": 1}
    assert pts[-1] == {"axis": "batch", "T": 4, "crop": 64, "batch": 4}
    with pytest.raises(ValueError, match="axis"):
        timing.growth_points({"T": 4, "crop": 64, "batch": 1}, {"alpha": [2]})


def test_predictions_scale_the_first_point_by_multiply_adds():
    rows = [
        {"axis": "T", "macs": 10, "ms": 5.0, "MB": 2.0},
        {"axis": "T", "macs": 30, "ms": 12.0, "MB": 7.0},
        {"axis": "batch", "macs": 20, "ms": 8.0, "MB": 1.0},
    ]
    out = timing.add_predictions(rows)
    assert out[1]["predicted ms"] == 15.0 and out[1]["predicted MB"] == 6.0
    assert out[2]["predicted ms"] == 8.0  # each axis starts from its own first point


def test_live_bytes_tracks_peak_and_frees():
    with torch.inference_mode(), timing.LiveBytes() as live:
        a = torch.ones(1000)  # 4000 bytes
        b = a * 2  # 4000 more
        del a, b
        c = torch.ones(500)  # 2000, after the others were freed
    assert live.peak == 8000
    assert live.live == 2000
    del c


def test_cost_growth_on_a_tiny_model():
    rows = timing.cost_growth(
        "slowfast_tiny",
        axes={"T": [2, 4], "crop": [32, 64], "batch": [1, 2]},
        base={"T": 4, "crop": 64, "batch": 1},
        repeats=1,
        progress=False,
    )
    assert len(rows) == 6
    by = {(r["axis"], r[r["axis"]]): r for r in rows}
    # twice the frames, twice the conv work (the classifier's small cost does not grow with T)
    assert by[("T", 4)]["macs"] == pytest.approx(2 * by[("T", 2)]["macs"], rel=1e-3)
    assert by[("batch", 2)]["macs"] == 2 * by[("batch", 1)]["macs"]
    assert by[("crop", 64)]["macs"] == complexity("slowfast_tiny", crop_size=64).macs
    for r in rows:
        assert 0 < r["ms min"] <= r["ms"] <= r["ms max"] and r["MB"] > 0
        assert r["rounds"] == 1 and r["load"]["before"]["cpu_count"] >= 1
    # the base point (T 4, crop 64, batch 1) is timed once and shared by the axes it lies on
    assert by[("T", 4)]["ms"] == by[("crop", 64)]["ms"] == by[("batch", 1)]["ms"]
    # activation memory grows with the work: twice the clips, about twice the bytes
    assert by[("batch", 2)]["MB"] == pytest.approx(2 * by[("batch", 1)]["MB"], rel=0.2)
    assert by[("crop", 64)]["MB"] > 2 * by[("crop", 32)]["MB"]
    fig = L07.cost_growth_figure(rows)
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match="repeats"):
        timing.cost_growth("slowfast_tiny", axes={"T": [2]}, repeats=0, progress=False)


# ------------------------------------------------------------------------------------------------
# The same code on CUDA
# ------------------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_gpu_matmul_peak_and_bench_rows():
    peak = bench.matmul_peak("cuda", "bf16", n=4096, repeats=2)
    assert peak > 1e12  # any recent GPU does over a tera-MAC/s in bf16
    settings = bench.grid(
        ["slowfast_tiny"],
        [4],
        crop=64,
        modes=["infer", "train"],
        precisions=["fp32", "bf16"],
        channels_last=[False, True],
        device="cuda",
    )
    report = bench.run(settings, warmup=2, iters=3, repeats=2, matmul_n=2048, progress=False)
    assert all("error" not in r for r in report["results"]), report["results"]
    assert report["environment"]["device_name"] == torch.cuda.get_device_name()


@pytest.mark.gpu
def test_gpu_compiled_inference_runs():
    settings = bench.grid(["slowfast_tiny"], [2], crop=64, compiled=[True], device="cuda")
    report = bench.run(settings, warmup=1, iters=2, repeats=1, matmul_n=1024, progress=False)
    row = report["results"][0]
    assert "error" not in row, row.get("error")
    assert row["compile_s"] > 0


@pytest.mark.gpu
def test_gpu_stage_timing_and_memory():
    result = timing.profile_stages(
        "slowfast_tiny", crop=64, batch=2, device="cuda", repeats=2, progress=False
    )
    for part in result["parts"]:
        assert part["GMACs (counted)"] == pytest.approx(part["GMACs (complexity)"])
    rows = timing.cost_growth(
        "slowfast_tiny",
        axes={"batch": [1, 4]},
        base={"T": 4, "crop": 64, "batch": 1},
        device="cuda",
        repeats=1,
        progress=False,
    )
    assert rows[1]["MB"] > rows[0]["MB"] > 0


def test_growth_plans_grow_from_their_base():
    for device, fast in (("cpu", True), ("cpu", False), ("cuda", False)):
        base, axes = timing.growth_plan(device, fast)
        assert set(axes) == {"T", "crop", "batch"}
        for axis, values in axes.items():
            assert values == sorted(values) and base[axis] in values


def test_fold_bn_only_for_our_inference():
    g = bench.grid(
        ["slowfast_8x8_r50"],
        [1],
        modes=["infer", "train"],
        impls=["ours", "pytorchvideo"],
        fold_bn=[False, True],
    )
    folded = [s for s in g if s.fold_bn]
    assert folded and all(s.mode == "infer" and s.impl == "ours" for s in folded)
    assert len(g) == 2 + 1 + 1  # ours infer x2, ours train, pytorchvideo infer
    with pytest.raises(ValueError, match="fold_bn"):
        bench.Setting(mode="train", fold_bn=True)
    assert bench.Setting(fold_bn=True).label == "fp32+foldBN"


def test_folded_bn_model_gives_the_same_logits():
    s = bench.Setting("slowfast_tiny", crop=32, fold_bn=True)
    torch.manual_seed(0)
    folded = bench.build(s)
    torch.manual_seed(0)
    plain = bench.build(bench.Setting("slowfast_tiny", crop=32)).eval()
    x = dummy_inputs("slowfast_tiny", 32, 2, seed=0)
    with torch.no_grad():
        assert torch.allclose(folded(*x), plain(*x), atol=1e-4)
