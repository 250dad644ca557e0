"""KRM input and output: the items of a ResourceList or a manifest stream (krm, krmlight),
parsing and rendering them (krmread, krmwrite), results (results), and the files a command
reads and writes back (inputfiles).
"""
