"""`python -m pps ...` is `pps ...`: for machines where the console script is not on PATH
(a module-loaded Python on a cluster, a venv not activated in a batch job)."""

import sys

from pps.cli.main import main

sys.exit(main())
