"""icl-envs: Gymnasium environments for in-context learning and decision making.

``import icl_envs`` registers every environment in the ``icl`` namespace;
``gym.make("icl_envs:icl/Blackjack-v0")`` does the same without the import.
Entry points are strings so that ``EnvSpec.to_json()`` works.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

# (id, entry point, vector entry point, one-line description). The description is what
# `icl-bench list` prints; arguments are read from the entry point's signature.
ENVIRONMENTS: tuple[tuple[str, str, str, str], ...] = (
    (
        "icl/LinearRegression-v0",
        "icl_envs.regression.env:LinearRegressionEnv",
        "icl_envs.regression.vector_env:LinearRegressionVectorEnv",
        "In-context linear regression: predict y for each new x from the examples so far.",
    ),
    (
        "icl/SparseRegression-v0",
        "icl_envs.regression.env:SparseRegressionEnv",
        "icl_envs.regression.vector_env:SparseRegressionVectorEnv",
        "In-context regression of a k-sparse linear function.",
    ),
    (
        "icl/ReLUNetRegression-v0",
        "icl_envs.regression.env:ReLUNetRegressionEnv",
        "icl_envs.regression.vector_env:ReLUNetRegressionVectorEnv",
        "In-context regression of a random two-layer ReLU network.",
    ),
    (
        "icl/DecisionTreeRegression-v0",
        "icl_envs.regression.env:DecisionTreeRegressionEnv",
        "icl_envs.regression.vector_env:DecisionTreeRegressionVectorEnv",
        "In-context regression of a random depth-4 decision tree on sign features.",
    ),
    (
        "icl/MRPValue-v0",
        "icl_envs.mrp.env:MRPValueEnv",
        "icl_envs.mrp.vector_env:MRPValueVectorEnv",
        "In-context policy evaluation: predict a Markov reward process's value from its transitions.",
    ),
    (
        "icl/NumberLine-v0",
        "icl_envs.cards.numberline:NumberLineEnv",
        "icl_envs.cards.numberline:NumberLineVectorEnv",
        "Move a marker along a number line to a target (gym-cards compatible).",
    ),
    (
        "icl/EZPoints-v0",
        "icl_envs.cards.points:EZPointsEnv",
        "icl_envs.cards.points:EZPointsVectorEnv",
        "Write a formula with two cards that equals 12 (gym-cards compatible).",
    ),
    (
        "icl/Points24-v0",
        "icl_envs.cards.points:Points24Env",
        "icl_envs.cards.points:Points24VectorEnv",
        "Write a formula with four cards that equals 24 (gym-cards compatible).",
    ),
    (
        "icl/Blackjack-v0",
        "icl_envs.cards.blackjack:BlackjackEnv",
        "icl_envs.cards.blackjack:BlackjackVectorEnv",
        "Blackjack against a dealer with rendered cards; Gymnasium Blackjack-v1 rules.",
    ),
    (
        "icl/AssociativeRecall-v0",
        "icl_envs.recall.env:AssociativeRecallEnv",
        "icl_envs.recall.vector_env:AssociativeRecallVectorEnv",
        "Multi-query associative recall (Zoology's MQAR): name the value of each queried key in context.",
    ),
    (
        "icl/Bandit-v0",
        "icl_envs.icrl.bandit:BanditEnv",
        "icl_envs.icrl.bandit:BanditVectorEnv",
        "A K-armed bandit drawn per trial: find the best arm in context (metric: regret).",
    ),
    (
        "icl/DarkRoom-v0",
        "icl_envs.icrl.darkroom:DarkRoomEnv",
        "icl_envs.icrl.darkroom:DarkRoomVectorEnv",
        "Find a hidden goal in a dark room, then return to it in every later sub-episode of the trial.",
    ),
    (
        "icl/KeyToDoor-v0",
        "icl_envs.icrl.keytodoor:KeyToDoorEnv",
        "icl_envs.icrl.keytodoor:KeyToDoorVectorEnv",
        "Find a hidden key, then a hidden door, in a dark room, sub-episode after sub-episode.",
    ),
)


def _register_all() -> None:
    for env_id, entry_point, vector_entry_point, _ in ENVIRONMENTS:
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, vector_entry_point=vector_entry_point)


_register_all()
