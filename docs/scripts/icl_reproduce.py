"""The three reproductions of docs/baselines/icl_transformers.md at CPU size (no GPU needed).

    python docs/scripts/icl_reproduce.py [OUT]      # plots into OUT (default runs/icl_reproduce_cpu)

Writes every number to docs/data/icl_cpu_results.json (with this script, the command, the commit
and the machine; the page's CPU tables are ``reproduce.markdown_tables`` of it, which
tests/test_docs_figures.py checks) and prints the tables. ``reproduce.CPU`` sets the size: every
model trained with 3 seeds, a few minutes on two cores in all. The page's full-size runs are made by
``python -m benchmarks.gpu_bench --out DIR`` on a GPU; this script never overwrites their plots in
docs/img.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from baselines.icl import reproduce  # noqa: E402
from benchmarks import data_record  # noqa: E402

DATA = ROOT / "docs" / "data" / "icl_cpu_results.json"
THREADS = 1  # one thread: reproducible, and no spinning against other jobs on a shared CPU


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(THREADS)
    img = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "runs" / "icl_reproduce_cpu"
    img.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="icl_reproduce_"))
    scale = reproduce.CPU
    started, start = data_record.provenance("docs/scripts/icl_reproduce.py"), time.perf_counter()
    regression = reproduce.regression_layers(scale, work, img / "icl_regression_layers.png")
    mrp = reproduce.mrp_td(scale, work, img / "icl_mrp_pq.png")
    curves = reproduce.context_lengths(
        scale,
        work,
        {"icl-regression": img / "icl_context_regression.png", "icl-mrp": img / "icl_context_mrp.png"},
    )
    seconds = time.perf_counter() - start
    print(reproduce.markdown_tables(regression, mrp, curves))
    data_record.write(
        DATA,
        started,
        {
            "scale": dataclasses.asdict(scale),
            "torch_threads": THREADS,
            "wall_time_s": seconds,
            "regression": regression,
            "mrp": mrp,
            "curves": curves,
        },
    )
    print(f"\n(CPU, {seconds:.0f} s) wrote {DATA.relative_to(ROOT)}; plots in {img}")


if __name__ == "__main__":
    main()
