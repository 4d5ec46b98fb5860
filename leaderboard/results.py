"""The results file of one evaluation, and the one function that decides whether a file is valid.

A results file is JSON holding everything needed to check its numbers: the suite (name and content
hash) and normalization references version, package versions, the agent reference and config (and its
hash), the seed set and its seeds, every episode's return and length, the derived scores and
aggregates, the hardware and the wall time. :func:`validate_results` parses a file strictly (no extra
or missing fields, no type coercion, no NaN or infinity), then checks it against the published suite,
the seeds of its seed set (a test set's take its secret) and what its envs can pay
(``icl_envs.bounds``), and recomputes every derived number from the raw returns. The leaderboard
server reuses it unchanged.

A results file is untrusted input: its size, nesting depth and numbers are bounded, duplicate keys
and control characters are refused, and every problem is a :class:`ResultsValidationError` (an
:class:`UnreadableResultsError` when the file is not a results file at all), never another exception.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import icl_envs  # noqa: F401  (registers the icl/ ids, whose episode bounds are checked)
from icl_envs.bounds import EpisodeBounds
from leaderboard import scoring
from leaderboard.protocol import Suite, SuiteEntry, entry_key, get_suite, is_game, sha256_of
from leaderboard.references import REFERENCES_VERSION, reference_for
from leaderboard.seed_sets import DEV, TEST, TEST_SET_ID, seeds_for, test_set_id
from leaderboard.untrusted import first_control_character

FORMAT = "icl-bench-results"
FORMAT_VERSION = 1
#: Recomputed numbers must match the recorded ones to this relative (and absolute) tolerance: both
#: sides run the same float64 code, and JSON round-trips floats exactly, so only summation order of
#: a different numpy build could differ, by a few ulps.
TOLERANCE = 1e-9
#: Packages whose versions every results file records (leaderboard.provenance.package_versions()).
REQUIRED_VERSIONS = ("python", "numpy", "gymnasium", "icl-envs")
#: Longest agent reference accepted (the store's column size).
MAX_REFERENCE_LENGTH = 500
#: Largest results file read, in bytes: a complete core-v0 file (47,500 episodes) is roughly 2 MB.
MAX_FILE_BYTES = 16 * 2**20
#: Deepest nesting of a free-form field (agent.config, an entry's kwargs, hardware): the field's own
#: object or list counts as one level. The store's JSON serializer gives up near 255 levels.
MAX_FREE_FORM_DEPTH = 32
#: Deepest nesting anywhere in a file (free-form fields sit at most 3 levels down).
MAX_DEPTH = 64
#: Longest integer literal: any longer one is outside the float64 range that every number must fit
#: (Python refuses to convert literals over 4,300 digits; a JavaScript reader turns them into Infinity).
MAX_INTEGER_DIGITS = 309


class ResultsValidationError(ValueError):
    """A results file is malformed or its numbers do not match; ``field`` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnreadableResultsError(ResultsValidationError):
    """Not a results file at all: it cannot be read, is too large, is not UTF-8 JSON, does not hold
    a JSON object, or its ``format`` is not ``icl-bench-results`` (``icl-bench validate`` exits 2)."""


class UnverifiableResultsError(ResultsValidationError):
    """A ``test`` results file that breaks no rule checked without the secret of its test set, but
    whose seeds cannot be verified without it (``icl-bench validate`` exits 3)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Interval(_Strict):
    value: float
    low: float
    high: float


class Aggregates(_Strict):
    iqm: Interval
    mean: Interval
    median: Interval
    optimality_gap: Interval


class Bootstrap(_Strict):
    reps: int
    seed: int
    confidence: float


class AgentInfo(_Strict):
    reference: str
    config: dict[str, Any]
    config_hash: str


class EntryResult(_Strict):
    env_id: str
    kwargs: dict[str, Any]
    label: str
    seeds: list[int]
    #: returns[i][j]: return of episode j of seed i.
    returns: list[list[float]]
    episode_lengths: list[list[int]]
    mean_return: float
    #: Normalized score of the mean return, with a bootstrap interval over episodes.
    normalized_score: Interval
    #: Normalized score of each seed's mean return: this entry's column of the score matrix.
    seed_scores: list[float]
    #: Mean squared error at each context length (in-context envs), else null.
    errors_by_context: list[float] | None
    #: Text actions the env could not parse (text suites), else null.
    parse_failures: int | None
    wall_time_s: float
    #: Mean return of each sub-episode of the trials (in-context RL envs): the learning curve.
    #: Absent (null) for every other env, and in files written before it existed.
    returns_by_episode: list[float] | None = Field(default=None, exclude_if=lambda curve: curve is None)

    @property
    def success_rate(self) -> float | None:
        """Share of this entry's episodes won (return > 0), the metric the card-game literature
        reports (Zhai et al. 2024); None for an env whose episodes are not won or lost (the
        in-context prediction and RL envs: ``leaderboard.protocol.is_game``). Derived from the
        returns, so every results file, old or new, has it."""
        if not is_game(self.env_id):
            return None
        return float(np.mean(np.asarray(self.returns) > 0))


class ResultsFile(_Strict):
    format: Literal["icl-bench-results"]
    format_version: Literal[1]
    suite: str
    suite_hash: str
    references_version: int
    #: "dev": the suite's public seeds; "test": held-out seeds derived from a secret (seed_sets.py).
    seed_set: Literal["dev", "test"]
    #: The test set's id (``test-`` and 8 hex digits of the secret's hash); null for dev. Optional
    #: so that files written before test sets existed (all dev) still read.
    test_set: str | None = None
    agent: AgentInfo
    entries: list[EntryResult]
    #: True when every entry of the suite was evaluated; aggregates of a partial file cover its entries.
    complete: bool
    aggregates: Aggregates
    bootstrap: Bootstrap
    versions: dict[str, str]
    hardware: dict[str, Any]
    wall_time_s: float
    created: str

    @property
    def seed_set_id(self) -> str:
        """``dev``, or the id of the test set the file was scored on."""
        return self.test_set if self.seed_set == TEST and self.test_set else self.seed_set

    def to_json(self, indent: int | None = 1) -> str:
        return self.model_dump_json(indent=indent)

    def write(self, path: str | os.PathLike) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @property
    def content_hash(self) -> str:
        """Identity of a submission: the same agent, config, suite and returns are the same result,
        whenever and wherever it ran (wall time and date do not count)."""
        return sha256_of(
            {
                "suite": self.suite,
                "suite_hash": self.suite_hash,
                "seed_set": self.seed_set,
                "agent": self.agent.reference,
                "config_hash": self.agent.config_hash,
                "entries": [[e.env_id, e.kwargs, e.seeds, e.returns] for e in self.entries],
            }
        )

    @property
    def scored_hash(self) -> str:
        """Identity of the set of entries scored: a quick run on one env (``--envs``) and the same
        agent's full run are different leaderboard rows."""
        return sha256_of([entry_key(e.env_id, e.kwargs) for e in self.entries])

    @property
    def success_rate(self) -> float | None:
        """Share of the game episodes won (return > 0: a hand won, a correct formula, the target
        reached), averaged over the game entries; None without games (``protocol.is_game``)."""
        games = [e.success_rate for e in self.entries if e.success_rate is not None]
        return float(np.mean(games)) if games else None


#: Longest agent label the store keeps (its column size): a config may hold a whole prompt.
MAX_LABEL_LENGTH = 200


def agent_label(results: ResultsFile, max_length: int | None = None) -> str:
    """``regression:Ridge`` or ``regression:GD(steps=3)``: module, class and any config it was built
    with; cut to ``max_length`` characters (ending in "…") if given."""
    reference = results.agent.reference
    if reference.startswith("run:"):
        name = reference
    else:  # the module's last part keeps regression:ZeroPredictor apart from mrp:ZeroPredictor
        module, _, attribute = reference.partition(":")
        name = f"{module.rsplit('.', 1)[-1]}:{attribute}"
    if results.agent.config:
        name += "(" + ", ".join(f"{k}={v}" for k, v in sorted(results.agent.config.items())) + ")"
    if max_length is not None and len(name) > max_length:
        return name[: max_length - 1] + "…"
    return name


# ----------------------------------------------------------------------------------------------
# Derived numbers: one implementation shared by building and validating


def _interval(interval: scoring.Interval) -> dict[str, float]:
    return {"value": interval.value, "low": interval.low, "high": interval.high}


def derive_entry(key: str, returns: np.ndarray, bootstrap: Mapping[str, Any]) -> dict[str, Any]:
    """Mean return, normalized score with interval, and per-seed scores of one entry's returns."""
    reference = reference_for(key)
    normalized_episodes = scoring.normalized_score(returns, reference.r_random, reference.r_reference)
    return {
        "mean_return": float(returns.mean()),
        "normalized_score": _interval(scoring.mean_interval(normalized_episodes, **bootstrap)),
        "seed_scores": normalized_episodes.mean(axis=1).tolist(),
    }


def derive_aggregates(seed_scores: Sequence[Sequence[float]], bootstrap: Mapping[str, Any]) -> dict[str, Any]:
    """Aggregates of the score matrix (rows: seeds, columns: entries) from the entries' seed scores."""
    matrix = np.asarray(seed_scores, dtype=np.float64).T
    intervals = scoring.aggregate_intervals(matrix, **bootstrap)
    return {name: _interval(interval) for name, interval in intervals.items()}


def default_bootstrap() -> dict[str, Any]:
    return {"reps": scoring.BOOTSTRAP_REPS, "seed": scoring.BOOTSTRAP_SEED, "confidence": scoring.CONFIDENCE}


def build_results(
    *,
    suite: Suite,
    runs: Sequence[Any],
    agent_reference: str,
    agent_config: Mapping[str, Any],
    wall_time_s: float,
    versions: Mapping[str, str],
    hardware: Mapping[str, Any],
    test_set: str | None = None,
) -> ResultsFile:
    """Assemble a :class:`ResultsFile` from the harness's entry runs and its provenance probes;
    ``test_set`` names the test set whose seeds the runs played (None: the dev seeds)."""
    bootstrap = default_bootstrap()
    entries = []
    for run in runs:
        entry = run.entry
        entries.append(
            {
                "env_id": entry.env_id,
                "kwargs": dict(entry.kwargs),
                "label": entry.label,
                "seeds": list(entry.seeds),
                "returns": run.returns.tolist(),
                "episode_lengths": run.lengths.tolist(),
                **derive_entry(entry.key, run.returns, bootstrap),
                "errors_by_context": None
                if run.errors_by_context is None
                else run.errors_by_context.tolist(),
                "parse_failures": run.parse_failures,
                "wall_time_s": run.wall_time_s,
                **(
                    {}
                    if run.returns_by_episode is None
                    else {"returns_by_episode": run.returns_by_episode.tolist()}
                ),
            }
        )
    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "suite": suite.name,
        "suite_hash": suite.content_hash,
        "references_version": REFERENCES_VERSION,
        "seed_set": DEV if test_set is None else TEST,
        "test_set": test_set,
        "agent": {
            "reference": agent_reference,
            "config": dict(agent_config),
            "config_hash": sha256_of(dict(agent_config)),
        },
        "entries": entries,
        "complete": len(entries) == len(suite.entries),
        "aggregates": derive_aggregates([e["seed_scores"] for e in entries], bootstrap),
        "bootstrap": bootstrap,
        "versions": dict(versions),
        "hardware": dict(hardware),
        "wall_time_s": wall_time_s,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return ResultsFile.model_validate(data)


# ----------------------------------------------------------------------------------------------
# Validation


def _field(path: Sequence[Any]) -> str:
    shown = ".".join(map(str, path[:8])) + (".…" if len(path) > 8 else "")
    return shown or "file"


#: The fields whose string values may be multi-line text (a language agent's prompt): an agent's
#: config, as the file spells it and as ``check_free_form`` names it.
_MULTILINE_FIELDS = (["agent", "config"], ["agent.config"])


def _check_values(value: Any, path: list[Any], depth: int = 1, layout_ok: bool = False) -> None:
    """Raise naming the first string with a control character, dict key with one, number outside
    the float64 range (NaN, infinity, a huge integer) or container nested deeper than MAX_DEPTH.

    The strict model rejects non-finite numbers in its float fields, but ``agent.config``, entry
    ``kwargs`` and ``hardware`` hold free-form JSON: there a NaN would crash the config hash, or be
    written back as ``null`` by the store, silently changing the submission.
    """
    if isinstance(value, str):
        found = first_control_character(value, layout_ok)
        if found is not None:
            raise ResultsValidationError(
                _field(path), f"control character {found[1]} at position {found[0]} is not allowed"
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ResultsValidationError(_field(path), f"numbers must be finite, got {value}")
    elif isinstance(value, int):
        if abs(value) > sys.float_info.max:
            raise ResultsValidationError(_field(path), "numbers must be within the float64 range (±1.8e308)")
    elif isinstance(value, (dict, list, tuple)):
        if depth > MAX_DEPTH:
            raise ResultsValidationError(_field(path), f"nested deeper than {MAX_DEPTH} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                found = first_control_character(key)
                if found is not None:
                    raise ResultsValidationError(
                        _field(path), f"a key holds control character {found[1]} at position {found[0]}"
                    )
            in_config = layout_ok or path in _MULTILINE_FIELDS
            _check_values(item, [*path, key], depth + 1, in_config)


def _depth(value: Any) -> int:
    """Nesting depth of JSON data: 0 for a scalar, 1 for a flat list or object."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, (list, tuple)):
        return 1 + max(map(_depth, value), default=0)
    return 0


def check_free_form(field: str, value: Any) -> None:
    """Raise unless ``value`` may stand in a free-form field of a results file (an agent config,
    env kwargs, hardware): no control characters, finite float64 numbers, at most MAX_FREE_FORM_DEPTH
    levels deep. The harness checks an agent's config with it before playing."""
    _check_values(value, [field])
    depth = _depth(value)
    if depth > MAX_FREE_FORM_DEPTH:
        raise ResultsValidationError(
            field, f"nested {depth} levels deep; free-form fields nest at most {MAX_FREE_FORM_DEPTH}"
        )


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object that names each key once: with a repeated key, which value counts would depend
    on the reader (Python keeps the last, others the first)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ResultsValidationError("file", f"duplicate key {key!r} in a JSON object")
            seen.add(key)
    return data


def _integer(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise ResultsValidationError(
            "file", f"an integer of {digits} digits: numbers must be within the float64 range (±1.8e308)"
        )
    return int(literal)


def _loads(data: str | bytes | bytearray) -> Any:
    """Parse JSON text strictly: UTF-8, at most MAX_FILE_BYTES, no duplicate key, bounded integers."""
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableResultsError("file", f"larger than {MAX_FILE_BYTES} bytes")
    if not isinstance(data, str):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnreadableResultsError(
                "file", f"not UTF-8 text: {error.reason} at byte {error.start}"
            ) from None
    try:
        # json accepts NaN/Infinity literals; they are rejected by _check_values, naming the field.
        return json.loads(data, object_pairs_hook=_object, parse_int=_integer)
    except json.JSONDecodeError as error:
        raise UnreadableResultsError("file", f"not valid JSON: {error}") from None
    except RecursionError:
        raise ResultsValidationError("file", f"nested deeper than {MAX_DEPTH} levels") from None


def _parse(data: Any) -> ResultsFile:
    if isinstance(data, ResultsFile):
        try:
            dumped = data.model_dump()
        except ValueError as error:  # e.g. pydantic's "maximum serialization depth exceeded"
            raise ResultsValidationError("file", f"cannot be serialized: {error}") from None
        _check_values(dumped, [])  # before a JSON dump could turn NaN into null
        data = data.model_dump(mode="json")
    if isinstance(data, (bytes, bytearray, str)):
        data = _loads(data)
    if not isinstance(data, dict):
        raise UnreadableResultsError("file", f"must hold a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise UnreadableResultsError("format", f"not an icl-bench results file (format must be {FORMAT!r})")
    _check_values(data, [])
    try:
        results = ResultsFile.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in error.errors(include_url=False)
        ]
        first = error.errors(include_url=False)[0]
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:4])})" if len(problems) > 1 else ""
        raise ResultsValidationError(
            ".".join(map(str, first["loc"])) or "file", f"{first['msg']}{more}"
        ) from None
    check_free_form("agent.config", results.agent.config)
    for i, entry in enumerate(results.entries):
        check_free_form(f"entries.{i}.kwargs", entry.kwargs)
    check_free_form("hardware", results.hardware)
    return results


def _close(recorded: float, recomputed: float) -> bool:
    return math.isclose(recorded, recomputed, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def _compare(field: str, recorded: Any, recomputed: Any) -> None:
    """Compare nested dicts/lists of floats; raise naming the first field that differs."""
    if isinstance(recomputed, dict):
        for key, value in recomputed.items():
            _compare(f"{field}.{key}", recorded[key], value)
    elif isinstance(recomputed, list):
        if len(recorded) != len(recomputed):
            raise ResultsValidationError(field, f"has {len(recorded)} values, expected {len(recomputed)}")
        for i, (a, b) in enumerate(zip(recorded, recomputed)):
            _compare(f"{field}.{i}", a, b)
    elif not _close(recorded, recomputed):
        raise ResultsValidationError(field, f"recorded {recorded!r} but the returns give {recomputed!r}")


def validate_results(data: Any, *, secrets: Iterable[bytes] = ()) -> ResultsFile:
    """Parse and check a results file (JSON text, a dict or a model); return it or raise.

    A ``dev`` file must use the suite's published seeds. A ``test`` file must use the seeds of its
    test set, derived from that set's secret: ``secrets`` holds the secrets its holder knows (old
    ones too, for files scored before a rotation), and the one whose id the file names is used.
    Raises :class:`ResultsValidationError` whose ``field`` names the first problem found, or, for a
    test file that is otherwise valid but whose secret is not among ``secrets``,
    :class:`UnverifiableResultsError`.
    """
    results = _parse(data)
    try:
        suite = get_suite(results.suite)
    except ValueError as error:
        raise ResultsValidationError("suite", str(error)) from None
    if results.suite_hash != suite.content_hash:
        raise ResultsValidationError(
            "suite_hash", f"does not match the published content of {suite.name} (another version of it?)"
        )
    if results.references_version != REFERENCES_VERSION:
        raise ResultsValidationError(
            "references_version",
            f"{results.references_version} is unknown; this version is {REFERENCES_VERSION}",
        )
    secret, unverifiable = _seed_set_secret(results, secrets)
    if not 1 <= len(results.agent.reference) <= MAX_REFERENCE_LENGTH:
        # The store keeps the reference in a column of this size (PostgreSQL enforces it).
        raise ResultsValidationError("agent.reference", f"must hold 1 to {MAX_REFERENCE_LENGTH} characters")
    missing = [name for name in REQUIRED_VERSIONS if name not in results.versions]
    if missing:
        # Without them a result cannot be reproduced; the harness always records them.
        raise ResultsValidationError("versions", f"must record the versions of {', '.join(missing)}")
    if results.agent.config_hash != sha256_of(results.agent.config):
        raise ResultsValidationError("agent.config_hash", "does not match agent.config")
    if not results.entries:
        raise ResultsValidationError("entries", "must hold at least one entry")

    suite_order = {entry.key: i for i, entry in enumerate(suite.entries)}
    last = -1
    for i, entry in enumerate(results.entries):
        field = f"entries.{i}"
        key = entry_key(entry.env_id, entry.kwargs)
        if key not in suite_order:
            raise ResultsValidationError(field, f"{key} is not an entry of suite {suite.name}")
        if suite_order[key] <= last:
            raise ResultsValidationError(field, "entries must follow the suite's order without repeats")
        last = suite_order[key]
        published = suite.entries[suite_order[key]]
        _check_entry(field, entry, published, suite, secret, unverifiable is not None)

    if results.complete != (len(results.entries) == len(suite.entries)):
        raise ResultsValidationError(
            "complete", f"is {results.complete} for {len(results.entries)} of {len(suite.entries)} entries"
        )
    bootstrap = results.bootstrap.model_dump()
    if bootstrap != default_bootstrap():
        raise ResultsValidationError("bootstrap", f"must be {default_bootstrap()}, got {bootstrap}")
    for i, entry in enumerate(results.entries):
        try:
            with np.errstate(over="ignore"):  # an overflow is reported as the error below
                recomputed = derive_entry(
                    entry_key(entry.env_id, entry.kwargs), np.asarray(entry.returns), bootstrap
                )
        except ValueError as error:  # e.g. returns so large that their normalized scores overflow
            raise ResultsValidationError(f"entries.{i}.returns", f"cannot be scored: {error}") from None
        _compare(f"entries.{i}", entry.model_dump(), recomputed)
    try:
        recomputed = derive_aggregates([e.seed_scores for e in results.entries], bootstrap)
    except ValueError as error:
        raise ResultsValidationError("entries", f"seed_scores cannot be aggregated: {error}") from None
    _compare("aggregates", results.aggregates.model_dump(), recomputed)
    if results.wall_time_s < 0:
        raise ResultsValidationError("wall_time_s", "must be >= 0")
    try:
        datetime.fromisoformat(results.created)
    except ValueError:
        raise ResultsValidationError(
            "created", f"must be an ISO 8601 date-time, got {results.created!r}"
        ) from None
    if unverifiable is not None:
        raise unverifiable
    return results


def _seed_set_secret(
    results: ResultsFile, secrets: Iterable[bytes]
) -> tuple[bytes | None, UnverifiableResultsError | None]:
    """The secret of the file's test set (None for dev) and, for a test file whose secret is not
    among ``secrets``, the error to raise once every other rule has been checked."""
    if results.seed_set == DEV:
        if results.test_set is not None:
            raise ResultsValidationError("test_set", "a dev file names no test set (it must be null)")
        return None, None
    if results.test_set is None or not TEST_SET_ID.fullmatch(results.test_set):
        raise ResultsValidationError(
            "test_set", f"a test file names its test set, 'test-' and 8 hex digits; got {results.test_set!r}"
        )
    by_id = {test_set_id(secret): secret for secret in secrets}
    if results.test_set in by_id:
        return by_id[results.test_set], None
    if by_id:
        raise ResultsValidationError(
            "test_set",
            f"the file was scored on test set {results.test_set}; the secret given is of "
            f"{', '.join(sorted(by_id))}, whose seeds it does not use",
        )
    return None, UnverifiableResultsError(
        "seed_set", f"test seeds of test set {results.test_set} cannot be verified without the secret"
    )


def _check_entry(
    field: str,
    entry: EntryResult,
    published: SuiteEntry,
    suite: Suite,
    secret: bytes | None,
    unverifiable: bool,
) -> None:
    if entry.label != published.label:
        raise ResultsValidationError(f"{field}.label", f"must be {published.label!r}, got {entry.label!r}")
    if unverifiable:  # which seeds a test set holds takes its secret; how many it holds does not
        if len(entry.seeds) != len(published.seeds) or len(set(entry.seeds)) != len(entry.seeds):
            raise ResultsValidationError(
                f"{field}.seeds", f"a test set has {len(published.seeds)} distinct seeds"
            )
    else:
        expected_seeds = list(seeds_for(suite, published, secret))
        if entry.seeds != expected_seeds:
            foreign = sorted(set(entry.seeds) - set(expected_seeds))
            detail = f"foreign seeds {foreign}" if foreign else f"seeds {entry.seeds}"
            seed_set = "the dev seeds" if secret is None else f"the seeds of test set {test_set_id(secret)}"
            raise ResultsValidationError(f"{field}.seeds", f"{detail}; {seed_set} are {expected_seeds}")
    shape = (len(published.seeds), published.episodes)
    for name in ("returns", "episode_lengths"):
        rows = getattr(entry, name)
        got = (len(rows), *sorted({len(row) for row in rows}))
        if got != shape:
            raise ResultsValidationError(
                f"{field}.{name}", f"must be {shape[0]} rows of {shape[1]} episodes, got shape {got}"
            )
    bounds = episode_bounds(published)
    _check_episodes(field, entry, bounds)
    if bounds.squared_error and entry.errors_by_context is None:
        raise ResultsValidationError(
            f"{field}.errors_by_context", "an in-context entry records its mean error at each step"
        )
    if not bounds.squared_error and entry.errors_by_context is not None:
        raise ResultsValidationError(
            f"{field}.errors_by_context", "only in-context entries (squared-error rewards) record errors"
        )
    if entry.errors_by_context is not None:
        errors = entry.errors_by_context
        # The harness records one mean error per step of the longest episode (the context length
        # runs from 0 to n - 1), so a curve of another size cannot come from these episodes.
        longest = max(length for row in entry.episode_lengths for length in row)
        if len(errors) != longest:
            raise ResultsValidationError(
                f"{field}.errors_by_context", f"has {len(errors)} values, expected {longest} (one per step)"
            )
        if any(e < 0 for e in errors):
            raise ResultsValidationError(f"{field}.errors_by_context", "squared errors cannot be negative")
        # In-context episodes score minus the squared error at every step, so the mean return is
        # minus the sum of the mean errors (up to float rounding of sums over thousands of steps).
        if not math.isclose(-sum(errors), float(np.mean(entry.returns)), rel_tol=1e-6, abs_tol=1e-9):
            raise ResultsValidationError(
                f"{field}.errors_by_context", "does not add up to minus the mean return"
            )
    _check_learning_curve(field, entry, bounds)
    text = suite.actions == "text"
    if text and (entry.parse_failures is None or entry.parse_failures < 0):
        raise ResultsValidationError(f"{field}.parse_failures", "a text suite records a count >= 0")
    if not text and entry.parse_failures is not None:
        raise ResultsValidationError(f"{field}.parse_failures", "only text suites count parse failures")
    if entry.wall_time_s < 0:
        raise ResultsValidationError(f"{field}.wall_time_s", "must be >= 0")


#: Episode bounds by entry key: an env is built once per entry to read them.
_BOUNDS: dict[str, EpisodeBounds] = {}


def episode_bounds(entry: SuiteEntry) -> EpisodeBounds:
    """What an episode of ``entry`` can pay and how long it lasts, as its env declares it
    (``icl_envs.bounds``): the env is built with the entry's kwargs and asked."""
    if entry.key not in _BOUNDS:
        try:
            env = gym.make(entry.env_id, disable_env_checker=True, **entry.kwargs)
        except (gym.error.Error, ValueError, TypeError) as error:
            raise ResultsValidationError("entries", f"{entry.key} cannot be built: {error}") from None
        try:
            declare = getattr(env.unwrapped, "episode_bounds", None)
            if declare is None:
                raise ResultsValidationError(
                    "entries", f"{entry.env_id} declares no episode_bounds(): its returns cannot be checked"
                )
            _BOUNDS[entry.key] = declare()
        finally:
            env.close()
    return _BOUNDS[entry.key]


def _check_learning_curve(field: str, entry: EntryResult, bounds: EpisodeBounds) -> None:
    """A trial entry records one mean return per sub-episode, adding up to the mean trial return."""
    curve = entry.returns_by_episode
    if bounds.sub_episodes is None:
        if curve is not None:
            raise ResultsValidationError(
                f"{field}.returns_by_episode", "only in-context RL entries (trials) record a learning curve"
            )
        return
    if curve is None or len(curve) != bounds.sub_episodes:
        raise ResultsValidationError(
            f"{field}.returns_by_episode",
            f"a trial entry records the mean return of each of its {bounds.sub_episodes} sub-episodes",
        )
    if not all(math.isfinite(value) for value in curve):
        raise ResultsValidationError(f"{field}.returns_by_episode", "must be finite numbers")
    if not math.isclose(sum(curve), float(np.mean(entry.returns)), rel_tol=1e-6, abs_tol=1e-9):
        raise ResultsValidationError(f"{field}.returns_by_episode", "does not add up to the mean return")


def _check_episodes(field: str, entry: EntryResult, bounds: EpisodeBounds) -> None:
    """Raise naming the entry, seed and episode of the first episode that its env cannot produce: a
    length or a return outside the env's bounds, or a return no sum of its step rewards makes."""
    for row, (seed, returns, lengths) in enumerate(zip(entry.seeds, entry.returns, entry.episode_lengths)):
        for episode, (episode_return, length) in enumerate(zip(returns, lengths)):
            where, problem = "episode_lengths", bounds.length_problem(length)
            if problem is None:
                where, problem = "returns", bounds.return_problem(episode_return, length)
            if problem is not None:
                raise ResultsValidationError(
                    f"{field}.{where}.{row}.{episode}",
                    f"{entry.label} (seed {seed}, episode {episode}) {problem}",
                )


def read_results(path: str | os.PathLike, *, secrets: Iterable[bytes] = ()) -> ResultsFile:
    """Read and validate a results file from disk (at most MAX_FILE_BYTES of UTF-8 JSON); a test
    file with the secrets of :func:`validate_results`.

    Raises :class:`UnreadableResultsError` for a file that cannot be read or is not a results file,
    :class:`ResultsValidationError` for a results file that breaks a rule.
    """
    path = Path(path)
    if not path.exists():
        raise UnreadableResultsError("file", f"no such file {str(path)!r}")
    if not path.is_file():
        raise UnreadableResultsError("file", f"{str(path)!r} is not a regular file")
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)  # one byte more tells a file that is too large
    except OSError as error:
        raise UnreadableResultsError("file", f"cannot read {str(path)!r}: {error.strerror}") from None
    return validate_results(data, secrets=secrets)
