"""odoo-router-migrate: the container-split runbook as a safe, resumable, verified tool.

``plan`` is pure (inputs -> rendered files + ordered steps); every side effect goes through
the narrow interfaces in ``runner``, ``docker_api``, ``pg`` and ``traefik``.
"""
