"""``python -m odoo_router.probe``: the health probe's public entry point, as container
HEALTHCHECKs and the README name it (the probe itself is ops/probe.py)."""

import sys

from .ops.probe import main

if __name__ == "__main__":
    sys.exit(main())
