"""The command lines: airflow-sidecars (cli; from-values: fromvaluescli, fromvalues with
valuesextras, valuesstrip, subchart and valuetemplates; plugin, helptext, fndocs),
airflow-sidecars-pipeline (pipeline), and stdout/stderr without tracebacks (stdio).
"""
