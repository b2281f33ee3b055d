"""The pathway colours of every figure (lessons and the comparison figure alike)."""

SLOW_COLOR = "#1f77b4"  # blue, as the paper's Figure 1 Slow pathway
FAST_COLOR = "#ff7f0e"  # orange
LATERAL_COLOR = "#2ca02c"
PART_COLORS = {"slow": SLOW_COLOR, "fast": FAST_COLOR, "lateral": LATERAL_COLOR, "head": "#7f7f7f"}
