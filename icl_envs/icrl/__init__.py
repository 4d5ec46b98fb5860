"""In-context reinforcement learning across episodes: trials of several sub-episodes on one task.

- :mod:`.trial`: the trial (sub-episodes, observation, info) and the batch behind single and vector envs;
- :mod:`.room`: the dark room's cells and moves, shared by Dark Room and Key-to-Door;
- :mod:`.bandit`, :mod:`.darkroom`, :mod:`.keytodoor`: one folder per env (generator, env, vector env).
"""
