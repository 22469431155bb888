"""HTTP's rules, pure, shared by routing and the data path: the status lines and pages nginx
answers with, the request and response header rules, where a failure arose.
"""
