# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
.PHONY: setup demo test test-future stack-up stack-down stack-status

PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/plugins

setup:
	@scripts/setup.sh

demo: setup
	$(PY) -m logstream demo

test: setup
	$(PY) -m pytest tests -ra --durations=15

# The same suite with every clock 60 days ahead: this process and every service its stack starts
# (libfaketime reaches them through the environment), on a stack folder of its own, since a stack's
# data keeps the dates it was written on. A test that leans on today's date fails here.
test-future: setup
	LOGSTREAM_STACK_DIR=$(CURDIR)/.stack-future FAKETIME_DONT_FAKE_MONOTONIC=1 \
		faketime -f '+60d' $(PY) -m pytest tests -ra --durations=15

stack-up: setup
	$(PY) -m logstream stack up

stack-status:
	$(PY) -m logstream stack status

stack-down:
	$(PY) -m logstream stack down
