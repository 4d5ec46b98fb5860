"""In-context regression: task generators, single envs and native vector envs."""

from icl_envs.regression.env import (
    DecisionTreeRegressionEnv,
    LinearRegressionEnv,
    RegressionEnv,
    ReLUNetRegressionEnv,
    SparseRegressionEnv,
)
from icl_envs.regression.generators import (
    DecisionTreeTask,
    DecisionTreeTasks,
    LinearRegressionTask,
    LinearRegressionTasks,
    RegressionTask,
    RegressionTasks,
    ReLUNetTask,
    ReLUNetTasks,
    SparseLinearTask,
    SparseLinearTasks,
)

__all__ = [
    "DecisionTreeRegressionEnv",
    "DecisionTreeTask",
    "DecisionTreeTasks",
    "LinearRegressionEnv",
    "LinearRegressionTask",
    "LinearRegressionTasks",
    "RegressionEnv",
    "RegressionTask",
    "RegressionTasks",
    "ReLUNetRegressionEnv",
    "ReLUNetTask",
    "ReLUNetTasks",
    "SparseLinearTask",
    "SparseLinearTasks",
    "SparseRegressionEnv",
]
