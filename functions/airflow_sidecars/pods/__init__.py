"""Pod specs as data: the one lookup of containers and volumes and the planner of ops
(podspec), the takes of chart entries a chart leaves out for the values (leftout), their
shapes (podshape), and resource quantities (quantity).
"""
