"""Evaluation on a Dask cluster (leaderboard/distributed.py, harness.play_on_pool): the same results
file as a local run, a worker killed mid-shard, an agent that raises, and nothing of Dask without
``--workers`` or ``--scheduler``.

The cluster scenario runs once, in a child process inside a loopback-only network namespace
(``benchmarks.live.in_loopback_namespace``): a 2-worker ``LocalCluster`` on 127.0.0.1 without a
dashboard, which nothing beyond this machine could reach even if Dask tried. Every check reads that
one scenario, and it is kept small, since most of its time is processes starting and importing:
core-v0 only where the check is about core-v0, the text suite (40 episodes per seed) elsewhere, no
HTML report for ``run_all``, no sleeping but the hold that a worker is killed in
(``pytest -s`` prints the seconds of each phase).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.live import in_loopback_namespace
from leaderboard.distributed import SCHEDULER_ENV, pool_options
from leaderboard.harness import AgentError, PartialEvaluation, evaluate
from leaderboard.results import ResultsValidationError, validate_results

ROOT = Path(__file__).resolve().parents[1]
RANDOM = "baselines.classic.random_agent:RandomAgent"
FAILING = "distributed_agents:FailingRandomAgent"
#: Part of core-v0: two games the random agent plays with its per-env reset counter.
PART = ["NumberLine", "EZPoints"]
#: Where the scenarios that are not about core-v0 itself play: its games as text, 40 episodes per
#: seed instead of 1,000 (the same shards and merges, a twenty-fifth of the playing).
CHEAP = "text-v0"
#: (reference, suite, entries, config) evaluated both here and on the cluster.
CASES = {
    "random core-v0": (RANDOM, "core-v0", PART, {}),
    "ridge core-v0": ("baselines.classic.regression:Ridge", "core-v0", ["LinReg"], {}),
    "random text-v0": (RANDOM, "text-v0", ["NumberLine"], {"seed": 3}),
}
#: What a distributed run may record differently: wall times and hardware.
MACHINE_FIELDS = ("hardware", "wall_time_s", "created")


def differences(local: dict, pooled: dict) -> list[str]:
    """Every field where two results files differ, but wall times and hardware."""
    found = []
    for key in sorted(set(local) | set(pooled)):
        if key in MACHINE_FIELDS:
            continue
        if key != "entries" and local.get(key) != pooled.get(key):
            found.append(f"{key}: {local.get(key)!r:.80} != {pooled.get(key)!r:.80}")
    if len(local["entries"]) != len(pooled["entries"]):
        return [*found, f"entries: {len(local['entries'])} != {len(pooled['entries'])}"]
    for i, (a, b) in enumerate(zip(local["entries"], pooled["entries"])):
        for key in sorted(set(a) | set(b)):
            if key != "wall_time_s" and a.get(key) != b.get(key):
                found.append(f"entries.{i}.{key}: {a.get(key)!r:.80} != {b.get(key)!r:.80}")
    return found


def test_differences_sees_one_changed_return():
    """The comparison can fail: one return changed in one entry is named."""
    local = json.loads(evaluate(RANDOM, CHEAP, envs=["NumberLine"], progress=False).to_json())
    pooled = json.loads(json.dumps(local))
    pooled["hardware"]["dask_workers"] = 2
    pooled["entries"][0]["wall_time_s"] += 1
    assert differences(local, pooled) == []
    pooled["entries"][0]["returns"][4][7] += 1.0
    assert differences(local, pooled) == [
        f"entries.0.returns: {local['entries'][0]['returns']!r:.80} != "
        f"{pooled['entries'][0]['returns']!r:.80}"
    ]


# ----------------------------------------------------------------------------------------------
# The scenario on a 2-worker cluster (in the child process)


def _kill_during_shard(log: Path, after_lines: int, killed: list[int]) -> None:
    """Once ``log`` holds ``after_lines`` shard starts, SIGKILL the worker of line ``after_lines``:
    its agent holds that shard (SlowRandomAgent's ``hold_at``) until it is killed, while the other
    worker may already have logged later shards."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= after_lines:
            pid = int(lines[after_lines - 1].split()[0])
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


def _kill_when_logged(log: Path, word: str, killed: list[int]) -> None:
    """Once a line of ``log`` ends with ``word``, SIGKILL the process whose PID starts it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        for line in lines:
            pid, logged = line.split()
            if logged == word:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.02)


def cluster_scenario(out: str) -> dict:
    """Local and distributed runs of the same agents; the CLI through $ICL_BENCH_SCHEDULER; run_all;
    a failing agent with and without keep_going; last, a worker killed mid-shard."""
    from distributed import Client, LocalCluster

    from leaderboard import run_all as run_all_module
    from leaderboard.cli import app
    from leaderboard.run_all import Baseline, run_all

    folder = Path(out)
    found: dict = {"seconds": {}}
    last = time.perf_counter()

    def phase(name: str) -> None:
        """Record the seconds since the previous phase (the scenario's cost, for tuning it)."""
        nonlocal last
        now = time.perf_counter()
        found["seconds"][name] = round(now - last, 2)
        last = now

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        address = cluster.scheduler_address
        found["address"] = address
        phase("cluster")
        for name, (reference, suite, envs, config) in CASES.items():
            local = evaluate(reference, suite, envs=envs, config=config, progress=False)
            pooled = evaluate(reference, suite, envs=envs, config=config, progress=False, scheduler=address)
            found[name] = [json.loads(local.to_json()), json.loads(pooled.to_json())]
            phase(name)

        path = folder / "cli.json"
        result = CliRunner().invoke(
            app,
            [
                "evaluate",
                "--agent",
                RANDOM,
                "--suite",
                CHEAP,
                "--envs",
                "NumberLine",
                "--no-store",
                "--out",
                str(path),
            ],
            env={SCHEDULER_ENV: address},
        )
        local = evaluate(RANDOM, CHEAP, envs=["NumberLine"], progress=False)
        found["cli"] = {"exit": result.exit_code, "output": result.output[-2000:]}
        found["cli"]["files"] = [json.loads(local.to_json()), json.loads(path.read_text())]
        phase("cli")

        baselines = [
            Baseline(RANDOM, suite=CHEAP, envs=("NumberLine",)),
            Baseline("baselines.classic.regression:Ridge", envs=("LinReg",)),
            Baseline(FAILING, {"fail_on": "icl/LinearRegression-v0"}, envs=("LinReg",)),
        ]
        # Against the local runs above (run_all evaluates each baseline as evaluate() does). Its
        # HTML report (matplotlib: half of run_all's time here) is the local code path, tested in
        # test_harness.py; here it is left out.
        run_all_module.write_html_report = lambda collected, out_dir: out_dir / "index.html"
        summary = run_all(
            folder / "run",
            db=str(folder / "run.sqlite"),
            baselines=baselines,
            progress=False,
            scheduler=address,
        )
        found["run_all"] = {
            "local": [found["cli"]["files"][0], found["ridge core-v0"][0]],
            "pooled": [json.loads(results.to_json()) for results in summary.results],
            "failures": [error for _, error in summary.failures],
        }

        phase("run_all")
        failing = {"fail_on": "icl/EZPoints-v0"}
        try:
            evaluate(FAILING, CHEAP, envs=PART, config=failing, progress=False, scheduler=address)
        except AgentError as error:
            found["raised"] = str(error)
        try:
            evaluate(
                FAILING, CHEAP, envs=PART, config=failing, progress=False, scheduler=address, keep_going=True
            )
        except PartialEvaluation as error:
            found["partial"] = {"results": error.results.to_json(), "failures": error.failures}
        found["partial_local"] = evaluate(
            FAILING, CHEAP, envs=["NumberLine"], config=failing, progress=False
        ).to_json()

        phase("failing")

        # --isolate on the pool: each worker plays the agent in a child process of its own, which
        # logs its own PID; the file is the local (in-process) run's.
        log = folder / "isolated.log"
        logging = ("distributed_agents:SlowRandomAgent", CHEAP)
        config = {"log": str(log), "delay": 0.0}
        local = evaluate(*logging, envs=["NumberLine"], config=config, progress=False)
        played_locally = len(log.read_text().splitlines())
        pooled = evaluate(
            *logging, envs=["NumberLine"], config=config, progress=False, scheduler=address, isolate=True
        )
        lines = log.read_text().splitlines()[played_locally:]
        found["isolated"] = {
            "files": [json.loads(local.to_json()), json.loads(pooled.to_json())],
            "pids": sorted({int(line.split()[0]) for line in lines}),
            "workers": sorted(client.run(os.getpid).values()),
            "here": os.getpid(),
        }
        phase("isolated")

        log = folder / "slow.log"
        slow = ("distributed_agents:SlowRandomAgent", CHEAP)
        # The local run writes one line per seed (5); the distributed run's second shard start holds.
        config = {
            "log": str(log),
            "hold_at": 5 + 2,
            "delay": 0.0,
        }  # the hold alone makes the kill land mid-shard
        local = evaluate(*slow, envs=["NumberLine"], config=config, progress=False)
        played_locally = len(log.read_text().splitlines())
        killed: list[int] = []
        killer = threading.Thread(target=_kill_during_shard, args=(log, config["hold_at"], killed))
        killer.start()
        pooled = evaluate(*slow, envs=["NumberLine"], config=config, progress=False, scheduler=address)
        killer.join()
        lines = log.read_text().splitlines()[played_locally:]
        found["killed"] = {
            "played_locally": played_locally,
            "pid": killed,
            "shards": sum(len(entry["seeds"]) for entry in json.loads(local.to_json())["entries"]),
            "starts": len(lines),
            "pids": sorted({int(line.split()[0]) for line in lines}),
            "files": [json.loads(local.to_json()), json.loads(pooled.to_json())],
        }
        phase("killed")

        # Last: its own killed worker restarts cold, and no evaluation after it waits on that.
        found["collect"] = collect_scenario(client, address, folder)
        phase("collect")
    return found


#: A dataset collected here and on the cluster: (game, policy, episodes) in blocks of 8 episodes on
#: 4 sub-envs: 8 blocks, the last one short.
COLLECT = ("NumberLine", "eps-optimal:0.3", 60)
COLLECT_OPTIONS = {"seed": 5, "num_envs": 4, "block_episodes": 8}


def collect_scenario(client, address: str, folder: Path) -> dict:
    """Datasets collected here and with their seed blocks on the cluster: through ``collect``, the
    CLI's ``collect`` and ``collect --standard`` (joining through $ICL_BENCH_SCHEDULER), and blocks
    whose worker is killed mid-block; each gives its content hash."""
    from distributed_agents import held_collect_block

    from baselines.offline import standard
    from baselines.offline.collect import collect, merge_blocks, plan_collection
    from baselines.offline.datasets import buffers_hash, dataset_info, load_offline_dataset
    from leaderboard.cli import app
    from leaderboard.distributed import run_shards

    os.environ["MINARI_DATASETS_PATH"] = str(folder / "datasets")  # the client writes; workers only play
    found: dict = {}

    def hash_of(dataset) -> str:
        return dataset_info(dataset)["content_hash"]

    found["local"] = hash_of(collect(*COLLECT, **COLLECT_OPTIONS, dataset_id="tt/local-v0"))
    found["pooled"] = hash_of(
        collect(*COLLECT, **COLLECT_OPTIONS, dataset_id="tt/pooled-v0", scheduler=address)
    )
    game, policy, episodes = COLLECT
    options = [f"--{key.replace('_', '-')}={value}" for key, value in COLLECT_OPTIONS.items()]
    arguments = [game, f"--policy={policy}", f"--episodes={episodes}", *options, "--dataset-id=tt/cli-v0"]
    result = CliRunner().invoke(app, ["collect", *arguments], env={SCHEDULER_ENV: address})
    found["cli"] = {"exit": result.exit_code, "output": result.output[-2000:]}
    if result.exit_code == 0:
        found["cli"]["hash"] = hash_of(load_offline_dataset("tt/cli-v0"))

    # --standard with two small stand-ins for the standard datasets, built here, then on the cluster.
    tiny = (
        standard.StandardDataset("Blackjack", "symbolic", "mixed", 40, 1_000_000, num_envs=8),
        standard.StandardDataset("NumberLine", "image", "mixed", 12, 2_000_000, num_envs=4),
    )
    standard.STANDARD_DATASETS = tiny  # this child process is thrown away after the scenario
    found["standard"] = {}
    for name, environment in (("local", {SCHEDULER_ENV: ""}), ("pooled", {SCHEDULER_ENV: address})):
        result = CliRunner().invoke(app, ["collect", "--standard", "--overwrite"], env=environment)
        found["standard"][name] = {
            "exit": result.exit_code,
            "output": result.output[-2000:],
            "hashes": [hash_of(load_offline_dataset(d.dataset_id)) for d in tiny if result.exit_code == 0],
        }

    # A worker killed while it plays a block: the block is played again, the dataset is the same.
    log = folder / "collect.log"
    blocks = plan_collection(*COLLECT, **COLLECT_OPTIONS, dataset_id="tt/killed-v0").blocks
    killed: list[int] = []
    held = blocks[1].first
    killer = threading.Thread(target=_kill_when_logged, args=(log, str(held), killed))
    killer.start()
    outcomes = run_shards(
        client,
        held_collect_block,
        [(block, str(log), held) for block in blocks],
        [block.label for block in blocks],
    )
    killer.join()
    buffers, _ = merge_blocks(outcomes)
    plan = blocks[0]
    found["killed"] = {
        "pid": killed,
        "blocks": len(blocks),
        "starts": len(log.read_text().splitlines()),
        "hash": buffers_hash(plan.env_id, plan.env_kwargs, buffers),
    }
    return found


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed")
    found = in_loopback_namespace("test_distributed:cluster_scenario", timeout=240, out=str(out))
    print("scenario seconds:", found["seconds"])  # shown with pytest -s: where the time goes
    return found


def test_the_cluster_listens_on_loopback(scenario):
    assert scenario["address"].startswith("tcp://127.0.0.1:")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_distributed_run_is_the_local_run(scenario, case):
    local, pooled = scenario[case]
    assert differences(local, pooled) == []
    assert pooled["hardware"]["dask_workers"] == 2  # both workers played shards
    assert local["hardware"] != pooled["hardware"]


def test_the_cli_joins_the_cluster_of_icl_bench_scheduler(scenario):
    assert scenario["cli"]["exit"] == 0, scenario["cli"]["output"]
    local, pooled = scenario["cli"]["files"]
    assert differences(local, pooled) == []
    assert "dask_workers" in pooled["hardware"]


def test_run_all_in_one_pool_is_the_local_run(scenario):
    run = scenario["run_all"]
    assert len(run["pooled"]) == 2
    for local, pooled in zip(run["local"], run["pooled"]):
        assert differences(local, pooled) == []
    # The failing baseline is reported, with its entry and seed, the others stored.
    (failure,) = run["failures"]
    assert "LinReg · seed 10000" in failure and "deliberate failure" in failure, failure


def test_an_agent_that_raises_names_its_entry_and_seed(scenario):
    message = scenario["raised"]
    assert "EZPoints" in message and "seed" in message and "deliberate failure" in message, message


def test_keep_going_writes_a_partial_file_of_the_other_entries(scenario):
    partial = scenario["partial"]
    results = validate_results(partial["results"])  # a valid file ...
    assert not results.complete  # ... that says it is partial
    assert [entry.label for entry in results.entries] == ["NumberLine"]
    assert len(partial["failures"]) == 5  # one per seed of EZPoints
    assert all("EZPoints" in failure and "deliberate failure" in failure for failure in partial["failures"])
    # Its NumberLine entry is what a local run of that entry alone gives.
    local = json.loads(scenario["partial_local"])
    assert differences(local, json.loads(partial["results"])) == []


def test_isolate_on_the_pool_plays_each_agent_in_a_process_of_its_own(scenario):
    isolated = scenario["isolated"]
    local, pooled = isolated["files"]
    assert differences(local, pooled) == []
    assert pooled["hardware"]["dask_workers"] == 2
    # The agent acted in processes that are neither the workers nor this one.
    assert isolated["pids"] and not set(isolated["pids"]) & {*isolated["workers"], isolated["here"]}, isolated


def test_a_worker_killed_mid_shard_changes_nothing(scenario):
    killed = scenario["killed"]
    assert killed["played_locally"] == killed["shards"] == 5
    assert len(killed["pid"]) == 1, "the killer found no shard under way"
    # The killed worker's shard started again elsewhere: more starts than shards.
    assert killed["starts"] > killed["shards"], killed
    assert killed["pid"][0] in killed["pids"]
    local, pooled = killed["files"]
    assert differences(local, pooled) == []


def test_a_dataset_collected_on_the_cluster_is_the_local_one(scenario):
    collected = scenario["collect"]
    assert collected["pooled"] == collected["local"]
    assert collected["cli"]["exit"] == 0, collected["cli"]["output"]
    assert collected["cli"]["hash"] == collected["local"]


def test_the_standard_datasets_built_on_the_cluster_are_the_local_ones(scenario):
    built = scenario["collect"]["standard"]
    for name in ("local", "pooled"):
        assert built[name]["exit"] == 0, built[name]["output"]
    assert len(built["local"]["hashes"]) == 2 and built["pooled"]["hashes"] == built["local"]["hashes"]


def test_a_worker_killed_mid_block_changes_no_episode(scenario):
    killed = scenario["collect"]["killed"]
    assert len(killed["pid"]) == 1, "the killer found no block under way"
    assert killed["starts"] > killed["blocks"] == 8, killed  # the killed block was played again
    assert killed["hash"] == scenario["collect"]["local"]


# ----------------------------------------------------------------------------------------------
# Without a cluster


def test_a_partial_file_cannot_claim_to_be_complete():
    with pytest.raises(PartialEvaluation) as caught:
        evaluate(
            FAILING, CHEAP, envs=PART, config={"fail_on": "icl/EZPoints-v0"}, progress=False, keep_going=True
        )
    partial = caught.value
    assert (
        len(partial.failures) == 1
        and "EZPoints" in partial.failures[0]
        and "seed 10000" in partial.failures[0]
    )
    data = json.loads(partial.results.to_json())
    assert validate_results(data).complete is False
    data["complete"] = True
    with pytest.raises(ResultsValidationError) as refused:
        validate_results(data)
    assert refused.value.field == "complete"


def test_without_keep_going_a_failure_stops_the_evaluation():
    with pytest.raises(AgentError) as caught:
        evaluate(FAILING, CHEAP, envs=PART, config={"fail_on": "icl/NumberLine-v0"}, progress=False)
    assert not isinstance(caught.value, PartialEvaluation)
    assert "NumberLine" in str(caught.value) and "seed 10000" in str(caught.value)


def test_pool_options():
    assert pool_options(None, None, environ={}) == (None, None)
    assert pool_options(None, None, environ={SCHEDULER_ENV: "tcp://10.0.0.1:8786"}) == (
        None,
        "tcp://10.0.0.1:8786",
    )
    assert pool_options(3, None, environ={SCHEDULER_ENV: "tcp://10.0.0.1:8786"}) == (3, None)
    for workers, scheduler, named in [
        (2, "tcp://127.0.0.1:8786", "give only one"),
        (0, None, "--workers"),
        (True, None, "--workers"),
        (None, "127.0.0.1:8786", "--scheduler"),
        (None, "http://127.0.0.1:8786", "--scheduler"),
    ]:
        with pytest.raises(ValueError, match=named):
            pool_options(workers, scheduler, environ={})


def test_cli_refuses_bad_pool_options_before_playing():
    from leaderboard.cli import app

    runner = CliRunner()
    both = runner.invoke(
        app, ["evaluate", "--agent", RANDOM, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]
    )
    assert both.exit_code == 2 and "give only one" in both.output
    bad = runner.invoke(app, ["run", "--workers", "0"])
    assert bad.exit_code == 2 and "--workers" in bad.output
    limit = runner.invoke(
        app,
        ["evaluate", "--agent", RANDOM, "--no-store", "--workers", "2", "--isolate", "--step-timeout", "-1"],
    )
    assert limit.exit_code == 1 and "step_timeout must be a positive" in limit.output  # before any cluster


def test_a_local_run_imports_no_dask(tmp_path):
    """Without --workers or --scheduler nothing changes: one process, and Dask is never imported,
    by an evaluation or by a dataset collection."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from leaderboard.cli import app\n"
        f"result = CliRunner().invoke(app, ['evaluate', '--agent', {RANDOM!r}, '--envs', 'NumberLine', "
        f"'--no-store', '--out', {str(tmp_path / 'r.json')!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "result = CliRunner().invoke(app, ['collect', 'NumberLine', '--policy', 'mixed', '--episodes', '20', "
        "'--block-episodes', '8'])\n"
        "assert result.exit_code == 0 and '20 episodes' in result.output, result.output\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('dask', 'distributed')))\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != SCHEDULER_ENV}
    environment["PYTHONPATH"] = str(ROOT)
    environment["MINARI_DATASETS_PATH"] = str(tmp_path / "datasets")
    finished = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=120
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stdout.strip().splitlines()[-1] == "[]"
    assert validate_results((tmp_path / "r.json").read_text()).entries[0].label == "NumberLine"
