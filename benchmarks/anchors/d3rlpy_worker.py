"""The d3rlpy side of the cross-check (``d3rlpy_dt.py``): runs in d3rlpy's own venv, never in ours.

``d3rlpy_dt.py`` starts it as ``ANCHOR_PYTHON d3rlpy_worker.py DATA.npz SEED SOCKET``. It trains
d3rlpy's ``DiscreteDecisionTransformer`` on the exported arrays at the settings the parent wrote into
the file, sends back how long the training took, and then serves the trained policy to the parent's
harness over the Unix socket: ``reset``, ``act`` (a batch of one-hot observations -> greedy actions)
and ``observe`` (the step's rewards and episode ends), until ``close``.

The policy is played greedily (as ours; d3rlpy's wrapper samples from the softmax by default for
discrete actions) and as d3rlpy's own ``StatefulTransformerWrapper`` plays it, one sub-env at a time,
but batched over the sub-envs: the last ``context`` steps (observations, actions with a 0 pad for the
current one, returns-to-go = target - rewards so far, timesteps from 1), left-padded with zeros and
masked as ``TorchTransformerInput.from_numpy`` pads, the reward scaler applied to the returns-to-go,
the last step's logits argmax. The first sub-envs are also played by the wrapper itself and every
action compared (:data:`CHECKED_SUB_ENVS`), so a difference stops the run.

Only the standard library, numpy, torch and d3rlpy: the project's packages need a newer Gymnasium.
"""

from __future__ import annotations

import sys
import time
from multiprocessing.connection import Client

import d3rlpy
import numpy as np
import torch

#: Sub-envs whose actions are also computed by d3rlpy's StatefulTransformerWrapper and compared.
CHECKED_SUB_ENVS = 4


def build(data, seed: int):
    """d3rlpy's discrete Decision Transformer at the parent's settings, and the dataset."""
    settings = {key[len("setting_") :]: data[key].item() for key in data.files if key.startswith("setting_")}
    dataset = d3rlpy.dataset.MDPDataset(
        observations=data["observations"],
        actions=data["actions"][:, None],
        rewards=data["rewards"][:, None],
        terminals=data["terminals"].astype(np.float32),
        action_space=d3rlpy.constants.ActionSpace.DISCRETE,
        action_size=int(settings["n_actions"]),
    )
    config = d3rlpy.algos.DiscreteDecisionTransformerConfig(
        batch_size=int(settings["batch_size"]),
        context_size=int(settings["context"]),
        max_timestep=int(settings["max_length"]) + 1,  # d3rlpy counts timesteps from 1
        num_heads=int(settings["heads"]),
        num_layers=int(settings["layers"]),
        attn_dropout=float(settings["dropout"]),
        resid_dropout=float(settings["dropout"]),
        embed_dropout=float(settings["dropout"]),
        # A linear map of the one-hot components: our per-component embedding tables, summed.
        encoder_factory=d3rlpy.models.VectorEncoderFactory(
            hidden_units=[int(settings["embed_dim"])], exclude_last_activation=True
        ),
        # Our timestep embedding is one learned table (d3rlpy's SIMPLE; its default GLOBAL is Atari's).
        position_encoding_type=d3rlpy.PositionEncodingType.SIMPLE,
        # Returns-to-go divided by the dataset's return scale, as ours.
        reward_scaler=d3rlpy.preprocessing.MultiplyRewardScaler(1.0 / float(settings["return_scale"])),
        learning_rate=float(settings["lr"]),
        optim_factory=d3rlpy.optimizers.GPTAdamWFactory(
            weight_decay=float(settings["weight_decay"]), clip_grad_norm=float(settings["grad_clip"])
        ),
        # d3rlpy warms up over tokens (real steps) and then decays by a cosine over tokens: the
        # parent converts our warm-up steps, and a final count out of reach keeps the rate constant.
        warmup_tokens=int(settings["warmup_tokens"]),
        final_tokens=2**62,
    )
    d3rlpy.seed(seed)
    algo = config.create(device="cpu:0")
    algo.build_with_dataset(dataset)
    return algo, dataset, settings


class BatchedPlayer:
    """d3rlpy's StatefulTransformerWrapper, batched over ``n`` sub-envs (see the module docstring)."""

    def __init__(self, algo, target: float, n: int) -> None:
        self.algo, self.target, self.n = algo, target, n
        algo.impl.modules.set_eval()  # no dropout (d3rlpy's predict does the same)
        self.context = algo.config.context_size
        self.max_timestep = algo.config.max_timestep
        self.observations: np.ndarray | None = None
        self.actions = np.zeros((n, self.context), dtype=np.int64)
        self.returns_to_go = np.zeros((n, self.context), dtype=np.float32)
        self.timesteps = np.zeros((n, self.context), dtype=np.int64)
        self.held = np.zeros(n, dtype=np.int64)  # steps in the history (at most context)
        self.timestep = np.ones(n, dtype=np.int64)
        self.return_rest = np.full(n, target, dtype=np.float64)
        self.reward = np.zeros(n, dtype=np.float64)  # the last reward, given with the next observation
        self.finished = np.zeros(n, dtype=bool)  # only each sub-env's first episode is scored
        self.wrappers = [
            algo.as_stateful_wrapper(
                target_return=target, action_sampler=d3rlpy.algos.GreedyTransformerActionSampler()
            )
            for _ in range(min(CHECKED_SUB_ENVS, n))
        ]

    @torch.no_grad()
    def act(self, observations: np.ndarray) -> np.ndarray:
        if self.observations is None:
            self.observations = np.zeros((self.n, self.context, observations.shape[1]), dtype=np.float32)
        for history in (self.observations, self.actions, self.returns_to_go, self.timesteps):
            history[:] = np.roll(history, -1, axis=1)
        self.observations[:, -1] = observations
        self.returns_to_go[:, -1] = self.return_rest - self.reward
        self.timesteps[:, -1] = self.timestep
        self.actions[:, -1] = 0  # the pad action of the current step
        self.held = np.minimum(self.held + 1, self.context)
        masks = (np.arange(self.context) >= self.context - self.held[:, None]).astype(np.float32)
        returns_to_go = torch.as_tensor(self.returns_to_go * masks)[..., None]
        scaler = self.algo.config.reward_scaler
        if scaler is not None:
            returns_to_go = scaler.transform(returns_to_go)
        _, logits = self.algo.impl.modules.transformer(
            torch.as_tensor(self.observations * masks[..., None]),
            torch.as_tensor(self.actions * masks.astype(np.int64)),
            returns_to_go,
            torch.as_tensor(self.timesteps * masks.astype(np.int64)),
            1 - torch.as_tensor(masks),
        )
        logits = logits[:, -1]
        actions = logits.argmax(-1).numpy()
        for i, wrapper in enumerate(self.wrappers):
            if not self.finished[i]:
                theirs = int(wrapper.predict(observations[i], float(self.reward[i])))
                # Equal up to float rounding: a batch of one and a batch of n may round differently,
                # which flips the argmax only between logits that tie to that precision.
                if logits[i, theirs] < logits[i].max() - 1e-4:
                    raise RuntimeError(
                        f"sub-env {i}: batched logits {logits[i]}, d3rlpy's wrapper chose {theirs}"
                    )
        self.actions[:, -1] = actions
        self.timestep = np.minimum(self.timestep + 1, self.max_timestep)
        self.return_rest -= self.reward
        return np.where(self.finished, 0, actions)

    def observe(self, rewards: np.ndarray, ended: np.ndarray) -> None:
        self.reward = np.asarray(rewards, dtype=np.float64)
        self.finished |= np.asarray(ended, dtype=bool)


def serve(connection, algo, target: float) -> None:
    player = None
    while True:
        message = connection.recv()
        if message[0] == "reset":
            player = None
            connection.send(None)
        elif message[0] == "act":
            observations = message[1]
            if player is None:
                player = BatchedPlayer(algo, target, len(observations))
            connection.send(player.act(observations))
        elif message[0] == "observe":
            player.observe(*message[1:])
            connection.send(None)
        else:  # close
            return


def main(data_path: str, seed: int, address: str) -> None:
    torch.set_num_threads(1)
    data = np.load(data_path)
    algo, dataset, settings = build(data, seed)
    steps = int(settings["steps"])
    with Client(address, family="AF_UNIX") as connection:  # first, so that the parent sees a crash
        start = time.perf_counter()
        algo.fit(
            dataset,
            n_steps=steps,
            n_steps_per_epoch=steps,
            logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
            show_progress=False,
        )
        seconds = time.perf_counter() - start
        connection.send(
            {"train_seconds": seconds, "d3rlpy": d3rlpy.__version__, "torch_threads": torch.get_num_threads()}
        )
        serve(connection, algo, float(settings["target_return"]))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
