"""Runnable example apps; each answers `GET /hello`.

Serve one from the repository root with `python -m rswsgi.dev examples.NAME:app`.
"""
