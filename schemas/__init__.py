"""The JSON Schema of the AirflowSidecars config, shipped inside the package."""
