"""The leaderboard server: results files submitted over HTTP, kept in the store, shown on web pages.

FastAPI under uvicorn (``icl-bench serve``), on the same store as the command line (SQLite by
default, PostgreSQL for a shared server). Its modules, from the bottom:

- ``client``: ``icl-bench submit``, the HTTP client with safe retries (standard library only);
- ``settings``: the server's configuration, passed to every worker through the environment;
- ``tokens``: submission tokens (created, revoked, listed; stored hashed) and their rate limit;
- ``errors``: every error as JSON naming the field that failed (HTML for the pages);
- ``cache``: responses kept until the store changes;
- ``tables``: a suite's leaderboard as columns and sorted rows, shared by the API and the pages;
- ``charts``: inline SVG drawn on the server (score bars, error-against-context curves);
- ``api``: the versioned JSON API (``/api/v1``);
- ``pages``: the HTML pages (Jinja2 templates in ``templates/``);
- ``app``: the application factory that puts them together.

Importing this package imports nothing else, so ``icl-bench submit`` needs no web framework.
"""
