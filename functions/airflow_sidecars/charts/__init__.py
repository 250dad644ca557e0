"""The chart table: what each version of each Airflow chart does with its values (chart),
and what it calls them (valuenames). Pure data and lookups; every layer above reads it.
"""
