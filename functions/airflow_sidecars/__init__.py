"""airflow-sidecars: KRM functions that add sidecars to rendered Apache Airflow Helm manifests.

The Python API for scripted pipelines is `airflow_sidecars.runs.api.run_inject` (bytes in, bytes
out, never raises for bad input). Importing this package stays cheap: modules load on use.
"""

__version__ = "0.1.0"
