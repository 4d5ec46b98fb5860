"""The three reproductions of docs/baselines/icl_transformers.md at CPU size (no GPU needed).

    python docs/scripts/icl_reproduce.py [OUT]      # plots into OUT (default runs/icl_reproduce_cpu),
                                                    # prints the tables

The page shows the full-size runs, made by ``python -m benchmarks.gpu_bench --out DIR`` on a GPU;
this script never overwrites their plots in docs/img.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from baselines.icl import reproduce  # noqa: E402


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    img = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "runs" / "icl_reproduce_cpu"
    img.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="icl_reproduce_"))
    scale = reproduce.CPU
    start = time.perf_counter()
    regression = reproduce.regression_layers(scale, work, img / "icl_regression_layers.png")
    mrp = reproduce.mrp_td(scale, work, img / "icl_mrp_pq.png")
    curves = reproduce.context_lengths(
        scale,
        work,
        {"icl-regression": img / "icl_context_regression.png", "icl-mrp": img / "icl_context_mrp.png"},
    )
    print(reproduce.markdown_tables(regression, mrp, curves))
    print(f"\n(CPU, {time.perf_counter() - start:.0f} s)")
    (work / "results.json").write_text(json.dumps({"regression": regression, "mrp": mrp, "curves": curves}))
    print(f"raw results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
