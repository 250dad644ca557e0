"""What each function does to a whole input: inject, remove (prune), validate (with
proxycheck), what the config matched nothing for (unmatched), and every rule id (rules).
"""
