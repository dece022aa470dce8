"""Bar charts (log scale) of the overheads in the JSON files the benches write with --json.

    python bench/bench_router.py --json bench/results/router.json
    python bench/bench_middleware.py --json bench/results/middleware.json
    python bench/plot.py bench/results/router.json bench/results/middleware.json

Writes one PNG per JSON file (a panel per table) next to it (needs matplotlib).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def short(title: str) -> str:
    return title.split(" (")[0].split(" log_environ(")[0]


def main(paths: list[str]) -> int:
    for path in map(Path, paths):
        tables: dict[str, dict[str, float]] = json.loads(path.read_text())
        heights = [0.32 * len(t) + 0.7 for t in tables.values()]
        fig, axes = plt.subplots(
            len(tables),
            1,
            figsize=(7.5, sum(heights) + 0.6),
            gridspec_kw={"height_ratios": heights},
            squeeze=False,
        )
        for ax, (title, over) in zip(axes[:, 0], tables.items(), strict=False):
            names = list(over)
            values = [max(over[n], 1.0) for n in names]
            colors = ["#c0392b" if n == "rswsgi" else "#7f8c8d" for n in names]
            ax.barh(names, values, color=colors, left=0)
            ax.set_xscale("log")
            ax.set_xlim(10, max(values) * 8)
            ax.invert_yaxis()
            ax.set_title(short(title), fontsize=9, loc="left")
            ax.tick_params(labelsize=8)
            for y, v in enumerate(values):
                ax.text(v, y, f" {v:,.0f} ns  ({v / over['rswsgi']:.2f}×)", va="center", fontsize=7)
        axes[-1, 0].set_xlabel("overhead per request, ns (log scale; median of interleaved rounds)")
        fig.tight_layout()
        out = path.with_suffix(".png")
        fig.savefig(out, dpi=90)
        plt.close(fig)
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
