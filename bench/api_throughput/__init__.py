"""Requests per second through the whole stack against a bare RLS endpoint.

``python -m bench.api_throughput [--rounds N] [--seconds S] [--smoke]`` — see
bench/README.md. The pieces:

* ``bare``     the least code that serves the same rows under the same RLS policy as
               the app role (Starlette + a psycopg async pool, no auth, no ORM);
* ``data``     a tenant to read (200 bookings) and one to write into;
* ``servers``  each side in its own uvicorn process, one worker, same options;
* ``load``     ``wrk`` (Debian's package): requests/s, p50, p99, errors;
* ``main``     interleaved rounds — each scenario, both sides in random order, back to
               back — and the ratio per round;
* ``report``   JSON and markdown in bench/results/.
"""

from bench.api_throughput.main import SMOKE, ThroughputConfig, ThroughputResult, run

__all__ = ["SMOKE", "ThroughputConfig", "ThroughputResult", "run"]
