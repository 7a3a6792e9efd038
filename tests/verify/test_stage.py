"""run_verify: the stage around the rule verifiers."""

from __future__ import annotations

import shutil

import pytest

from thoughtdistill.errors import ConfigError
from thoughtdistill.io import read_records
from thoughtdistill.verify.stage import VerifyConfig, run_verify


def test_verify_refuses_to_replace_its_input(tmp_path, data_dir):
    src = tmp_path / "traces.jsonl"
    shutil.copy(data_dir / "r1_traces.jsonl", src)
    before = src.read_bytes()
    with pytest.raises(ConfigError, match="output: .*traces.jsonl is also the input"):
        run_verify(VerifyConfig(input=src, output=tmp_path / "." / "traces.jsonl", limit=2))
    assert src.read_bytes() == before


def test_verify_limit_writes_only_that_many(tmp_path, data_dir):
    out = tmp_path / "v.jsonl"
    result = run_verify(VerifyConfig(input=data_dir / "r1_traces.jsonl", output=out, limit=2))
    assert result.records == 2 and len(list(read_records(out))) == 2
