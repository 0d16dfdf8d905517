# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
.PHONY: setup demo test stack-up stack-down stack-status

PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/plugins

setup:
	@scripts/setup.sh

demo: setup
	$(PY) -m logstream demo

test: setup
	$(PY) -m pytest tests -ra --durations=15

stack-up: setup
	$(PY) -m logstream stack up

stack-status:
	$(PY) -m logstream stack status

stack-down:
	$(PY) -m logstream stack down
