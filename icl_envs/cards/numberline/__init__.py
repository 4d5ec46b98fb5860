"""NumberLine: move a marker along a number line to a target (the gym-cards task, defects fixed).

- :mod:`.generator`: the task (start, target) and the generator that draws it;
- :mod:`.rules`: the action strings, a step's move and reward, the step limit;
- :mod:`.viewer`: the frame, drawn with pygame (loaded only when a frame is drawn);
- :mod:`.env`: :class:`NumberLineEnv`, one game in every observation mode;
- :mod:`.vector_env`: :class:`NumberLineVectorEnv`, many games stepped with numpy.
"""

from icl_envs.cards.numberline.env import NumberLineEnv, numberline_text
from icl_envs.cards.numberline.generator import NumberLineGenerator, NumberLineTask, check_numberline_task
from icl_envs.cards.numberline.rules import ACTION_STRINGS, numberline_step, step_limit
from icl_envs.cards.numberline.vector_env import NumberLineVectorEnv
from icl_envs.cards.numberline.viewer import draw_numberline_frame, numberline_frame

__all__ = [
    "ACTION_STRINGS",
    "NumberLineEnv",
    "NumberLineGenerator",
    "NumberLineTask",
    "NumberLineVectorEnv",
    "check_numberline_task",
    "draw_numberline_frame",
    "numberline_frame",
    "numberline_step",
    "numberline_text",
    "step_limit",
]
