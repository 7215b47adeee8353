"""`python -m pps.cli ...` is `pps ...` (tests and `pps bench --groups` start training this way)."""

import sys

from pps.cli.main import main

sys.exit(main())
