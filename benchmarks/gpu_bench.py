"""The GPU script: training speed, the GPU tests and the full-size reproductions, in one run.

    python -m benchmarks.gpu_bench --out DIR            # on a CUDA machine, at most --budget s
    python -m benchmarks.gpu_bench --out DIR --smoke    # tiny sizes; runs on CPU too

Run from a checkout's root: it runs pytest on ``tests/test_icl_gpu.py``, so it lives beside the
benchmarks rather than in the installed ``baselines`` package.

Time: ``--budget`` (default 330 s) bounds the whole run. The speed part stops starting new
measurements after a quarter of it (or ``--speed-seconds``), every reproduction model stops at its
cap (``reproduce.GPU``), and the GPU tests get what is left (killed at the deadline, their log
kept). A part that fails is recorded and the next one runs.

Writes into DIR: ``gpu_results.json`` (every number, with its provenance: this script, the command,
the commit, the versions and the machine; copy it to ``docs/data/icl_gpu_results_<gpu>.json`` to
publish it, since the docs quote only committed data), ``gpu_report.md`` (tables for the docs),
``gpu_tests.log`` (pytest -m gpu), and the plots ``icl_regression_layers.png``, ``icl_mrp_pq.png``,
``icl_context_regression.png``, ``icl_context_mrp.png``. Each part appends to the results as it
finishes, so a run cut short still leaves what it measured. Needs torch (and triton, fla-core on
CUDA when present) but neither gymnasium nor the envs.

Speed is prompts per second of complete training steps (data generation, forward, backward, AdamW)
of the d=5, n=20, 3-layer linear transformer:

- ``eager_tokens``: explicit (n+1)×D tokens, einsum attention, eager (the anchor);
- ``compiled_summary``: the D×D key-value summary recursion, data drawn in the graph, torch.compile;
- ``triton_fused``: one Triton kernel per step (random numbers, Gram matrix, forward, backward).

The offline Decision Transformer's training step is measured at CORL's gym size (batch 4096, context
20, 3 layers × 128) in tokens/s against the issue's 25.3M target on an H200 (``dt_speed``).

For the softmax GPT it reports achieved FLOP/s (matmul FLOPs, 3× forward for a training step)
against the card's dense bf16 peak and against a measured 8192³ bf16 matrix product.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from baselines.icl import reproduce
from baselines.icl.fast import SummaryStep, eager_token_step
from baselines.icl.models import LinearTransformer, SequenceModel, flops_per_prompt
from benchmarks import data_record

#: The reproductions, each a ``--parts`` name (``reproduce`` names all three).
REPRODUCTIONS = ("regression", "mrp", "curves")
#: Dense bf16 tensor-core peaks from the vendor's data sheets (FLOP/s, without sparsity).
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


class Clock:
    """The run's deadline: ``left()`` seconds remain of ``budget`` from now."""

    def __init__(self, budget: float) -> None:
        self.start, self.budget = time.perf_counter(), budget

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.start)

    def spent(self) -> float:
        return time.perf_counter() - self.start


class Results:
    def __init__(self, out: Path) -> None:
        self.out, self.data = out, {}

    def add(self, key: str, value) -> None:
        self.data[key] = value
        (self.out / "gpu_results.json").write_text(json.dumps(self.data, indent=2))
        print(f"[{key}] {json.dumps(value)[:400]}", flush=True)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def prompts_per_second(
    step, batch: int, device: torch.device, warmup: int = 3, seconds: float = 3.0
) -> float:
    for _ in range(warmup):
        step()
    synchronize(device)
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(5):
            step()
        count += 5
        synchronize(device)
        elapsed = time.perf_counter() - start
        if elapsed > seconds:
            return batch * count / elapsed


def bench_linear(device: torch.device, smoke: bool, until: float = float("inf")) -> dict:
    """Prompts/s of each implementation; no new measurement starts after ``time.perf_counter() > until``
    (the fused kernel first: it is the one the docs still need numbers of)."""
    d, n, layers = 5, 20, 3
    seconds = 0.5 if smoke else 3.0
    out: dict = {"d": d, "n": n, "layers": layers}

    torch.manual_seed(0)
    model = LinearTransformer(d + 1, d, layers).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = 1024 if smoke else 65536
    out["eager_tokens"] = {
        str(batch): prompts_per_second(
            lambda: eager_token_step(model, optimizer, batch, n), batch, device, seconds=seconds
        )
    }
    print("eager", out["eager_tokens"], flush=True)

    if device.type == "cuda":
        try:
            from baselines.icl.triton_step import TritonStep

            out["triton_fused"] = {}
            for batch in (1 << 18, 1 << 21, 1 << 23):
                if time.perf_counter() > until:
                    out["skipped"] = "time budget"
                    return out
                model = LinearTransformer(d + 1, d, layers).to(device)
                step = TritonStep(model, batch=batch, n=n)
                out["triton_fused"][str(batch)] = prompts_per_second(
                    step.step, batch, device, seconds=seconds
                )
                print("triton", out["triton_fused"], flush=True)
            # It learns: 300 fused steps of 2^20 prompts with a 1-layer model approach the optimum 1.154.
            model = LinearTransformer(d + 1, d, 1).to(device)
            step = TritonStep(model, batch=1 << 20, n=n, lr=3e-3)
            for _ in range(300):
                loss = step.step()
            out["triton_fused_1layer_loss_after_300_steps"] = loss.item()
        except Exception as error:  # report, keep the rest of the run
            out["triton_fused_error"] = repr(error)
        # Last: compiling takes a while, and it is only a reference (slower than eager, see the docs).
        if time.perf_counter() > until:
            out["skipped"] = "time budget"
            return out
        out["compiled_summary"] = {}
        for batch in (1 << 20,):
            model = LinearTransformer(d + 1, d, layers).to(device)
            step = SummaryStep(model, batch=batch, n=n, compile=True, mode=None)
            out["compiled_summary"][str(batch)] = prompts_per_second(
                step.step, batch, device, seconds=seconds
            )
            print("compiled", out["compiled_summary"], flush=True)
    else:
        model = LinearTransformer(d + 1, d, layers).to(device)
        step = SummaryStep(model, batch=batch, n=n, compile=False)
        out["summary_eager"] = {str(batch): prompts_per_second(step.step, batch, device, seconds=seconds)}
    return out


def bench_gpt(device: torch.device, smoke: bool) -> dict:
    n = 40
    width, heads, layers, batch = (32, 2, 1, 8) if smoke else (256, 8, 4, 512)
    torch.manual_seed(0)
    model = SequenceModel(6, 5, layers, max_steps=n, mixer="softmax", width=width, heads=heads).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    context = torch.randn(batch, n, 6, device=device)
    queries, targets = context[..., :5].contiguous(), context[..., 5].contiguous()
    forward = torch.compile(model.forward_all) if device.type == "cuda" else model.forward_all

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = (forward(context, queries).float() - targets).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    rate = prompts_per_second(step, batch, device, seconds=0.5 if smoke else 4.0)
    flops = 3 * flops_per_prompt(model, n) * rate
    out = {
        "width": width,
        "heads": heads,
        "layers": layers,
        "n": n,
        "batch": batch,
        "prompts_per_s": rate,
        "flop_per_s": flops,
    }
    if device.type == "cuda":
        name = torch.cuda.get_device_name()
        peak = next((value for key, value in PEAK_BF16.items() if key in name), None)
        a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
        for _ in range(3):
            a @ a
        synchronize(device)
        start = time.perf_counter()
        for _ in range(10):
            a @ a
        synchronize(device)
        measured = 10 * 2 * 8192**3 / (time.perf_counter() - start)
        out.update(device=name, peak_bf16=peak, measured_matmul_flop_per_s=measured)
        if peak:
            out["share_of_peak"] = flops / peak
        out["share_of_measured_matmul"] = flops / measured
    return out


#: Decision Transformer at CORL's gym size, and the tokens/s the issue asks of it on an H200 (what a
#: plain compiled PyTorch transformer of that shape measured; eager: 12.5M).
DT_SIZE = {"batch": 4096, "context": 20, "embed_dim": 128, "layers": 3}
DT_TARGET_TOKENS_PER_S = 25.3e6


def bench_decision_transformer(device: torch.device, smoke: bool) -> dict:
    """Tokens/s (3 per step: R̂, s, a) of complete DT training steps at CORL's gym size, our data path
    included (window ends, gather from the episode table), bf16 on CUDA: eager, then compiled.
    Pending a GPU run: no figure has been measured yet (docs/baselines/offline.md)."""
    from baselines.offline import dt  # lazy: only this part needs the offline models
    from baselines.offline.optim import make_optimizer, optimizer_step
    from benchmarks.offline_workload import dt_workload

    size = dict(DT_SIZE, batch=64) if smoke else dict(DT_SIZE)
    config, table, info = dt_workload(device, **size)
    tokens = size["batch"] * size["context"] * dt.TOKENS_PER_STEP
    out: dict = {**size, "target_tokens_per_s": DT_TARGET_TOKENS_PER_S}
    for name, compiled in (("eager", False), ("compiled", device.type == "cuda")):
        if name == "compiled" and not compiled:
            continue
        torch.manual_seed(0)
        model = dt.build_model(config, info).to(device)
        optimizer = make_optimizer(config.optim, model.parameters())
        step_model = torch.compile(model) if compiled else model
        counter = iter(range(10**9))

        def step(step_model=step_model, optimizer=optimizer, counter=counter):
            ends = table.sample_ends(size["batch"], next(counter)).to(device)
            windows = table.windows(ends, size["context"], info.return_scale)
            autocast = device.type == "cuda"
            optimizer_step(step_model, optimizer, dt, config, windows, windows.mask.sum().float(), autocast)

        rate = prompts_per_second(step, tokens, device, seconds=0.5 if smoke else 4.0)
        out[f"{name}_tokens_per_s"] = rate
    best = max(out.get("compiled_tokens_per_s", 0.0), out["eager_tokens_per_s"])
    out["meets_target"] = device.type == "cuda" and best >= DT_TARGET_TOKENS_PER_S
    return out


def run_gpu_tests(out: Path, timeout: float, select: str = "") -> dict:
    """``pytest -m gpu tests/test_icl_gpu.py [-k select]``, killed after ``timeout`` s (its output so
    far kept)."""
    log = out / "gpu_tests.log"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-v",
        "-m",
        "gpu",
        "tests/test_icl_gpu.py",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",  # the project's addopts name pytest-benchmark options; the GPU machine may lack it
        "--durations=0",
        *(["-k", select] if select else []),
    ]
    start = time.perf_counter()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        text = "".join(
            part.decode(errors="replace") if isinstance(part, bytes) else (part or "")
            for part in (expired.stdout, expired.stderr)
        )
        log.write_text(text + f"\n[gpu_bench] killed after {timeout:.0f} s (time budget)\n")
        passed = [line for line in text.splitlines() if line.endswith(("PASSED", "FAILED", "SKIPPED"))]
        return {
            "returncode": None,
            "summary": f"timed out after {timeout:.0f} s; finished: {len(passed)}",
            "finished": passed,
            "seconds": time.perf_counter() - start,
        }
    log.write_text(result.stdout + result.stderr)
    tail = (result.stdout.strip().splitlines() or [""])[-1]
    return {"returncode": result.returncode, "summary": tail, "seconds": time.perf_counter() - start}


def guarded(results: Results, key: str, measure) -> dict | None:
    """Run one part; on an exception record it under ``key`` and go on with the next part."""
    try:
        value = measure()
    except Exception as error:
        results.add(key, {"error": repr(error)})
        return None
    results.add(key, value)
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for results, report and plots")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (a quick check of the script)")
    parser.add_argument(
        "--parts",
        default="speed,tests,reproduce",
        help="comma-separated subset of speed, tests, reproduce (= regression, mrp, curves)",
    )
    parser.add_argument("--budget", type=float, default=330.0, help="seconds for the whole run (default 330)")
    parser.add_argument(
        "--speed-seconds",
        type=float,
        default=None,
        help="no new speed measurement starts after this many seconds (default: a quarter of --budget)",
    )
    parser.add_argument("--tests-k", default="", help="only the GPU tests matching this pytest -k expression")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    unknown = parts - {"speed", "tests", "reproduce", *REPRODUCTIONS}
    if unknown:
        parser.error(
            f"--parts: unknown {sorted(unknown)}; choose from speed, tests, reproduce, {', '.join(REPRODUCTIONS)}"
        )
    if "reproduce" in parts:
        parts |= set(REPRODUCTIONS)
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False  # the reproductions compare errors to 3 digits
    results = Results(args.out)
    results.add(
        "provenance",
        data_record.provenance(
            "benchmarks/gpu_bench.py",
            ["python", "-m", "benchmarks.gpu_bench", *(argv if argv is not None else sys.argv[1:])],
        ),
    )
    results.add(
        "machine",
        {
            "device": torch.cuda.get_device_name()
            if device.type == "cuda"
            else platform.processor() or "cpu",
            "torch": torch.__version__,
            "python": platform.python_version(),
            "smoke": args.smoke,
        },
    )
    clock = Clock(args.budget)
    report: dict = {}
    if "speed" in parts:
        until = time.perf_counter() + (args.budget / 4 if args.speed_seconds is None else args.speed_seconds)
        guarded(results, "linear_speed", lambda: bench_linear(device, args.smoke, until))
        if time.perf_counter() > until:
            results.add("gpt_flops", {"skipped": "time budget"})
        else:
            guarded(results, "gpt_flops", lambda: bench_gpt(device, args.smoke))
        if time.perf_counter() > until:
            results.add("dt_speed", {"skipped": "time budget"})
        else:
            guarded(results, "dt_speed", lambda: bench_decision_transformer(device, args.smoke))
        write_report(args.out, results.data, {})
    if parts & set(REPRODUCTIONS):
        scale = reproduce.GPU if (device.type == "cuda" and not args.smoke) else reproduce.SMOKE
        results.add("reproduction_scale", dataclasses.asdict(scale))
        # A fresh folder: runs left by an earlier call would be resumed, not retrained.
        work = Path(os.environ.get("TMPDIR", "/tmp")) / f"icl_gpu_runs_{scale.name}_{os.getpid()}"
        plots = {
            "icl-regression": args.out / "icl_context_regression.png",
            "icl-mrp": args.out / "icl_context_mrp.png",
        }
        steps = (
            (
                "regression",
                lambda p: reproduce.regression_layers(scale, work, args.out / "icl_regression_layers.png", p),
            ),
            ("mrp", lambda p: reproduce.mrp_td(scale, work, args.out / "icl_mrp_pq.png", partial=p)),
            ("curves", lambda p: reproduce.context_lengths(scale, work, plots, partial=p)),
        )
        for key, run_part in steps:
            if key not in parts:
                continue
            partial_key = f"{key}_partial"

            def run(run_part=run_part, partial_key=partial_key):
                return run_part(lambda so_far: results.add(partial_key, so_far))

            value = guarded(results, key, run)
            results.data.pop(partial_key, None)
            if value is not None:
                report[key] = value
                try:
                    write_report(args.out, results.data, report)
                except Exception as error:  # a table that cannot be rendered must not stop the run
                    results.add(f"{key}_report_error", repr(error))
        print(f"[gpu_bench] reproductions done at {clock.spent():.0f} s", flush=True)
    # The tests last, with what is left of the budget: the measurements above are already written.
    if "tests" in parts and device.type == "cuda" and not args.smoke:
        left = clock.left()
        if left < 30:
            results.add("gpu_tests", {"skipped": f"time budget ({left:.0f} s left)"})
        else:
            guarded(results, "gpu_tests", lambda: run_gpu_tests(args.out, left, args.tests_k))
    results.add("total_seconds", clock.spent())
    write_report(args.out, results.data, report)
    print((args.out / "gpu_report.md").read_text())


def write_report(out: Path, data: dict, report: dict) -> None:
    """Write gpu_report.md from what has been measured so far."""
    tables = reproduce.markdown_tables(report.get("regression"), report.get("mrp"), report.get("curves"))
    (out / "gpu_report.md").write_text(speed_markdown(data) + "\n" + tables)


#: The implementations of ``bench_linear``, as the docs name them.
SPEED_LABELS = {
    "eager_tokens": "explicit tokens, einsum attention, eager (anchor)",
    "summary_eager": "D×D summary, eager",
    "compiled_summary": "D×D summary, data drawn in the graph, `torch.compile`",
    "triton_fused": "one fused Triton kernel per step (`triton_step.py`)",
}


def linear_speed_table(speed: dict) -> str:
    """The training-step speeds of ``bench_linear``'s results as a Markdown table, with each rate's
    multiple of the anchor's (the docs page quotes this table)."""
    anchor = next(iter(speed["eager_tokens"].values()))
    lines = ["| implementation | batch | prompts/s | × the anchor |", "|---|---|---|---|"]
    for key, label in SPEED_LABELS.items():
        for batch, rate in speed.get(key, {}).items():
            grouped = f"{int(batch):,}".replace(",", " ")
            lines.append(f"| {label} | {grouped} | {rate / 1e6:.1f} M | {rate / anchor:.1f}× |")
    return "\n".join(lines)


def speed_markdown(data: dict) -> str:
    lines = [f"**Machine**: {data['machine']['device']}, torch {data['machine']['torch']}", ""]
    speed = data.get("linear_speed")
    if speed and "eager_tokens" in speed:
        lines += [f"Training steps, d={speed['d']}, n={speed['n']}, {speed['layers']} layers:", ""]
        lines.append(linear_speed_table(speed))
        if "skipped" in speed:
            lines.append(f"\nLater measurements skipped: {speed['skipped']}.")
        if "triton_fused_1layer_loss_after_300_steps" in speed:
            lines.append(
                f"\nFused kernel, 1 layer, loss after 300 steps of 2^20 prompts: "
                f"{speed['triton_fused_1layer_loss_after_300_steps']:.4f} (optimum 1.1538)."
            )
        if "triton_fused_error" in speed:
            lines.append(f"\nFused kernel failed: `{speed['triton_fused_error']}`")
    gpt = data.get("gpt_flops")
    if gpt and "skipped" in gpt:
        lines += ["", f"Softmax GPT: skipped ({gpt['skipped']})."]
    elif gpt:
        lines += [
            "",
            f"Softmax GPT (width {gpt['width']}, {gpt['layers']} layers, {2 * gpt['n']} tokens, batch {gpt['batch']}, bf16): "
            f"{gpt['prompts_per_s']:.0f} prompts/s, {gpt['flop_per_s'] / 1e12:.1f} TFLOP/s"
            + (
                f" = {100 * gpt['share_of_peak']:.1f}% of the {gpt['peak_bf16'] / 1e12:.0f} TFLOP/s bf16 peak"
                if gpt.get("share_of_peak")
                else ""
            )
            + (
                f", {100 * gpt['share_of_measured_matmul']:.1f}% of a measured 8192³ bf16 matmul ({gpt['measured_matmul_flop_per_s'] / 1e12:.0f} TFLOP/s)"
                if "share_of_measured_matmul" in gpt
                else ""
            )
            + ".",
        ]
    dt_speed = data.get("dt_speed")
    if dt_speed and "eager_tokens_per_s" in dt_speed:
        rates = ", ".join(
            f"{name} {dt_speed[f'{name}_tokens_per_s'] / 1e6:.1f}M"
            for name in ("eager", "compiled")
            if f"{name}_tokens_per_s" in dt_speed
        )
        lines += [
            "",
            f"Decision Transformer (batch {dt_speed['batch']}, context {dt_speed['context']}, "
            f"{dt_speed['layers']} × {dt_speed['embed_dim']}, bf16 on CUDA) tokens/s: {rates}; target "
            f"{dt_speed['target_tokens_per_s'] / 1e6:.1f}M: {'met' if dt_speed['meets_target'] else 'not met'}.",
        ]
    tests = data.get("gpu_tests")
    if tests:
        lines += ["", f"GPU tests (pytest -m gpu): {tests['summary']} (return code {tests['returncode']})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
