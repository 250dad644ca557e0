"""The command lines: airflow-sidecars (cli, fromvalues with valuetemplates, plugin, helptext,
fndocs), airflow-sidecars-pipeline (pipeline), and stdout/stderr without tracebacks (stdio).
"""
