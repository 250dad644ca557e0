import sys

from airflow_sidecars.commands.cli import main

sys.exit(main())
