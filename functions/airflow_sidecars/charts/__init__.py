"""The chart table: what each version of each Airflow chart does with its values (chart),
what it calls them (valuenames), and the chart volumes a value makes it leave out
(valuerules). Pure data and lookups; every layer above reads it.
"""
