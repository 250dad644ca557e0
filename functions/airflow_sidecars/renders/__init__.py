"""What a rendered release says: its Airflow workloads (airflow), its settings and facts
(release), its database connections (dbconn), and the chart's templates in values (templating).
"""
