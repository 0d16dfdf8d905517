from __future__ import annotations

from logstream.hive.report_plan import assign_version, fingerprint, history_by_hour, plan_hours


def test_a_version_per_distinct_input():
    assert assign_version("a", []) == 1
    assert assign_version("a", [(1, "a")]) == 1
    assert assign_version("b", [(1, "a")]) == 2
    assert assign_version("a", [(1, "a"), (2, "b")]) == 1
    assert assign_version("c", [(2, "b"), (1, "a")]) == 3


def test_the_fingerprint_is_the_set_of_landed_names_and_sizes():
    files = [("t+0+00000000000000000000+00000000000000000009.log", 300), ("t+1+00000000000000000000+00000000000000000004.log", 150)]
    assert fingerprint(files, []) == fingerprint(list(reversed(files)), [])
    assert fingerprint(files, []) != fingerprint(files[:1], [])
    assert fingerprint(files, []) != fingerprint(files, [("t+0+00000000000000000003+00000000000000000003.tsv", 40)])


def test_history_rows_by_hour():
    rows = [("2025-12-31", "23", 1, "a"), ("2025-12-31", "23", 2, "b"), ("2026-01-01", "00", 1, "c")]
    assert history_by_hour(rows) == {"2025-12-31T23": [(1, "a"), (2, "b")], "2026-01-01T00": [(1, "c")]}


def test_plan_registers_the_hour_and_the_landed_hours_of_its_lookback(landed):
    for key in ("2025-12-30T22", "2025-12-31T21", "2025-12-31T23", "2026-01-01T00", "2026-01-01T01"):
        landed.land_hour(key, count=12, seed=1, hosts=5, bad_ratio=0)
    [plan] = plan_hours(landed.client, landed.root, landed.topic, ["2026-01-01T00"], {"2026-01-01T00": [(1, "x")]}, lookback_hours=24)
    assert [(p.dt, p.hour) for p in plan.log_partitions] == [("2025-12-31", "21"), ("2025-12-31", "23"), ("2026-01-01", "00")]
    assert plan.log_partitions[-1].location == f"{landed.root}/security_logs/dt=2026-01-01/hour=00"
    assert (plan.lookback_dt, plan.lookback_hour, plan.version, plan.files) == ("2025-12-31", "00", 2, 3)
    assert plan.quarantine_partitions == ()
