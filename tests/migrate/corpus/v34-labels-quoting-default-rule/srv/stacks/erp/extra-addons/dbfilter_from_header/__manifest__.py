# Corpus stand-in for the OCA server-tools module of the same name.
{  # noqa: B018 - a manifest is a bare dict
    "name": "dbfilter_from_header",
    "version": "18.0.1.0.0",
    "license": "AGPL-3",
    "depends": ["web"],
    "installable": True,
}
