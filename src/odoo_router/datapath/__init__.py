"""The data path: client and upstream connections, the request state machine and its driver,
framing, pools, the logging phase.
"""
