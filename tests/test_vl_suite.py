"""The vl-v0 suite: frames with text, text actions through the env's text protocol, parse failures
counted, and the success rate printed beside the normalized score."""

import numpy as np

from leaderboard.harness import evaluate
from leaderboard.protocol import get_suite
from leaderboard.report import markdown_tables


class HalfJunkAgent:
    """Answers "+" in JSON on odd env indices and unreadable text on even ones."""

    def reset(self, env_id=None, env_kwargs=None):
        pass

    def act_batch(self, obs):
        assert set(obs) == {"image", "text", "action_mask"}  # the multimodal observation
        assert obs["image"].ndim == 4 and obs["image"].shape[-1] == 3
        return ['{"thoughts": "", "action": "+"}' if i % 2 else "no idea" for i in range(len(obs["text"]))]


def test_vl_suite_is_multimodal_with_text_actions():
    suite = get_suite("vl-v0")
    assert suite.actions == "text" and suite.published
    assert [e.label for e in suite.entries] == ["NumberLine", "EZPoints", "Points24", "Blackjack"]
    assert all(dict(e.kwargs) == {"obs_mode": "multimodal"} for e in suite.entries)


def test_vl_suite_counts_parse_failures_and_reports_success():
    results = evaluate(
        "tests:HalfJunkAgent", "vl-v0", envs=["NumberLine"], agent=HalfJunkAgent(), progress=False
    )
    (entry,) = results.entries
    # Every step of an even env is a failed parse: at least one in each of the 20 even episodes per seed.
    assert entry.parse_failures >= len(entry.seeds) * 20
    returns = np.asarray(entry.returns)
    assert entry.success_rate == np.mean(returns > 0) and results.success_rate == entry.success_rate
    table = markdown_tables([results])
    assert "| success |" in table.splitlines()[2]
    assert f"{entry.normalized_score.value:.1f} ({100 * entry.success_rate:.0f}%)" in table
