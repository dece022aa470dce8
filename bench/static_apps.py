"""The static-file apps ``bench_static.py`` serves, over the folder ``$BENCH_STATIC_DIR`` at
``/static/``, each in front of ``hello_app.app`` (what a miss falls through to):

- ``rswsgi_app``: ``rswsgi.static_files`` (``max_age=0``, as ``--static`` uses it);
- ``whitenoise_app``: ``whitenoise.WhiteNoise`` (files scanned at import, its production mode);
- ``werkzeug_app``: werkzeug's ``SharedDataMiddleware``.

A peer that is not installed is ``None`` here (the bench skips it).
"""

from __future__ import annotations

import os
from typing import Any

from hello_app import app as hello

FOLDER = os.environ.get("BENCH_STATIC_DIR", os.path.join(os.path.dirname(__file__), "data"))

rswsgi_app: Any = None
whitenoise_app: Any = None
werkzeug_app: Any = None

try:
    from rswsgi import static_files

    rswsgi_app = static_files(hello, {"/static": FOLDER}, max_age=0)
except ImportError:
    pass

try:
    from whitenoise import WhiteNoise

    whitenoise_app = WhiteNoise(hello, root=FOLDER, prefix="static/", max_age=0)
except ImportError:
    pass

try:
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    werkzeug_app = SharedDataMiddleware(hello, {"/static": FOLDER})
except ImportError:
    pass
