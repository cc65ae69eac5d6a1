import sys

from bench.backfill.main import main

sys.exit(main())
