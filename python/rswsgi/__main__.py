"""`python -m rswsgi` runs the dev server, as `python -m rswsgi.dev` does."""

import sys

from .dev import main

sys.exit(main())
