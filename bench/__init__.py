"""Side-by-side benchmarks: odoo-router against nginx (reference and tuned) on loopback.

Run ``.venv/bin/python -m bench --help``; docs/performance.md explains the method.
"""
