"""Every number this project quotes from the SlowFast paper or a model zoo, once, with its source.

Feichtenhofer, Fan, Malik, He, "SlowFast Networks for Video Recognition", ICCV 2019
(arXiv 1812.03982 v3). Kinetics-400, trained from scratch, top-1 % from 30-view testing
(10 clips x 3 crops); "GFLOPs" are multiply-adds x 1e9 of one 256^2 view. The lessons, the explorer,
the comparison figure and the README read these tables; nothing here is computed by our code.
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER = "paper"
PYSLOWFAST_ZOO = "PySlowFast MODEL_ZOO.md"
PYTORCHVIDEO_ZOO = "PyTorchVideo model zoo"


@dataclass(frozen=True)
class Row:
    """One quoted result: Kinetics-400 top-1 (%) and GFLOPs of one 256^2 view (None: not quoted),
    with where the number is printed ("paper Table 5a", "PySlowFast MODEL_ZOO.md", ...)."""

    top1: float | None
    gflops: float | None
    source: str


# Paper Table 5a (SlowFast 4x16 R50, beta 1/8): the lateral connection types.
TABLE_5A: dict[str, Row] = {
    "none": Row(73.5, 34.2, "paper Table 5a"),
    "ttoc_sum": Row(74.5, 34.2, "paper Table 5a"),
    "ttoc_concat": Row(74.3, 39.8, "paper Table 5a"),
    "t_sample": Row(75.4, 34.9, "paper Table 5a"),
    "t_conv": Row(75.6, 36.1, "paper Table 5a"),
}

# Paper Table 5b (SlowFast 4x16 R50, T-conv): the Fast pathway's channel ratio, keyed by 1/beta.
TABLE_5B: dict[int, Row] = {
    4: Row(75.6, 54.5, "paper Table 5b"),
    6: Row(75.8, 41.8, "paper Table 5b"),
    8: Row(75.6, 36.1, "paper Table 5b"),
    12: Row(75.2, 32.8, "paper Table 5b"),
    16: Row(75.1, 30.6, "paper Table 5b"),
    32: Row(74.2, 28.6, "paper Table 5b"),
}

# Paper Table 5c (SlowFast 4x16 R50): weaker inputs to the Fast pathway (top-1 only).
TABLE_5C: dict[str, Row] = {
    "rgb": Row(75.6, None, "paper Table 5c"),
    "gray": Row(75.5, None, "paper Table 5c"),
    "time difference": Row(74.5, None, "paper Table 5c"),
    "optical flow": Row(73.8, None, "paper Table 5c"),
    "half spatial": Row(74.7, None, "paper Table 5c"),
}

# The Kinetics-400 anchors of the named models (the paper's Figure 2 and Table 2), and the model-zoo
# figures where the paper prints none: the Slow-only 8x8 R50 top-1 is the PySlowFast model zoo's
# (74.8); the 8x8 R101 GFLOPs are the PyTorchVideo model zoo's 127.2 for its 101_101 layout
# (its own hub model counts 125.91 G, as ours does; the paper's 106 G is the 50_50 layout).
MODELS: dict[str, Row] = {
    "Fast-only 4x16 R50": Row(51.7, 6.4, "paper Table 5 (Fast pathway alone)"),
    "Slow-only 4x16 R50": Row(72.6, 27.3, "paper Figure 2"),
    "SlowFast 4x16 R50": Row(75.6, 36.1, "paper Figure 2 / Table 2"),
    "Slow-only 8x8 R50": Row(74.8, 54.5, PYSLOWFAST_ZOO),
    "SlowFast 8x8 R50": Row(77.0, 65.7, "paper Figure 2 / Table 2"),
    "SlowFast 8x8 R101": Row(77.9, 127.2, PYTORCHVIDEO_ZOO),
    "SlowFast 16x8 R101": Row(78.9, 213.0, "paper Figure 2 / Table 2"),
}

# Figure 2's points (accuracy against GFLOPs): the models above, in the figure's order.
FIGURE2_POINTS: tuple[tuple[str, float, float], ...] = tuple(
    (name, row.gflops, row.top1) for name, row in MODELS.items()
)


@dataclass(frozen=True)
class DetectionRow:
    """One quoted AVA result: frame-mAP (%) at IoU 0.5 on AVA `version` (2.1 or 2.2), the
    pretraining, parameters in millions (None: not quoted), and where the numbers are printed."""

    map: float
    version: str
    pretrain: str
    mparams: float | None
    source: str


# AVA action detection (person boxes, 80 actions; 60 evaluated) from the model zoos. The paper's
# own AVA tables (Table 7 onwards) are not quoted: no copy of them was at hand to check against,
# so none of their numbers is typed here. The 8x8 R50 row is the model `slowfast_8x8_r50_ava`
# builds (33.83 M parameters by our count; the zoo prints 33.82). The R101 rows are PySlowFast's
# AVA/c2/SLOWFAST_*_R101_50_50 models, which add non-local blocks to res4 (not built here).
AVA: dict[str, DetectionRow] = {
    "Slow-only 4x16 R50": DetectionRow(19.5, "2.2", "Kinetics-400", 31.78, PYTORCHVIDEO_ZOO),
    "SlowFast 8x8 R50": DetectionRow(24.67, "2.2", "Kinetics-400", 33.82, PYTORCHVIDEO_ZOO),
    "SlowFast 8x8 R101 (v2.1)": DetectionRow(28.2, "2.1", "Kinetics-600", None, PYSLOWFAST_ZOO),
    "SlowFast 8x8 R101": DetectionRow(29.1, "2.2", "Kinetics-600", None, PYSLOWFAST_ZOO),
    "SlowFast 16x8 R101": DetectionRow(29.4, "2.2", "Kinetics-600", None, PYSLOWFAST_ZOO),
}


def sources() -> set[str]:
    """Every source string used above (for a README or a check that none is missing)."""
    tables = (TABLE_5A, TABLE_5B, TABLE_5C, MODELS, AVA)
    return {row.source for table in tables for row in table.values()}
