"""The pipeline configuration a deployment edits: a file that describes an impossible pipeline is
refused when it is loaded, with a message naming every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from logstream.pipeline_config import DEFAULT_PATH, PipelineConfigError, load_pipeline_config


def write_config(tmp_path: Path, **changes) -> Path:
    raw = yaml.safe_load(Path(DEFAULT_PATH).read_text())
    for key, value in changes.items():
        raw["flume"][key] = value
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_repository_config_loads_with_hosts_and_two_l2_agents():
    config = load_pipeline_config(DEFAULT_PATH)
    assert len(config.flume.hosts) >= 2
    assert len(config.flume.l2_agents) >= 2
    assert {host.topic for host in config.flume.hosts} <= {topic.name for topic in config.topics}


def test_a_host_of_an_unknown_business_is_named(tmp_path):
    path = write_config(tmp_path, hosts=[{"name": "frontend9", "topic": "no_such_topic", "log_dir": "hosts/frontend9"}])
    with pytest.raises(PipelineConfigError) as error:
        load_pipeline_config(path)
    assert str(path) in str(error.value)
    assert "flume host 'frontend9' files its lines under unknown topic 'no_such_topic'" in str(error.value)


@pytest.mark.parametrize("l2_agents", [[], [{"name": "collector1"}]])
def test_hosts_need_two_l2_agents_to_fail_over_between(tmp_path, l2_agents):
    with pytest.raises(PipelineConfigError) as error:
        load_pipeline_config(write_config(tmp_path, l2_agents=l2_agents))
    assert f"flume hosts need at least two l2_agents (an L1 fails over to the next), found {len(l2_agents)}" \
        in str(error.value)


def test_every_problem_is_named_at_once(tmp_path):
    path = write_config(tmp_path, hosts=[{"name": "front end", "topic": "security_logs", "log_dir": "a"},
                                         {"name": "collector1", "topic": "security_logs", "log_dir": "b"}])
    with pytest.raises(PipelineConfigError) as error:
        load_pipeline_config(path)
    message = str(error.value)
    assert "flume agent name 'front end' is not an identifier" in message
    assert "flume agent name 'collector1' is used twice" in message


@pytest.mark.parametrize("keep, most", [(0, 524_288), (524_288, 524_288), (5_000, 4_000)])
def test_a_cut_line_keeps_less_than_the_longest_line(tmp_path, keep, most):
    with pytest.raises(PipelineConfigError) as error:
        load_pipeline_config(write_config(tmp_path, line_keep_bytes=keep, max_line_bytes=most))
    assert f"flume line_keep_bytes ({keep}) must be above 0 and below max_line_bytes ({most})" in str(error.value)


def test_the_l1_channel_is_memory_or_file(tmp_path):
    assert load_pipeline_config(write_config(tmp_path, l1_channel="file")).flume.l1_channel == "file"
    with pytest.raises(PipelineConfigError) as error:
        load_pipeline_config(write_config(tmp_path, l1_channel="spillable"))
    assert "flume l1_channel 'spillable' is not 'memory' or 'file'" in str(error.value)
