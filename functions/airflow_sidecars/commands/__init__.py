"""The command lines: airflow-sidecars (cli, fromvalues with valuesextras, valuesstrip and
subchart, plugin, helptext, fndocs), airflow-sidecars-pipeline (pipeline), and stdout/stderr
without tracebacks (stdio).
"""
