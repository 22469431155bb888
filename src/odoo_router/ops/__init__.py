"""Running the router: the CLI, the master and its workers, reload, metrics, the access log, the
health probe.
"""
