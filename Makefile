# Shortcuts; dev.py does the work and needs only Python 3.11+.
.PHONY: run test lint typecheck bench
run:       ; python3 dev.py run
test:      ; python3 dev.py test
lint:      ; python3 dev.py lint
typecheck: ; python3 dev.py typecheck
bench:     ; python3 dev.py bench
