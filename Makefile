# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
.PHONY: setup demo demo-cluster test test-future stack-up stack-down stack-status

PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/plugins

setup:
	@scripts/setup.sh

demo: setup
	$(PY) -m logstream demo

# the same on the multi-host cluster (network namespaces on this box; as root)
demo-cluster: setup
	$(PY) -m logstream demo --cluster

test: setup
	$(PY) -m pytest tests -ra --durations=40

# The same suite with the wall clock 60 days ahead: this process and every service its stack starts
# (scripts/shift_wall_clock.c, preloaded through the environment they inherit), on a stack folder of
# its own, since a stack's data keeps the dates it was written on. A test that leans on today's date
# fails here.
FUTURE_STACK := $(CURDIR)/.stack-future
test-future: setup
	mkdir -p $(FUTURE_STACK)
	cc -shared -fPIC -O2 -Wall -o $(FUTURE_STACK)/shift_wall_clock.so scripts/shift_wall_clock.c -ldl
	LOGSTREAM_STACK_DIR=$(FUTURE_STACK) LD_PRELOAD=$(FUTURE_STACK)/shift_wall_clock.so \
		LOGSTREAM_WALL_CLOCK_SHIFT=$$((60 * 86400)) $(PY) -m pytest tests -ra --durations=40

stack-up: setup
	$(PY) -m logstream stack up

stack-status:
	$(PY) -m logstream stack status

stack-down:
	$(PY) -m logstream stack down
