import sys

from bench.isolation_overhead.main import main

sys.exit(main(sys.argv[1:]))
