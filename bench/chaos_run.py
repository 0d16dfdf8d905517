"""The chaos run on the local stack (issue #12): the whole pipeline fed for a while as its parts are
killed and restarted, then the exactly-once check and the hop accounting. Prints what was killed
when and the final counts; exits 1 if anything was lost.

    PYTHONPATH=plugins .venv/bin/python bench/chaos_run.py [--lines 60000] [--seconds 300]

It restarts the stack's Kafka broker and HDFS: run it on a stack nothing else is using.
"""

from __future__ import annotations

import argparse
import sys
import uuid

from logstream.chaos import run_chaos
from logstream.stack.config import StackConfig
from logstream.stack.local_stack import LocalStack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=60_000)
    parser.add_argument("--seconds", type=float, default=300)
    args = parser.parse_args()
    config = StackConfig()
    LocalStack(config).up()
    report = run_chaos(config, name=f"chaos_{uuid.uuid4().hex[:8]}", lines=args.lines, seconds=args.seconds)
    print("\nwhat happened:")
    for event in report.events:
        print(f"  {event}")
    print(f"records per hop: {report.totals}")
    if report.problems:
        print(f"{len(report.problems)} problem(s):")
        for problem in report.problems:
            print(f"  {problem}")
        return 1
    print("nothing lost: every offset landed once; every host and hour complete at every hop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
