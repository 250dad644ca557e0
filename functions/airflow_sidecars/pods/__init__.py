"""Pod specs as data: the one lookup of containers and volumes and the planner of ops
(podspec), their shapes (podshape), and resource quantities (quantity).
"""
