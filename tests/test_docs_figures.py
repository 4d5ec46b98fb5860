"""Every measured figure the docs quote is the figure of a committed data file (issue 10).

The data files under docs/data/ are written by the scripts that measured them and name that script
(``provenance.written_by``). The docs render their tables from them with the same functions the
scripts print with, so these tests compare the page with a fresh rendering of the file. A sweep
over every page then finds any speed figure (a ratio, a throughput) that no data file backs.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from file_modules import load_file_module

from baselines.icl import reproduce
from benchmarks.distributed_scaling import scaling_table
from benchmarks.gpu_bench import linear_speed_table

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DATA = DOCS / "data"
ICL_PAGE = "baselines/icl_transformers.md"


def page(name: str) -> str:
    return (DOCS / name).read_text()


def data(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def script(name: str):
    """A docs/scripts module, imported from its file (the scripts are not a package)."""
    return load_file_module(DOCS / "scripts" / f"{name}.py", f"docs_scripts_{name}")


def assert_blocks_in_page(rendered: str, text: str, source: str) -> None:
    """Each paragraph and table of ``rendered`` stands in ``text`` as it is."""
    for block in filter(None, (part.strip() for part in rendered.split("\n\n"))):
        assert block in text, f"the page does not show this block of {source} as the file has it:\n{block}"


# ---- the in-context transformers page ------------------------------------------------------------

#: Figures the page once stated without any data behind them (issue 10).
UNSUPPORTED = (
    "473 M",
    "477 M",
    "9.6 M",
    "7.6 M",
    "7.1 M",
    "1.211",
    "82.8 TFLOP",
    "792 TFLOP",
    "7.2×",
    "8.4 %",
    "53 k prompts",
)


@pytest.mark.parametrize("figure", UNSUPPORTED)
def test_icl_page_states_no_figure_without_data(figure):
    assert figure not in page(ICL_PAGE)


def test_icl_gpu_speed_table_is_the_h200_file():
    speed = data("icl_gpu_results_h200.json")["linear_speed"]
    assert_blocks_in_page(linear_speed_table(speed), page(ICL_PAGE), "icl_gpu_results_h200.json")


def test_icl_gpu_reproduction_tables_are_the_h200_file():
    h200 = data("icl_gpu_results_h200.json")
    tables = reproduce.markdown_tables(h200["regression"], h200["mrp"], h200["curves"])
    assert_blocks_in_page(tables, page(ICL_PAGE), "icl_gpu_results_h200.json")


def test_icl_cpu_reproduction_tables_are_the_cpu_file():
    cpu = data("icl_cpu_results.json")
    assert cpu["provenance"]["written_by"] == "docs/scripts/icl_reproduce.py"
    # The run the page shows is the CPU scale the script runs today.
    assert cpu["scale"] == json.loads(json.dumps(reproduce.dataclasses.asdict(reproduce.CPU)))
    tables = reproduce.markdown_tables(cpu["regression"], cpu["mrp"], cpu["curves"])
    assert_blocks_in_page(tables, page(ICL_PAGE), "icl_cpu_results.json")


def _icl_prose_figures() -> list[tuple[str, str]]:
    """(text the page must hold, what it is) for the prose figures, built from the data files."""
    h200, cpu = data("icl_gpu_results_h200.json"), data("icl_cpu_results.json")
    fused = h200["linear_speed"]["triton_fused"]["262144"]
    rows = {(r["setting"], r["layers"]): r for r in h200["regression"]["rows"]}
    fixed = h200["regression"]["fixed_sigma"]
    td, value, representable = (
        h200["mrp"]["settings"][name] for name in ("td-random", "value-random", "value-representable")
    )
    curves, medians = h200["curves"], h200["curves"]["medians"]
    return [
        (
            f"{fused / 1e6:.1f} M prompts/s at a batch of 262 144, {fused / 40e6:.1f}× the goal of 40 M",
            "fused speed",
        ),
        (f"GPU tests ({h200['gpu_tests']['summary'].strip('= ')})", "GPU tests"),
        (
            f"{rows['isotropic', 1]['trained']:.3f} against the optimum d(d+1)/(n+d+1) = "
            f"{h200['regression']['one_layer_optimum']:.3f}, **{100 * rows['isotropic', 1]['relative_gap']:+.1f} %**",
            "one layer",
        ),
        (f"along I (cosine {rows['isotropic', 1]['preconditioner_cosine']:.4f})", "one-layer cosine"),
        (f"cosine {fixed['weighted_cosine']:.3f} in the metric Σ^½ Γ Σ^½", "fixed Σ, weighted cosine"),
        (
            f"error {fixed['trained_error']:.3f} against the optimum's {fixed['optimum_error']:.3f}",
            "fixed Σ, errors",
        ),
        (f"(raw cosine {fixed['preconditioner_cosine']:.2f})", "fixed Σ, raw cosine"),
        (
            f"isotropic L=3: {rows['isotropic', 3]['trained']:.3f} against {rows['isotropic', 3]['gd']:.3f}",
            "L=3",
        ),
        (f"median {rows['rotated', 4]['trained_median']:.3f}, the best", "rotated L=4 median"),
        (f"but mean {rows['rotated', 4]['trained']:.0f}, from", "rotated L=4 mean"),
        (f"implied weights {td['implied_weight_cosine']:.3f}", "TD cosine"),
        (f"context {td['sensitivity_cosine']:.3f}", "TD sensitivity"),
        (f"its error, {td['model_error']:.3f}, is TD's ({td['td_best_error']:.3f} at α_err)", "TD error"),
        (f"error {value['model_error']:.2f} against TD's {value['td_best_error']:.2f}", "value error"),
        (f"({value['implied_weight_cosine']:.2f} and {value['sensitivity_cosine']:.2f})", "value cosines"),
        (f"agree again ({representable['implied_weight_cosine']:.3f})", "representable cosine"),
        (f"sensitivity less ({representable['sensitivity_cosine']:.2f})", "representable sensitivity"),
        (
            f"({curves['icl-regression']['softmax'][20]:.3f} and {curves['icl-regression']['rebased'][20]:.3f} at t = 20",
            "curves at t=20",
        ),
        (
            f"({curves['icl-mrp']['softmax'][30]:.2f} and {curves['icl-mrp']['rebased'][30]:.2f} at t = 30 against TD's "
            f"{curves['icl-mrp']['batch TD(0), 3 steps, best α'][30]:.2f})",
            "curves at t=30",
        ),
        (
            f"({curves['icl-regression']['linear'][20]:.1f}) is again the heavy tail (median "
            f"{medians['icl-regression']['linear'][20]:.3f})",
            "linear heavy tail",
        ),
        (f"took {cpu['wall_time_s']:.0f} s on 2 shared", "CPU wall time"),
    ] + _icl_cpu_prose_figures(cpu)


def _icl_cpu_prose_figures(cpu: dict) -> list[tuple[str, str]]:
    rows = {(r["setting"], r["layers"]): r for r in cpu["regression"]["rows"]}
    first, deep, rotated = rows["isotropic", 1], rows["isotropic", 3], rows["rotated", 3]
    td = cpu["mrp"]["settings"]["td-random"]
    h200_td = data("icl_gpu_results_h200.json")["mrp"]["settings"]["td-random"]

    def spread(values: list[float], fmt: str = ".3f") -> str:
        return f"{min(values):{fmt}}–{max(values):{fmt}}"

    return [
        (f"it reaches {first['trained']:.3f} ± {first['trained_stderr']:.3f}", "CPU one layer"),
        (
            f"scores {first['gd_at_theory_step']:.3f} ± {first['gd_at_theory_step_stderr']:.3f} on the same prompts",
            "CPU GD at the theory's step",
        ),
        (
            f"scale tr(Γ)/d {first['preconditioner_scale']:.3f} against n/(n+d+1) = {first['optimal_scale']:.3f} "
            f"(seeds {spread(first['preconditioner_scale_by_seed'], '.4f')})",
            "CPU preconditioner scale",
        ),
        (f"isotropic L=3 scores {deep['trained']:.3f} ± {deep['trained_stderr']:.3f}", "CPU L=3"),
        (f"{deep['gd']:.3f} ± {deep['gd_stderr']:.3f}, and rotated L=3", "CPU 3-step GD"),
        (
            f"{min(rotated['trained_by_seed']):.3f} to {max(rotated['trained_by_seed']):.3f} while the median is "
            f"{rotated['trained_median']:.3f}",
            "CPU rotated L=3 seeds",
        ),
        (
            f"the cosines are {td['implied_weight_cosine']:.3f} [{spread(td['implied_weight_cosine_by_seed'])}] and "
            f"{td['sensitivity_cosine']:.3f} [{spread(td['sensitivity_cosine_by_seed'])}]",
            "CPU TD cosines",
        ),
        (f"α_cos = {td['td_step_size']:.3g} against {h200_td['td_step_size']:.3g} on the H200", "α_cos"),
    ]


@pytest.mark.parametrize("text, what", _icl_prose_figures())
def test_icl_prose_figures_are_the_data_files(text, what):
    assert text in page(ICL_PAGE), f"{what}: the page should say {text!r}"


# ---- CPU speed figures on every page ---------------------------------------------------------------


def test_speed_figures_are_the_benchmarks_file():
    record = script("record_benchmarks")
    measured = data("benchmarks_cpu.json")
    assert measured["provenance"]["written_by"] == "docs/scripts/record_benchmarks.py"
    note = record.measured_note(measured)
    for name, text in record.quotes(measured):
        assert text in page(name), f"docs/{name} should quote {text!r} from benchmarks_cpu.json"
        assert note in page(name), f"docs/{name} should say where its speed figures come from: {note!r}"


#: A speed figure: a ratio (7.2×, 48×; not a size such as 6×6) or a throughput (257k steps/s,
#: 9.5 M prompts/s, 40 µs).
SPEED_FIGURE = re.compile(r"\d[\d.]*×(?!\s*\d)|\d[\d.,]*\s?[kKM]?\s?(?:steps/s|prompts/s|TFLOP/s)|\d\s?µs")
#: A required minimum is a promise the benchmark asserts, not a measurement.
REQUIREMENT = re.compile(r"(?:≥|at least|asserts|asks)\s?\d[\d.]*×")


def _checked_texts() -> dict[str, list[str]]:
    """Per page, the texts the other tests check against data files."""
    texts: dict[str, list[str]] = {}
    for name in D3RLPY_FILES:
        texts.setdefault(OFFLINE_PAGE, []).extend(d3rlpy_crosscheck().quotes(data(name)))
    texts[OFFLINE_PAGE].extend(script("dt_step_profile").quotes(data("dt_step_profile.json")))
    for name, text in script("record_benchmarks").quotes(data("benchmarks_cpu.json")):
        texts.setdefault(name, []).append(text)
    texts.setdefault("distributed.md", []).append(scaling_table(data("distributed_scaling.json")))
    texts.setdefault("baselines/vlm.md", []).extend(_vlm_speed_quotes())
    texts.setdefault(ICL_PAGE, []).extend(
        [linear_speed_table(data("icl_gpu_results_h200.json")["linear_speed"])]
        + [text for text, _ in _icl_prose_figures()]
    )
    return texts


def test_every_speed_figure_in_the_docs_comes_from_a_data_file():
    """No page states a ratio or a throughput that a test above does not check against a file."""
    checked = _checked_texts()
    pages = sorted(DOCS.rglob("*.md")) + [ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
    unchecked = []
    for path in pages:
        text = path.read_text()
        for block in checked.get(path.relative_to(DOCS).as_posix() if DOCS in path.parents else "", []):
            for line in block.splitlines():
                text = text.replace(line, "")
        text = REQUIREMENT.sub("", text)
        unchecked += [
            f"{path.relative_to(ROOT)}: {match.group(0)!r}" for match in SPEED_FIGURE.finditer(text)
        ]
    assert not unchecked, "speed figures without a data file behind them:\n" + "\n".join(unchecked)


def _vlm_speed_quotes() -> list[str]:
    from benchmarks.bench_vlm import quotes  # imports torch and the VLM: only where needed

    return quotes(data("vlm_speed_cpu.json"))


def test_vlm_speed_figures_are_the_vlm_benchmark_file():
    """docs/baselines/vlm.md's speed table and its load are docs/data/vlm_speed_cpu.json."""
    assert data("vlm_speed_cpu.json")["provenance"]["written_by"] == "benchmarks/bench_vlm.py"
    for line in _vlm_speed_quotes():
        assert line in page("baselines/vlm.md"), f"docs/baselines/vlm.md should quote {line!r}"


def test_server_read_figures_are_the_server_benchmarks_file():
    """docs/server.md's table of reads is docs/data/server_bench.json, as the benchmark writes it."""
    from benchmarks.bench_server import quotes

    measured = data("server_bench.json")
    assert measured["provenance"]["written_by"] == "benchmarks/bench_server.py"
    assert measured["submissions"] == 1000 and set(measured["backends"]) == {"sqlite", "postgresql"}
    text = page("server.md")
    for line in quotes(measured):
        assert line in text, f"docs/server.md should quote {line!r} from server_bench.json"
    load = measured["provenance"]["machine"]["load_average_1_5_15_min"][0]
    assert f"a load average of {load}" in " ".join(text.split())  # the figures' conditions, quoted


def test_server_reliability_figures_are_the_reliability_file():
    """docs/server.md's table of the 10,000-submission run is docs/data/server_reliability.json."""
    from benchmarks.server_reliability import quotes

    measured = data("server_reliability.json")
    assert measured["provenance"]["written_by"] == "benchmarks/server_reliability.py"
    assert {measured[backend]["submissions"] for backend in ("sqlite", "postgresql")} == {10_000}
    text = page("server.md")
    for line in quotes(measured):
        assert line in text, f"docs/server.md should quote {line!r} from server_reliability.json"
    load = measured["provenance"]["machine"]["load_average_1_5_15_min"][0]
    assert f"a load average of {load}" in " ".join(text.split())


def test_distributed_scaling_table_is_its_data_file():
    measured = data("distributed_scaling.json")
    assert measured["provenance"]["written_by"] == "benchmarks/distributed_scaling.py"
    assert measured["same_results"] is True
    assert_blocks_in_page(scaling_table(measured), page("distributed.md"), "distributed_scaling.json")


# ---- the d3rlpy cross-check on the offline page ----------------------------------------------------

OFFLINE_PAGE = "baselines/offline.md"


def d3rlpy_crosscheck():
    """benchmarks/anchors/d3rlpy_dt.py, imported from its file (the anchors folder is no package)."""
    return load_file_module(ROOT / "benchmarks" / "anchors" / "d3rlpy_dt.py", "anchors_d3rlpy_dt")


#: The cross-check's runs: our DT as it is (padding masked), the same with returns-to-go scaled by
#: the largest |return| (as before the best return's magnitude), before its step was made faster,
#: with the padding seen (as before the option), and at its default size.
D3RLPY_FILES = (
    "d3rlpy_crosscheck.json",
    "d3rlpy_crosscheck_largest_return_scale.json",
    "d3rlpy_crosscheck_masked.json",
    "d3rlpy_crosscheck_unmasked.json",
    "d3rlpy_crosscheck_default_size.json",
    "d3rlpy_crosscheck_default_size_unmasked.json",
)


@pytest.mark.parametrize("name", D3RLPY_FILES)
def test_d3rlpy_crosscheck_is_its_data_file(name):
    """The offline page's cross-check tables and their conditions are the data files of
    benchmarks/anchors/d3rlpy_dt.py, as it renders them."""
    measured = data(name)
    assert measured["provenance"]["written_by"] == "benchmarks/anchors/d3rlpy_dt.py"
    assert measured["d3rlpy_version"] == "2.8.1" and measured["runs"]
    for run in measured["runs"]:  # the ratio is the two speeds' (the file is not edited by hand)
        assert run["speed_ratio"] == pytest.approx(
            run["ours"]["tokens_per_s"] / run["d3rlpy"]["tokens_per_s"]
        )
    text = " ".join(page(OFFLINE_PAGE).split())
    for block in d3rlpy_crosscheck().quotes(measured):
        assert " ".join(block.split()) in text, f"{OFFLINE_PAGE} should quote {block!r}"


def test_main_crosscheck_is_the_default_masked_model():
    """The page's main cross-check table is our DT at its default (the padding masked out: no
    ``mask_padding`` option) on the same size, steps and dataset as the unmasked one it explains."""
    main, unmasked = data("d3rlpy_crosscheck.json"), data("d3rlpy_crosscheck_unmasked.json")
    assert not any(option.startswith("mask_padding") for option in main["options"])
    assert unmasked["dataset"] == main["dataset"]
    # The unmasked runs came before returns-to-go were scaled by the best return (1 here), not 9.
    assert unmasked["settings"] == main["settings"] | {"return_scale": 9.0}


def test_main_crosscheck_scales_returns_by_the_best_return():
    """The main table's runs divide returns-to-go by the best return's magnitude (both sides take
    the same scale); the table it replaces is the same command at the largest |return|."""
    main, before = data("d3rlpy_crosscheck.json"), data("d3rlpy_crosscheck_largest_return_scale.json")
    assert main["settings"]["return_scale"] == max(1.0, abs(main["settings"]["target_return"])) == 1.0
    assert before["settings"] == main["settings"] | {"return_scale": 9.0}
    assert before["options"] == main["options"] and len(before["runs"]) == len(main["runs"])


def test_dt_step_profile_is_its_data_file():
    """The profile of our DT's step on the offline page is docs/data/dt_step_profile.json, whose
    shares cover the whole recorded time and whose speed-up is its rounds' (not edited by hand)."""
    module = script("dt_step_profile")
    measured = data("dt_step_profile.json")
    assert measured["provenance"]["written_by"] == "docs/scripts/dt_step_profile.py"
    assert sum(measured["shares_percent"].values()) == pytest.approx(100.0)
    times = measured["ms_per_step"]
    ratios = [before / ours for before, ours in zip(times["before"], times["ours"])]
    assert measured["speedup_median"] == pytest.approx(float(np.median(ratios)))
    assert list(measured["shares_percent"]) == [*module.KINDS, module.OTHER]
    section = page(OFFLINE_PAGE).split("## Cross-check against d3rlpy", 1)[1]
    for block in module.quotes(measured):
        assert_blocks_in_page(block, section, "dt_step_profile.json")


# ---- the classic baselines' error tables and the results page ----------------------------------


@pytest.mark.parametrize(
    "name, page_name",
    [
        ("plot_regression", "envs/regression.md"),
        ("plot_mrp", "envs/mrp.md"),
        ("icrl_curves", "envs/icrl.md"),
        ("icrl_paper_settings", "envs/icrl.md"),
        ("icrl_ad_sources", "envs/icrl.md"),
    ],
)
def test_error_tables_are_their_data_files(name, page_name):
    module = script(name)
    measured = data(module.DATA.name)
    assert measured["provenance"]["written_by"] == f"docs/scripts/{name}.py"
    assert_blocks_in_page(module.table(measured), page(page_name), module.DATA.name)


def test_results_page_is_its_committed_results():
    from leaderboard.report import markdown_tables
    from leaderboard.results import read_results

    files = sorted((DATA / "results").glob("*.json"))
    run = data("results_run.json")
    assert [path.name for path in files] == run["results"]
    results = [read_results(path) for path in files]  # validated: every number recomputed
    text = page("results.md")
    assert_blocks_in_page(markdown_tables(results), text, "docs/data/results/")
    assert f"took **{run['wall_time_s']:.0f} s**" in text


# ---- exact values: computed by the project's code, checked here ------------------------------------


def test_blackjack_table_is_the_dynamic_programme():
    from baselines.classic.blackjack import blackjack_dp, dealer_final_distribution, random_policy_return

    def six(value: Fraction, bold: bool = False) -> str:
        text = f"{float(value):.6f}".replace("-", "−")
        return f"**{text}**" if bold else text

    text = page("baselines/classic_games.md")
    for natural, sab in ((False, False), (True, False), (False, True), (True, True)):
        best, win = blackjack_dp(natural, sab), blackjack_dp(natural, sab, objective="win")
        cells = [
            six(best.expected_return, True),
            six(best.win_probability),
            six(best.draw_probability),
            six(best.loss_probability),
            six(win.win_probability),
            six(win.expected_return),
            six(random_policy_return(natural, sab), True),
        ]
        assert f"| {natural} | {sab} | " + " | ".join(cells) + " |" in text
    for card, label in zip(range(1, 11), ["A", *map(str, range(2, 11))]):
        final = dealer_final_distribution(card)
        cells = [final.get(key, 0) for key in (17, 18, 19, 20, 21, "natural", "bust")]
        row = " | ".join("0" if value == 0 else f"{float(value):.4f}" for value in cells)
        assert f"| {label} | {row} |" in text


def test_points24_random_policy_figures_are_the_exact_loss_term_and_the_frozen_reference():
    from baselines.classic.number_games import points24_random_loss_return

    loss, solvable_loss = points24_random_loss_return(), points24_random_loss_return(solvable_only=True)
    text = page("envs/points.md")
    assert f"used, {float(loss):.9f} and {float(solvable_loss):.9f})".replace("-", "−") in text
    assert f"**≈ {float(loss):.5f}**".replace("-", "−") in text
    assert f"**≈ {float(solvable_loss):.5f}**".replace("-", "−") in text
    # "200 000 Monte Carlo episodes saw none": the frozen Monte Carlo reference is the loss term alone.
    references = json.loads((ROOT / "leaderboard" / "data" / "references-v0.json").read_text())["references"]
    assert references['icl/Points24-v0{"obs_mode":"symbolic"}']["r_random"] == float(loss)


def test_every_data_file_names_the_script_that_wrote_it():
    for path in sorted(DATA.glob("*.json")):
        record = json.loads(path.read_text())
        if path.name == "icl_gpu_results_h200.json":  # written before provenance was recorded
            assert "gpu_bench" in record["about"]
            continue
        writer = record["provenance"]["written_by"]
        assert (ROOT / writer).is_file(), f"{path.name}: no script {writer}"


def test_mqar_page_quotes_its_data_file():
    table = script("mqar_reproduce").markdown_table(data("mqar_cpu.json")["runs"])
    assert table in page("envs/associative_recall.md")
    assert data("mqar_cpu.json")["provenance"]["written_by"] == "docs/scripts/mqar_reproduce.py"


def test_datasets_page_is_its_data_file():
    """docs/datasets.md shows the standard datasets and the image storage measured by its script,
    for the registry as it is now."""
    from baselines.offline.standard import STANDARD_DATASETS

    module = script("offline_datasets")
    measured = data("offline_datasets.json")
    assert measured["provenance"]["written_by"] == "docs/scripts/offline_datasets.py"
    assert [(row["dataset_id"], row["episodes"], row["seed"]) for row in measured["standard"]] == [
        (d.dataset_id, d.episodes, d.seed) for d in STANDARD_DATASETS
    ]
    for block in (
        module.registry_table(measured),
        module.image_table(measured),
        module.measured_note(measured),
    ):
        assert_blocks_in_page(block, page("datasets.md"), "offline_datasets.json")


def test_shipped_checkpoint_scores_are_their_data_file():
    """The shipped checkpoints' scores on the offline and in-context pages are those of
    docs/data/checkpoints.json (tests/test_checkpoints.py checks the file against fresh plays)."""
    module = script("score_checkpoints")
    measured = data("checkpoints.json")
    assert measured["provenance"]["written_by"] == "docs/scripts/score_checkpoints.py"
    offline = page("baselines/offline.md").split("## Shipped checkpoints", 1)[1]
    assert_blocks_in_page(module.offline_table(measured), offline, "checkpoints.json")
    assert_blocks_in_page(module.timing_note(measured), offline, "checkpoints.json")
    icl = page(ICL_PAGE).split("## Shipped checkpoints", 1)[1]
    assert_blocks_in_page(module.icl_table(measured), icl, "checkpoints.json")


# ---- the offline RL page ------------------------------------------------------------------------


#: The datasets whose row the discussion of docs/baselines/offline.md quotes, beside the mixed ones.
QUOTED_DATASETS = (
    "icl/ezpoints-symbolic/random-v0",
    "icl/points24-symbolic/random-v0",
    "icl/blackjack-symbolic/random-v0",
    "icl/numberline-image/mixed-v0",
    "icl/blackjack-image/mixed-v0",
)


def test_offline_results_are_the_data_file():
    """docs/baselines/offline.md shows the table docs/scripts/offline_results.py renders from its
    file, and the discussion's figures on the mixed datasets are that file's."""
    module = script("offline_results")
    measured = data("offline_results.json")
    assert measured["provenance"]["written_by"] == "docs/scripts/offline_results.py"
    text = page("baselines/offline.md")
    assert module.results_table(measured) in text
    quoted = [module.mixed_outcome_sentence(measured, game) for game in ("NumberLine", "Blackjack")]
    quoted += [
        module.mixed_summary(measured, game) for game in ("NumberLine", "Blackjack", "EZPoints", "Points24")
    ]
    quoted += [module.dataset_summary(measured, dataset) for dataset in QUOTED_DATASETS]
    quoted += [module.best_return_summary(measured, dataset) for dataset in QUOTED_DATASETS[:2]]
    earlier = data("offline_results_largest_return_scale.json")
    quoted.append(module.masking_summary(earlier, data("offline_results_unmasked.json")))
    for sentence in quoted:
        assert sentence in " ".join(text.split()), f"the page should say {sentence!r}"


def test_offline_results_commands_and_masking_are_the_data_files():
    """The page's command is the one the data file's settings give (every row's options, the padding
    mask included), and the masking table compares the data file with the unmasked one."""
    module = script("offline_results")
    measured = data("offline_results.json")
    unmasked = data("offline_results_unmasked.json")
    assert unmasked["provenance"]["written_by"] == "docs/scripts/offline_results.py"
    text = page("baselines/offline.md")
    assert module.reproduce_command(measured) in text
    assert module.reproduce_command(unmasked) in text
    for row in measured["rows"]:
        if "mask_padding" in row["config"]["model"]:
            assert f"mask_padding={str(row['config']['model']['mask_padding']).lower()}" in row["options"]
    # The masking table compares the runs before the return scale changed, masked and not.
    earlier = data("offline_results_largest_return_scale.json")
    assert module.reproduce_command(earlier) == module.reproduce_command(measured)
    table = module.masking_table(earlier, unmasked)
    assert table.count("\n") > 2, "the masking table should compare rows"
    assert table in text
    scale = module.scale_table(measured, earlier)
    assert len(scale.splitlines()) == 2 + 3 * len(module.RESCALED_DATASETS), "every rescaled transformer row"
    assert scale in text


def test_masking_table_marks_rows_whose_intervals_part():
    module = script("offline_results")

    def row(algorithm, iqm, low, high, mask):
        return {
            "dataset": "icl/x",
            "algorithm": algorithm,
            "iqm": iqm,
            "low": low,
            "high": high,
            "steps": 300,
            "options": ["layers=1", *([f"mask_padding={mask}"] if mask else [])],
        }

    unmasked = {
        "rows": [row("Reinformer", 40.0, 35.0, 45.0, None), row("DT (best return)", 50.0, 40.0, 60.0, None)]
    }
    masked = {
        "rows": [
            row("Reinformer", 90.0, 80.0, 95.0, "true"),
            row("DT (best return)", 55.0, 50.0, 58.0, "true"),
            row("BC", 99.0, 99.0, 99.0, None),
        ]
    }
    lines = module.masking_table(masked, unmasked).splitlines()
    assert lines[2].endswith("| Reinformer | 40.0 [35.0, 45.0] | 90.0 [80.0, 95.0] | up |")
    assert lines[3].endswith("| - |")
    assert len(lines) == 4, "BC has no padding and no unmasked row: not compared"


def test_a_per_run_data_file_keeps_earlier_runs_and_refuses_an_unfinished_folder(tmp_path):
    """``data_record.record_runs`` (the VLM misread and encoder-probe files): new runs are added,
    the file's other runs kept, and a folder without its weights stops the script by name."""
    from benchmarks import data_record

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_text("")
    (tmp_path / "unfinished").mkdir()
    out = tmp_path / "runs.json"
    data_record.record_runs(out, "script.py", tmp_path, "a", lambda folder: {"measured": folder.name})
    data_record.record_runs(out, "script.py", tmp_path, "b,", lambda folder: {"measured": folder.name})
    written = data_record.read(out)
    assert written["runs"] == {"a": {"measured": "a"}, "b": {"measured": "b"}}
    assert written["provenance"]["written_by"] == "script.py"
    with pytest.raises(SystemExit, match="--runs unfinished: no model.safetensors"):
        data_record.record_runs(out, "script.py", tmp_path, "unfinished", lambda folder: {})
    assert data_record.read(out)["runs"] == written["runs"]
