.PHONY: run test lint

# Serve AttendX on http://127.0.0.1:10000 with the embedded defaults (SQLite, embedded Redis).
run:
	bash scripts/run.sh

# Install whatever is missing and run the whole test suite against real services.
test:
	bash scripts/test.sh $(ARGS)

lint:
	.venv/bin/ruff check .
