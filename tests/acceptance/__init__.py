"""Behavioural acceptance tests: the tool's output run as the pods would run it."""
