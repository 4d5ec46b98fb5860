"""The Jinja2 environment of the pages: every value is HTML-escaped unless it is ``Markup``.

Autoescaping is on for every template, and no template marks user text ``|safe``: an agent named
``<img src=x onerror=alert(1)>`` is shown as those characters. The only ``Markup`` that reaches a
template is the SVG of :mod:`leaderboard.server.charts`, which escapes the text it draws.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from leaderboard.protocol import suites

ENVIRONMENT = Environment(
    loader=PackageLoader("leaderboard.server", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
#: The navigation bar's suites (read at each render: tests register suites of their own).
ENVIRONMENT.globals["suite_names"] = lambda: list(suites())


def render(template: str, **context: Any) -> bytes:
    return ENVIRONMENT.get_template(template).render(**context).encode()
