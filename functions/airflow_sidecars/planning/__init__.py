"""From the config to edits in one pod: the chart values a pod takes (additions), the chart's
value-dependent rules on it (chartrules), the run's state and the edits (edits), the pod
template string (podtemplate), ServiceAccount annotations (serviceaccounts), and the check
that the output means what was planned (verify).
"""
