"""From legacy to isolated: backfill, orphans, verification and online tightening.

See docs/legacy.md for the legacy shape and the journey; ``cli`` for the commands.
"""
