"""The bases every card and number game is built on: observation modes, rendering, the vector env.

- :class:`CardGameEnv`: a single game with the four observation modes (``image``, ``symbolic``,
  ``text``, ``multimodal``), ``render`` (``rgb_array`` or a ``human`` window), the text protocol
  (``prompt``/``parse_action``, from :class:`~icl_envs.cards.text_protocol.TextProtocolMixin`)
  and ``reset`` from a task generator or from reset options.
- :class:`CardVectorEnv`: the native vector env of a game on
  :class:`~icl_envs.vector_base.SeededVectorEnv` (seeding and masked reset), with the spaces of
  the batched modes (``symbolic`` and ``image``).
- :class:`PrefetchedDraws`: per-env streams of a game's random draws fetched in blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from icl_envs.cards.text_protocol import MAX_TEXT_LENGTH, TEXT_CHARSET, TextProtocolMixin
from icl_envs.checks import check_choice, check_int, check_reset_options, describe
from icl_envs.vector_base import SeededVectorEnv

OBS_MODES = ("image", "symbolic", "text", "multimodal")
RENDER_MODES = ("rgb_array", "human")
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 128, 2048  # below 128 px the card indices stop being legible
#: About what one sub-env of a card vector env holds besides frames: its game state, prefetched
#: draws (64 rows) and, for Blackjack, its card stream (2 x 2048 bytes).
CARD_STATE_BYTES = 8192


def check_card_env_arguments(obs_mode: Any, image_size: Any, render_mode: Any) -> tuple[str, int, str | None]:
    """Validate the arguments every card env shares; return them normalised."""
    check_choice("obs_mode", obs_mode, OBS_MODES)
    image_size = check_int("image_size", image_size, minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE)
    if render_mode is not None:
        check_choice("render_mode", render_mode, RENDER_MODES)
    return obs_mode, image_size, render_mode


def check_card_generator(generator: Any) -> Any:
    """Raise unless ``generator`` is None (the env's default) or has a ``sample(np_random)`` method."""
    if generator is not None and not callable(getattr(generator, "sample", None)):
        raise ValueError(f"generator must have a sample(np_random) method, got {describe(generator)}")
    return generator


def check_batched_modes(obs_mode: str) -> None:
    """Refuse the observation modes a native card vector env cannot batch (text); the vector env's
    render modes are checked by ``SeededVectorEnv._setup_from_single_env``."""
    if obs_mode not in ("symbolic", "image"):
        raise ValueError(
            f"obs_mode must be 'symbolic' or 'image' for the vector env, got {describe(obs_mode)}; "
            "use gym.make_vec(..., vectorization_mode='sync') for text observations"
        )


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
    ``reset`` it keeps ``self.generator`` (or overrides ``_new_task()``, the task of a reset that
    sets none), names the keys of reset's options in ``reset_options`` (any other key is refused;
    ``reset_hint`` says what the options are for) and implements ``_task_from_options(options)``
    (the task a user sets through them), ``_start(task)`` (check the task and set up its episode)
    and ``_info()``; it may
    override ``_reseeded()`` (drop what it drew ahead from the old ``np_random``) and
    ``symbolic_text(obs)`` (a symbolic observation in words). ``step`` raises ``ResetNeeded`` while
    ``self._episode_over``.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}
    #: The keys ``reset(options=...)`` may hold (a task set by the user); any other key is refused.
    reset_options: tuple[str, ...] = ()
    #: Appended to the error for an option key not in ``reset_options``.
    reset_hint = "this game's task cannot be chosen"

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

    def _new_task(self) -> Any:
        """The task of a reset whose options set none: the generator's next sample."""
        return self.generator.sample(self.np_random)

    def _reseeded(self) -> None:
        """``reset(seed=...)`` gave ``np_random`` a new seed: forget anything drawn ahead from the old one."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._reseeded()
        options = check_reset_options(options, self.reset_options, self.reset_hint)
        task = self._task_from_options(options) if options else self._new_task()
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
            return self.symbolic_text(obs)
        return None

    def symbolic_text(self, obs: Any) -> str:
        """A symbolic observation in words: the current state's text, unless the env reads ``obs``."""
        return self.state_text()

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


class CardVectorEnv(SeededVectorEnv):
    """Shared plumbing of the native number-and-card vector envs: the batched modes' spaces and
    prefetched draws; seeding and ``reset`` come from :class:`SeededVectorEnv`.

    A subclass sets ``single_env_class`` and calls ``_setup_from_single_env(num_envs, kwargs)``
    in ``__init__``: one single env built from the same arguments validates them and gives the
    modes, the generator and the spaces, so no vector env repeats its single env's checks. It implements
    ``_new_tasks(envs)`` (a new task for each env index in ``envs``, from ``self.draws`` when it is
    set, else from ``self.rngs[i]``), ``_info(present)`` (``_batched_info`` writes it) and either
    ``_observation()`` or ``_frames()`` and ``_symbolic_observation()``, and sets ``reset_hint``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["rgb_array"]}
    draws: PrefetchedDraws | None = None
    single_env_class: type[CardGameEnv]

    def _setup_from_single_env(self, num_envs: Any, kwargs: dict[str, Any]) -> CardGameEnv:
        """The base's set-up from one single env, then refuse the modes a vector env cannot batch
        and take from that env ``obs_mode``, ``image_size`` and ``generator``; return it."""
        template = super()._setup_from_single_env(num_envs, kwargs)
        check_batched_modes(template.obs_mode)
        self.obs_mode, self.image_size = template.obs_mode, template.image_size
        self.generator = getattr(template, "generator", None)
        prefetch = self.generator is not None and self._prefetchable(self.generator)
        self.draws = PrefetchedDraws(self.generator.bounds, self.rngs) if prefetch else None
        return template

    def _bytes_per_env(self, template: CardGameEnv) -> int:
        """The game state and, when frames are drawn, a frame and its copy in the stacked batch."""
        draws_frames = template.obs_mode == "image" or self.render_mode is not None
        return CARD_STATE_BYTES + (2 * 3 * template.image_size**2 if draws_frames else 0)

    def _prefetchable(self, generator: Any) -> bool:
        """Whether ``generator``'s draws may be fetched in blocks (``PrefetchedDraws``): it consumes
        one row ``np_random.integers(0, generator.bounds)`` per task. Else it is called per task."""
        return False

    def _info(self, present: np.ndarray | None = None) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _batched_info(self, values: dict[str, np.ndarray], present: np.ndarray | None) -> dict[str, Any]:
        """The info as ``SyncVectorEnv`` batches it: each key of ``values`` followed by its ``_key``
        mask, ``present`` (after a masked reset: the envs that were reset) or every env."""
        every = np.ones(self.num_envs, dtype=bool) if present is None else present.copy()
        info: dict[str, Any] = {}
        for key, value in values.items():
            info[key] = value
            info[f"_{key}"] = every
        return info

    def _frames(self) -> np.ndarray:  # pragma: no cover - every env that draws overrides
        """One frame per env, stacked: shape ``(num_envs, image_size, image_size, 3)``."""
        raise NotImplementedError

    def _symbolic_observation(self) -> Any:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def _observation(self) -> Any:
        return self._frames() if self.obs_mode == "image" else self._symbolic_observation()

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One frame per env, as a tuple like ``SyncVectorEnv.render()``; None without a render_mode."""
        return tuple(self._frames()) if self.render_mode == "rgb_array" else None

    def _reseeded(self, i: int) -> None:
        if self.draws is not None:
            self.draws.reseed(i, self.rngs[i])

    def _reset_info(self, mask: np.ndarray) -> dict[str, Any]:
        return self._info(present=mask)


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
