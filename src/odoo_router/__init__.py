"""odoo-router: an Odoo-aware multi-tenant reverse proxy."""

__version__ = "0.1.0"
