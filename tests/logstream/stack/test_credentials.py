"""Generated local secrets: made once, shared by every process that asks, never in the repository."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from logstream.stack.config import REPO_ROOT, StackConfig
from logstream.stack.credentials import local_secret


def test_secret_is_made_once_and_kept(tmp_path):
    config = replace(StackConfig(), home=tmp_path)
    first = local_secret(config, "svc")
    assert local_secret(config, "svc") == first
    assert local_secret(config, "other") != first


def test_processes_asking_at_once_agree_on_one_secret(tmp_path):
    script = (
        "import sys; from dataclasses import replace; from pathlib import Path;"
        "from logstream.stack.config import StackConfig; from logstream.stack.credentials import local_secret;"
        "print(local_secret(replace(StackConfig(), home=Path(sys.argv[1])), 'shared'))"
    )
    env = {"PYTHONPATH": str(REPO_ROOT / "plugins")}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(8)]
    answers = {run.communicate(timeout=60)[0].strip() for run in runs}
    assert len(answers) == 1 and answers != {""}
    assert sorted(p.name for p in (tmp_path / "credentials").iterdir()) == ["shared"]
