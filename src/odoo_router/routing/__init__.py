"""Pure routing: host and URI normalisation, the routing table and its decisions, the request
filter.
"""
