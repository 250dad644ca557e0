"""One run, bytes in and bytes out: the run loop (api, outcomes), a large stream part by part
(chunks, runparts), an estate render by render (estates, runestate), the summary line
(summary) and `--diff` (diffs).
"""
