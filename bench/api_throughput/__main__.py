import sys

from bench.api_throughput.main import main

sys.exit(main(sys.argv[1:]))
