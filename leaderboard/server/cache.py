"""Responses kept until the store changes, so that a page of a thousand submissions is not rebuilt
for every reader.

A leaderboard page is a function of the stored rows, and rows are only ever added: the store's
:meth:`~leaderboard.store.ResultsStore.version` (the newest submission and verification ids) changes
with every addition, in whichever worker process it happened. Each worker asks for the version at
most every :data:`FRESHNESS_S` seconds and drops its cache when it changed; the worker that stores a
submission drops its own at once. So a new submission shows on the pages of the worker that took it
immediately, and on every other worker's within FRESHNESS_S.

The cache lives on the event loop: a hit answers without a thread or a query; the version check and
any rebuild run on the thread pool, so a slow database never stalls the loop. A response may also be
found by an *alias*, the request's raw query string: the hottest pages are then answered without
even parsing their parameters (FastAPI's parameter validation costs more than the rest of a hit).
Aliases are kept apart from responses, so that a flood of made-up query strings evicts no page.

A cached response is a :class:`Body`, kept both as is and gzip-compressed: browsers and HTTP
libraries accept gzip, and a leaderboard of 100 rows shrinks about sevenfold, compressed once per
change of the store rather than once per request.
"""

from __future__ import annotations

import gzip
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

#: Seconds between two version checks of one worker: how stale another worker's write can look.
FRESHNESS_S = 0.1
#: Responses kept per worker (the least recently used go first), and aliases.
MAX_ITEMS = 512
MAX_ALIASES = 4096


class VersionedCache:
    """``await get(key, build)``: what ``build()`` returned, built again once ``version()`` changed.

    Use it from the event loop only (its dictionary has no lock); ``build`` and ``version`` are
    blocking functions, run on the thread pool.
    """

    def __init__(
        self, version: Callable[[], Hashable], max_items: int = MAX_ITEMS, freshness_s: float = FRESHNESS_S
    ) -> None:
        self._version = version
        self._max_items = max_items
        self._freshness_s = freshness_s
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._aliases: OrderedDict[Hashable, Hashable] = OrderedDict()
        self._seen: Hashable = None
        self._next_check = 0.0

    def invalidate(self) -> None:
        """Forget everything and check the version at the next request (after a write here)."""
        self._items.clear()
        self._next_check = 0.0

    async def _check_version(self) -> None:
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self._freshness_s  # before awaiting: one check at a time
            version = await run_in_threadpool(self._version)
            if version != self._seen:
                self._items.clear()
                self._seen = version

    async def lookup(self, alias: Hashable) -> Any | None:
        """The response stored with ``alias`` by :meth:`get`, or None."""
        await self._check_version()
        key = self._aliases.get(alias)
        if key is None or key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    async def get(self, key: Hashable, build: Callable[[], Any], alias: Hashable | None = None) -> Any:
        """The response of ``key``, built if needed; ``alias`` finds it too from now on."""
        await self._check_version()
        if alias is not None:
            self._aliases[alias] = key
            self._aliases.move_to_end(alias)
            while len(self._aliases) > MAX_ALIASES:
                self._aliases.popitem(last=False)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        seen = self._seen
        built = await run_in_threadpool(build)  # two requests may build the same page, once each
        if self._seen == seen:
            self._items[key] = built
            while len(self._items) > self._max_items:
                self._items.popitem(last=False)
        return built


@dataclass(frozen=True)
class Body:
    """A response body, as is and gzip-compressed."""

    identity: bytes
    gzipped: bytes

    @classmethod
    def of(cls, content: bytes) -> Body:
        return cls(content, gzip.compress(content, compresslevel=6, mtime=0))


def _accepts_gzip(request: Request) -> bool:
    for coding in request.headers.get("accept-encoding", "").split(","):
        name, _, parameters = coding.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return parameters.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def respond(request: Request, body: Body, media_type: str) -> Response:
    """``body`` gzip-compressed if the client accepts it, as is otherwise."""
    if _accepts_gzip(request):
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(body.gzipped, media_type=media_type, headers=headers)
    return Response(body.identity, media_type=media_type, headers={"Vary": "Accept-Encoding"})
