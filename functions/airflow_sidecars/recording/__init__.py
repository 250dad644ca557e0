"""Records: what inject added, written on the objects it edited (records), their exact
shape (recordshape), and whether a recorded item may be taken back (takeback).
"""
