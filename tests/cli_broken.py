"""A module that fails at import time (for test_dev_cli.py)."""

import no_such_dependency_for_rswsgi_tests  # noqa: F401
