"""Run the CPU speed benchmarks and write their ratios to docs/data/benchmarks_cpu.json.

    python docs/scripts/record_benchmarks.py [-k EXPRESSION]

Runs ``pytest benchmarks/`` (every ``bench_*.py``; each test times our code and its anchor in the
same run, ``benchmarks/ratio.py``) with ``--benchmark-json``, and keeps, per benchmark, what
``speed_ratio`` measured: the ratio, our throughput and the anchor's. The docs pages quote these
numbers (``tests/test_docs_figures.py`` checks that they do); the file records the machine and its
load average when they started, since a shared CPU makes every absolute figure noisy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import data_record  # noqa: E402

OUTPUT = ROOT / "docs" / "data" / "benchmarks_cpu.json"

#: What the docs quote from the file: (page, benchmark, text). ``{ratio}`` (``{ratio2}``: two decimals,
#: where a bound near 1 is at stake), ``{ours}``, ``{anchor}``
#: and ``{ours_us}`` (microseconds per unit of our work) are filled in by ``quotes``;
#: tests/test_docs_figures.py checks that each page holds its texts.
QUOTES = (
    (
        "protocol.md",
        "bench_isolation.py::test_isolated_core_v0_overhead",
        "In the recorded run the isolated evaluation ran at {ratio2}× the in-process speed",
    ),
    (
        "envs/blackjack.md",
        "bench_blackjack.py::test_blackjack_symbolic_speed",
        "| symbolic single env vs `Blackjack-v1` (both via `gym.make`) | {ours} steps/s | {anchor} steps/s | {ratio}× |",
    ),
    (
        "envs/blackjack.md",
        "bench_blackjack.py::test_blackjack_image_speed",
        "| image observations vs `Blackjack-v1` with `render()` each step | {ours} steps/s | {anchor} steps/s | {ratio}× |",
    ),
    (
        "envs/blackjack.md",
        "bench_blackjack.py::test_blackjack_image_speed",
        "An image step costs {ours_us} µs at 300 × 300, frame included",
    ),
    (
        "envs/blackjack.md",
        "bench_blackjack.py::test_blackjack_vector_speed",
        "| vector env, 1024 envs, symbolic vs `SyncVectorEnv` of our env | {ours} steps/s | {anchor} steps/s | {ratio}× |",
    ),
    (
        "envs/regression.md",
        "bench_regression.py::test_linear_regression_vector_env_speed",
        "With 1024 envs the vector env ran {ratio}× as many env-steps per second as `SyncVectorEnv` "
        "({ours} against {anchor} env-steps/s)",
    ),
    (
        "envs/mrp.md",
        "bench_mrp.py::test_mrp_vector_env_speed",
        "here {ratio}× ({ours} against {anchor} env-steps/s)",
    ),
    (
        "envs/numberline.md",
        "bench_number_games.py::test_vector_env_speed[icl/NumberLine-v0]",
        "1024 envs ran {ratio}× the env-steps per second of `SyncVectorEnv` over the single env "
        "({ours} against {anchor} env-steps/s)",
    ),
    (
        "envs/numberline.md",
        "bench_number_games.py::test_numberline_image_speed_against_blackjack",
        "NumberLine's image mode steps {ratio}× as fast as Blackjack's ({ours} against {anchor} steps/s)",
    ),
    (
        "envs/points.md",
        "bench_number_games.py::test_vector_env_speed[icl/EZPoints-v0]",
        "EZPoints {ratio}× ({ours} against {anchor} env-steps/s)",
    ),
    (
        "envs/points.md",
        "bench_number_games.py::test_vector_env_speed[icl/Points24-v0]",
        "Points24 {ratio}× ({ours} against {anchor} env-steps/s)",
    ),
    (
        "baselines/icl_transformers.md",
        "bench_icl.py::test_linear_transformer_training_step",
        "**{ratio}× more prompts/s** ({ours} against {anchor} prompts/s, batch 4096, one torch thread)",
    ),
)


def rate(per_second: float) -> str:
    """A throughput as the docs write it: 257k, 9.8M."""
    return f"{per_second / 1e6:.1f}M" if per_second >= 1e6 else f"{per_second / 1e3:.1f}k"


def measured_note(data: dict) -> str:
    """The sentence every page puts beside the figures it quotes from the file."""
    machine = data["provenance"]["machine"]
    load = machine["load_average_1_5_15_min"][0]
    # Below a load of one the benchmarks had the machine to themselves; above it, say it was shared.
    sharing = "with no other job running" if load < 1 else "shared with other jobs"
    return (
        f"measured by `docs/scripts/record_benchmarks.py` on {data['provenance']['date'][:10]}, "
        f"{machine['cpu_count']} CPU cores {sharing} (load average {load} "
        "at the start), raw numbers in `docs/data/benchmarks_cpu.json`"
    )


def quotes(data: dict) -> list[tuple[str, str]]:
    """(page, text) of every figure the docs quote from ``data`` (the file's content)."""
    found = []
    for page, name, template in QUOTES:
        bench = data["benchmarks"][f"benchmarks/{name}"]
        text = template.format(
            ratio=f"{bench['ratio']:.1f}",
            ratio2=f"{bench['ratio']:.2f}",
            ours=rate(bench["ours_per_s"]),
            anchor=rate(bench["anchor_per_s"]),
            ours_us=f"{1e6 / bench['ours_per_s']:.0f}",
        )
        found.append((page, text))
    return found


def run_benchmarks(select: str) -> tuple[dict, int, str]:
    """(the pytest-benchmark JSON, pytest's exit code, its summary line)."""
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "benchmarks.json"
        command = [sys.executable, "-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider"]
        command += [f"--benchmark-json={raw}", *(["-k", select] if select else [])]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        print(result.stdout[-3000:], result.stderr[-2000:], sep="\n")
        summary = (result.stdout.strip().splitlines() or [""])[-1]
        return json.loads(raw.read_text()), result.returncode, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="select", default="", help="only the benchmarks matching this expression")
    args = parser.parse_args()
    started = data_record.provenance("docs/scripts/record_benchmarks.py")
    raw, returncode, summary = run_benchmarks(args.select)
    measured = {
        bench["fullname"]: {key: value for key, value in bench["extra_info"].items()}
        for bench in raw["benchmarks"]
    }
    data_record.write(
        OUTPUT,
        started,
        {
            "about": "Speed ratios of benchmarks/bench_*.py: per benchmark, our throughput, the anchor's "
            "(timed in the same test, interleaved) and their ratio (benchmarks/ratio.py:speed_ratio).",
            "pytest": {"returncode": returncode, "summary": summary},
            "benchmarks": measured,
        },
    )
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(measured)} benchmarks ({summary})")
    data = data_record.read(OUTPUT)
    print(f"\nWhat the docs quote ({measured_note(data)}):")
    for page, text in quotes(data):
        print(f"docs/{page}: {text}")


if __name__ == "__main__":
    main()
