"""hf: dataset references. There is no hub here (HF_HUB_OFFLINE=1, see conftest), so the
same load_dataset(..., streaming=True) path is exercised on local Parquet folders and files."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thoughtdistill.errors import ThoughtDistillError
from thoughtdistill.io.hub import is_hub_ref, iter_hub_rows, parse_hub_ref


@pytest.fixture
def hub_folder(tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    train = [{"question": f"q{i}", "reasoning": [{"full_response": f"a{i}", "teacher": "t"}]} for i in range(7)]
    pq.write_table(pa.Table.from_pylist(train), folder / "train-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist([{"question": "t0"}, {"question": "t1"}]),
                   folder / "test-00000-of-00001.parquet")
    return folder


def test_is_hub_ref():
    assert is_hub_ref("hf:alibaba-pai/OmniThought-0528")
    assert is_hub_ref("hf:HuggingFaceH4/MATH-500:test")
    assert not is_hub_ref("hf:")
    assert not is_hub_ref("data/hf.jsonl")
    assert not is_hub_ref(None)


def test_parse_grammar():
    assert parse_hub_ref("hf:org/name").split is None
    ref = parse_hub_ref("hf:HuggingFaceH4/MATH-500:test")
    assert (ref.repo, ref.config, ref.split) == ("HuggingFaceH4/MATH-500", None, "test")
    ref = parse_hub_ref("hf:org/name:main:validation")
    assert (ref.repo, ref.config, ref.split) == ("org/name", "main", "validation")
    for bad in ("hf:a:b:c:d", "hf:a::b", "hf:a:"):
        with pytest.raises(ThoughtDistillError, match="hf:REPO"):
            parse_hub_ref(bad)


def test_folder_default_split_is_train_and_limit(hub_folder):
    rows = list(iter_hub_rows(f"hf:{hub_folder}", limit=3))
    assert [r["question"] for r in rows] == ["q0", "q1", "q2"]
    assert rows[0]["reasoning"] == [{"full_response": "a0", "teacher": "t"}]


def test_named_split_and_missing_split(hub_folder):
    assert [r["question"] for r in iter_hub_rows(f"hf:{hub_folder}:test")] == ["t0", "t1"]
    with pytest.raises(ThoughtDistillError, match=r"no split 'dev'.*train, test|no split 'dev'.*test, train"):
        list(iter_hub_rows(f"hf:{hub_folder}:dev"))


def test_single_parquet_file(hub_folder):
    rows = list(iter_hub_rows(f"hf:{hub_folder / 'train-00000-of-00001.parquet'}"))
    assert len(rows) == 7


def test_offline_and_not_cached_is_one_line():
    with pytest.raises(ThoughtDistillError) as info:
        list(iter_hub_rows("hf:alibaba-pai/OmniThought-0528"))
    message = str(info.value)
    assert "\n" not in message
    assert "offline" in message and "local file" in message and "hf:alibaba-pai/OmniThought-0528" in message


def test_offline_falls_back_to_the_prepared_cache(hub_folder, monkeypatch):
    """Offline, a dataset prepared earlier in the datasets cache is read from there. A real
    hub cannot run here, so the streaming open is made to fail as it does offline (a stand-in
    for the hub) and the cached, non-streaming load of the same folder must take over."""
    from thoughtdistill.io import hub

    def offline(ref):
        raise ConnectionError(f"Couldn't reach '{ref.repo}' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(hub, "_open_streaming", offline)
    monkeypatch.setattr(hub, "_offline", lambda: True)
    assert [r["question"] for r in iter_hub_rows(f"hf:{hub_folder}:test")] == ["t0", "t1"]
    monkeypatch.setattr(hub, "_offline", lambda: False)  # online, the same failure is reported
    with pytest.raises(ThoughtDistillError, match="cannot load it .*ConnectionError"):
        list(iter_hub_rows(f"hf:{hub_folder}"))
