# Moved to tests/harness/traefik.py (shared by every suite); this name stays importable.
from harness.traefik import *  # noqa: F403
