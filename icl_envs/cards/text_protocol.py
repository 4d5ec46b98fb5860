"""The text protocol shared by every card env: a JSON-answer prompt and a forgiving answer parser.

Language and vision-language agents fine-tuned with RL on card games (Zhai et al. 2024,
"Fine-Tuning Large Vision-Language Models as Decision-Making Agents via Reinforcement Learning")
answer in a small JSON object: first the facts they read off the table (the current number, the
cards, the formula so far), then free-form ``"thoughts"``, then the ``"action"``. The env reads the
text after the last ``"action":`` key and accepts it only if it names exactly one legal action;
anything else (no action key, an unknown or illegal string, two different actions) is played as a
uniformly random legal action and reported with ``ok=False``, so a badly formatted answer costs the
agent but never crashes a run.

- :func:`parse_action` and :func:`build_prompt` are pure functions.
- :class:`TextProtocolMixin` gives an env ``prompt(obs)`` and ``parse_action(text)`` from a few
  class attributes (``action_strings``, ``task_description``, ``answer_fields``).
- :class:`TextActions` is a wrapper whose action space is ``gymnasium.spaces.Text``: it parses each
  text action and counts the episode's failures in ``info["parse_failed"]``.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import InvalidAction, ResetNeeded
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space

from icl_envs.checks import vector_reset_mask, vector_seeds

#: Characters allowed in text observations and text actions (printable ASCII and whitespace).
TEXT_CHARSET = string.printable
#: Longest text observation / text action the ``Text`` spaces accept.
MAX_TEXT_LENGTH = 8192

# The key, quoted with " or ' or bare, then a colon. Case-insensitive: "Action": is accepted too.
_ACTION_KEY = re.compile(r"""(?:"action"|'action'|\baction\b)\s*:""", re.IGNORECASE)


def _action_value(text: str, start: int) -> str | None:
    """The value written after an ``action:`` key ending at ``start``, or None if malformed.

    A quoted value is read up to its closing quote; after it only a comma, a closing brace or the
    end of a line may follow (``"+" or "-"`` is malformed). A bare value runs to the first comma,
    closing brace or line end.
    """
    rest = text[start:].lstrip(" \t")
    if rest[:1] in ('"', "'"):
        quote = rest[0]
        end = rest.find(quote, 1)
        if end < 0:
            return None
        after = rest[end + 1 :].lstrip(" \t")
        if after and after[0] not in ",}\n\r":
            return None
        return rest[1:end].strip()
    match = re.match(r"[^,}\n\r]*", rest)
    value = match.group(0).strip() if match else ""
    return value or None


def _legal_actions(num_actions: int, legal_mask: Any) -> np.ndarray:
    if legal_mask is None:
        return np.arange(num_actions)
    mask = np.asarray(legal_mask)
    if mask.shape != (num_actions,):
        raise ValueError(f"legal_mask must have shape ({num_actions},), got {mask.shape}")
    legal = np.flatnonzero(mask)
    if legal.size == 0:
        raise ValueError("legal_mask allows no action")
    return legal


def parse_action(
    text: str,
    action_strings: Sequence[str],
    np_random: np.random.Generator,
    legal_mask: Any = None,
) -> tuple[int, bool]:
    """Read the action from an agent's answer; return ``(action, ok)``.

    Every ``action:`` key in ``text`` is read (its value quoted or bare, matched against
    ``action_strings`` ignoring case and surrounding spaces). If the readable values name exactly
    one action and it is legal under ``legal_mask`` (1 = legal; ``None``: all legal), that action is
    returned with ``ok=True``. Otherwise (no key, an unknown or illegal value, two different actions)
    a uniformly random legal action drawn from ``np_random`` is returned with ``ok=False``.
    Values that are not action strings are skipped, so an answer that first echoes the prompt's
    format line (``"action": "-" or "+"``) and then answers is still read.
    """
    if not isinstance(text, str):
        raise InvalidAction(f"a text action must be a str, got {type(text).__name__}")
    legal = _legal_actions(len(action_strings), legal_mask)
    lookup = {s.strip().casefold(): i for i, s in enumerate(action_strings)}
    named = set()
    for key in _ACTION_KEY.finditer(text):
        value = _action_value(text, key.end())
        if value is not None and value.casefold() in lookup:
            named.add(lookup[value.casefold()])
    if len(named) == 1:
        (action,) = named
        if action in legal:
            return action, True
    return int(np_random.choice(legal)), False


def build_prompt(
    task_description: str,
    action_strings: Sequence[str],
    fields: Mapping[str, str],
    legal_mask: Any = None,
    observation: str | None = None,
) -> str:
    """Build the JSON-answer prompt.

    ``fields`` maps each task-specific answer field (e.g. ``"current number"``) to what the agent
    should write there; the answer format always ends with ``"thoughts"`` and ``"action"``.
    ``observation`` is a text description of the state, given to language-only agents (a vision
    agent reads the state from the frame instead, so it is left out for image observations).
    """
    legal = _legal_actions(len(action_strings), legal_mask)
    choices = ", ".join(json.dumps(action_strings[i]) for i in legal)
    answer = {**{name: f"<{hint}>" for name, hint in fields.items()}}
    answer["thoughts"] = "<your step-by-step reasoning>"
    answer["action"] = "<one of the legal actions>"
    lines = [task_description.strip()]
    if observation is not None:
        lines += ["", "Current state:", observation.strip()]
    lines += [
        "",
        f"Legal actions: {choices}.",
        "Answer with a single JSON object in exactly this format, and nothing after it:",
        "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in answer.items()) + "}",
    ]
    return "\n".join(lines)


class TextProtocolMixin:
    """Give a card env ``prompt(obs)`` and ``parse_action(text)``.

    The env sets the class attributes ``action_strings``, ``task_description`` and
    ``answer_fields`` and implements ``action_mask()`` (int8, 1 = legal now) and
    ``describe(obs)`` (a text description of an observation, or None for a frame).
    """

    action_strings: tuple[str, ...] = ()
    task_description: str = ""
    answer_fields: Mapping[str, str] = {}

    def action_mask(self) -> np.ndarray:  # pragma: no cover - every env overrides
        return np.ones(len(self.action_strings), dtype=np.int8)

    def describe(self, obs: Any) -> str | None:  # pragma: no cover - every env overrides
        return None

    def prompt(self, obs: Any = None) -> str:
        """The JSON-answer prompt for observation ``obs`` (its text, if it has one, is included)."""
        return build_prompt(
            self.task_description,
            self.action_strings,
            self.answer_fields,
            legal_mask=self.action_mask(),
            observation=self.describe(obs),
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None or not hasattr(self, "_fallback_rng"):
            self._fallback_rng = fallback_generator(seed)
        return super().reset(seed=seed, options=options)

    def parse_action(self, text: str) -> tuple[int, bool]:
        """Read an answer into ``(action, ok)``.

        A failure draws a random legal action from a generator of its own, seeded by
        ``reset(seed=...)``: drawing from ``np_random`` would make an agent's formatting errors
        change which deals the seed produces.
        """
        return parse_action(text, self.action_strings, self._fallback_rng, self.action_mask())


def fallback_generator(seed: int | None) -> np.random.Generator:
    """The stream that picks a failed parse's random action, apart from the env's ``np_random``."""
    # The constant keeps this stream distinct from one seeded with the bare seed.
    return np.random.default_rng(None if seed is None else [seed, 0x7E47])


class TextActions(gym.Wrapper):
    """Play a card env with text actions: the agent's answer is parsed into the env's action.

    The action space is ``Text``. Each step parses the answer with :func:`parse_action`; the
    fallback action of an unreadable answer comes from the wrapper's own generator, seeded from
    ``reset(seed=...)``, so that an agent's formatting errors never change which deals the seeds
    produce. ``info["parse_failed"]`` counts this episode's failed parses so far, and
    ``info["parsed_action"]`` is the action that was played.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "action_strings") or not hasattr(base, "action_mask"):
            raise ValueError(f"TextActions needs a card env with action_strings, got {type(base).__name__}")
        self.action_space = gym.spaces.Text(MAX_TEXT_LENGTH, min_length=0, charset=TEXT_CHARSET)
        self._fallback_rng = fallback_generator(None)
        self._parse_failed = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._fallback_rng = fallback_generator(seed)
        obs, info = self.env.reset(seed=seed, options=options)
        self._parse_failed = 0
        info["parse_failed"] = 0
        return obs, info

    def prompt(self, obs: Any = None) -> str:
        return self.env.unwrapped.prompt(obs)

    def step(self, action: str):
        base = self.env.unwrapped
        parsed, ok = parse_action(action, base.action_strings, self._fallback_rng, base.action_mask())
        self._parse_failed += not ok
        obs, reward, terminated, truncated, info = self.env.step(parsed)
        info["parse_failed"] = self._parse_failed
        info["parsed_action"] = parsed
        return obs, reward, terminated, truncated, info


OBS_MODES = ("image", "symbolic", "text", "multimodal")
RENDER_MODES = ("rgb_array", "human")
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 150, 2048  # below 150 px the card indices stop being legible


def check_card_env_arguments(obs_mode: Any, image_size: Any, render_mode: Any) -> tuple[str, int, str | None]:
    """Validate the arguments every card env shares; return them normalised."""
    from icl_envs.checks import check_choice, check_int

    check_choice("obs_mode", obs_mode, OBS_MODES)
    image_size = check_int("image_size", image_size, minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE)
    if render_mode is not None:
        check_choice("render_mode", render_mode, RENDER_MODES)
    return obs_mode, image_size, render_mode


def check_card_generator(generator: Any) -> Any:
    """Raise unless ``generator`` is None (the env's default) or has a ``sample(np_random)`` method."""
    if generator is not None and not callable(getattr(generator, "sample", None)):
        raise ValueError(f"generator must have a sample(np_random) method, got {generator!r}")
    return generator


def check_card_vector_arguments(
    obs_mode: Any, image_size: Any, render_mode: Any, generator: Any
) -> tuple[str, int, str | None]:
    """Validate the arguments every native card vector env shares; return the first three normalised.

    A vector env draws only what batches well (symbolic arrays or frames) and never opens a window.
    """
    obs_mode, image_size, render_mode = check_card_env_arguments(obs_mode, image_size, render_mode)
    if obs_mode not in ("symbolic", "image"):
        raise ValueError(
            f"obs_mode must be 'symbolic' or 'image' for the vector env, got {obs_mode!r}; "
            "use gym.make_vec(..., vectorization_mode='sync') for text observations"
        )
    if render_mode == "human":
        raise ValueError("render_mode must be None or 'rgb_array' for the vector env, got 'human'")
    check_card_generator(generator)
    return obs_mode, image_size, render_mode


def card_observation_space(
    obs_mode: str, image_size: int, symbolic_space: gym.spaces.Space, num_actions: int
) -> gym.spaces.Space:
    """The observation space of a card env for each ``obs_mode``."""
    image = gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
    text = gym.spaces.Text(MAX_TEXT_LENGTH, min_length=0, charset=TEXT_CHARSET)
    return {
        "image": image,
        "symbolic": symbolic_space,
        "text": text,
        "multimodal": gym.spaces.Dict(
            {"image": image, "text": text, "action_mask": gym.spaces.MultiBinary(num_actions)}
        ),
    }[obs_mode]


class CardGameEnv(TextProtocolMixin, gym.Env):
    """Shared plumbing of the number-and-card envs: observation modes, rendering and the text protocol.

    A subclass sets ``action_strings``, ``task_description`` and ``answer_fields``, builds
    ``self.symbolic_space``, and implements ``symbolic_observation()``, ``state_text()`` (the
    visible state in words), ``frame()`` (an RGB array of the current state) and ``action_mask()``.
    It calls ``_setup_observations(obs_mode, image_size, render_mode)`` in ``__init__``. For
    ``reset`` it keeps ``self.generator`` and implements ``_task_from_options(options)`` (the task a
    user sets through reset's options), ``_start(task)`` (check the task and set up its episode)
    and ``_info()``; ``step`` raises ``ResetNeeded`` while ``self._episode_over``.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def _setup_observations(self, obs_mode: Any, image_size: Any, render_mode: Any) -> None:
        self.obs_mode, self.image_size, self.render_mode = check_card_env_arguments(
            obs_mode, image_size, render_mode
        )
        self.observation_space = card_observation_space(
            self.obs_mode, self.image_size, self.symbolic_space, len(self.action_strings)
        )
        self.action_space = gym.spaces.Discrete(len(self.action_strings))
        self._window = None

    def symbolic_observation(self) -> Any:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def _task_from_options(self, options: dict[str, Any]) -> Any:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def _start(self, task: Any) -> None:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def _info(self) -> dict[str, Any]:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        task = self._task_from_options(options) if options else self.generator.sample(self.np_random)
        self._start(task)
        self._episode_over = False
        if self.render_mode == "human":
            self.render()
        return self.observation(), self._info()

    def state_text(self) -> str:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def frame(self) -> np.ndarray:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def observation(self) -> Any:
        """The observation of the current state in this env's ``obs_mode``."""
        if self.obs_mode == "image":
            return self.frame()
        if self.obs_mode == "symbolic":
            return self.symbolic_observation()
        if self.obs_mode == "text":
            return self.state_text()
        return {"image": self.frame(), "text": self.state_text(), "action_mask": self.action_mask()}

    def describe(self, obs: Any) -> str | None:
        """The state in words for a language agent's prompt; None for a bare frame (read it instead)."""
        if isinstance(obs, str):
            return obs
        if isinstance(obs, Mapping) and "text" in obs:
            return obs["text"]
        if self.obs_mode == "symbolic":
            return self.state_text()
        return None

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn(
                f"render() called without a render_mode on {type(self).__name__}; pass render_mode='rgb_array'"
            )
            return None
        frame = self.frame()
        if self.render_mode == "rgb_array":
            return frame
        self._show(frame)
        return None

    def _show(self, frame: np.ndarray) -> None:
        import pygame  # only human rendering loads pygame here (text envs never do)

        from icl_envs.cards.sprites import HumanWindow

        if self._window is None:
            self._window = HumanWindow(type(self).__name__)
        self._window.show(pygame.surfarray.make_surface(frame.swapaxes(0, 1)), self.metadata["render_fps"])

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None


class CardVectorEnv(VectorEnv):
    """Shared plumbing of the native number-and-card vector envs: spaces, seeding and ``reset``.

    A subclass keeps ``self.rngs`` (one generator per env) and ``self.draws`` (a
    :class:`PrefetchedDraws` or None), implements ``_new_tasks(envs)`` (a new task for each env
    index in ``envs``), ``_observation()`` and ``_info(present)``, and sets ``reset_hint`` (what to
    do instead of passing reset options other than ``reset_mask``).
    """

    reset_hint: str

    def _set_spaces(self, symbolic_space: gym.spaces.Space, num_actions: int) -> None:
        self.single_observation_space = card_observation_space(
            self.obs_mode, self.image_size, symbolic_space, num_actions
        )
        self.single_action_space = gym.spaces.Discrete(num_actions)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def _new_tasks(self, envs: np.ndarray) -> None:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def _observation(self) -> Any:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def _info(self, present: np.ndarray | None = None) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _reseed(self, i: int, rng: np.random.Generator) -> None:
        self.rngs[i] = rng
        if self.draws is not None:
            self.draws.reseed(i, rng)

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        # As SyncVectorEnv: seed s gives env i the seed s + i; options["reset_mask"] resets only
        # the envs it marks (the others keep their episode and their pending autoreset).
        seeds = vector_seeds(seed, self.num_envs)
        mask = vector_reset_mask(options, self.num_envs)
        if set(options or ()) - {"reset_mask"}:
            raise ValueError(
                f"options may only hold 'reset_mask' in the vector env, got keys {sorted(options)}; "
                f"{self.reset_hint}"
            )
        if mask is None:
            mask = np.ones(self.num_envs, dtype=bool)
        elif not self._started and not mask.all():
            raise ResetNeeded("the first reset must reset every env (no reset_mask)")
        envs = np.flatnonzero(mask)
        for i in envs:
            if seeds[i] is not None:
                self._reseed(i, gym.utils.seeding.np_random(seeds[i])[0])
        self._new_tasks(envs)
        self.needs_reset[envs] = False
        self._started = True
        return self._observation(), self._info(present=mask)


class PrefetchedDraws:
    """Per-env streams of bounded uniform integers, fetched from each env's generator in blocks.

    A task generator that consumes one row of draws ``np_random.integers(0, bounds)`` per task (the
    single env does exactly that) can be fed by this buffer in a vector env: fetching ``block`` rows
    at once with ``integers(0, np.tile(bounds, block))`` yields the same rows in the same order,
    because numpy draws an array of bounds element by element, in order. So env ``i`` of the vector
    env deals what a single env seeded alike deals (tested against ``SyncVectorEnv``), while one
    numpy call serves ``block`` resets instead of one.
    """

    def __init__(self, bounds: Sequence[int], rngs: Sequence[np.random.Generator], block: int = 64):
        self.bounds = np.asarray(bounds, dtype=np.int64)
        self.rngs = list(rngs)
        self.block = block
        self._tiled = np.tile(self.bounds, block)
        self.rows = np.zeros((len(self.rngs), block, len(self.bounds)), dtype=np.int64)
        self.cursor = np.full(len(self.rngs), block)  # every buffer starts empty

    def reseed(self, i: int, rng: np.random.Generator) -> None:
        """Give env ``i`` a new generator and drop its buffered rows (a seeded reset of that env)."""
        self.rngs[i] = rng
        self.cursor[i] = self.block

    def take(self, envs: np.ndarray) -> np.ndarray:
        """The next row of draws of each env in ``envs`` (distinct indices): shape (len(envs), len(bounds))."""
        for i in envs[self.cursor[envs] >= self.block]:
            self.rows[i] = self.rngs[i].integers(0, self._tiled).reshape(self.block, -1)
            self.cursor[i] = 0
        rows = self.rows[envs, self.cursor[envs]]
        self.cursor[envs] += 1
        return rows
