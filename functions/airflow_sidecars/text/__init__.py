"""YAML text: reading it with its positions and guards (yamlread), writing new text in the
indentation of its place (yamlemit), and editing by splices only (yamledit, yamlsplice,
yamlremove, yamltext). Knows nothing of Kubernetes or Airflow.
"""
