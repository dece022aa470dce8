"""A Django project (`helloworld/` beside this file) served through its WSGI handler.

python -m rswsgi.dev examples.djangoapp:app
"""

from __future__ import annotations

import os
import sys

# `helloworld` is a top-level package, as `django-admin startproject` lays
# it out; make it importable however this file was reached.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helloworld import wsgi  # noqa: E402

app = wsgi.application
