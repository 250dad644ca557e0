"""The AirflowSidecars config: loading and its identity (config), the value lists and
their checks (configvalues), and the fast schema check (schemacheck).
"""
