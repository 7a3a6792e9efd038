"""Atomic writes (a failure mid-write leaves the old file) and crash-safe appends."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from thoughtdistill.io import JsonlAppender, JsonlWriter, ParquetWriter, read_records, repair_torn_tail, write_records
from thoughtdistill.records import Record

RECS = [Record(id=f"r{i}", question=f"question {i}", reasoning=[{"solution": str(i)}]) for i in range(5)]


def _boom(n):
    for i, r in enumerate(RECS):
        if i == n:
            raise RuntimeError("disk on fire")
        yield r


@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz", "json", "parquet", "hf"])
def test_failure_mid_write_keeps_old_file(tmp_path, suffix):
    path = tmp_path / f"out.{suffix}"
    write_records(path, RECS[:2])
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_records(path, _boom(3))
    assert [r.id for r in read_records(path)] == ["r0", "r1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out.{suffix}"]  # no temp files left


def test_new_file_absent_until_closed(tmp_path):
    path = tmp_path / "new.jsonl"
    writer = JsonlWriter(path)
    writer.write(RECS[0])
    assert not path.exists()
    writer.close()
    assert path.exists()
    with ParquetWriter(tmp_path / "p.parquet") as pw:
        pw.write(RECS[0])
        assert not (tmp_path / "p.parquet").exists()


def test_killed_writer_leaves_old_file(tmp_path):
    # A real crash: the process dies (SIGKILL, no cleanup) in the middle of writing.
    path = tmp_path / "out.jsonl"
    write_records(path, RECS[:2])
    code = f"""
import os, sys
from thoughtdistill.io import JsonlWriter
from thoughtdistill.records import Record
w = JsonlWriter({str(path)!r})
for i in range(1000):
    w.write(Record(question=f"q{{i}}", reasoning=[{{"solution": "x" * 1000}}]))
os.kill(os.getpid(), 9)
"""
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -9
    assert [r.id for r in read_records(path)] == ["r0", "r1"]


def test_appender_repairs_torn_tail_on_resume(tmp_path):
    path = tmp_path / "chains.jsonl"
    with JsonlAppender(path) as app:
        for r in RECS[:3]:
            app.write(r)
    whole = path.read_bytes()
    with open(path, "ab") as fh:  # a crash mid-append
        fh.write(b'{"id": "r3", "question": "quest')
    with JsonlAppender(path) as app:
        assert app.repaired_bytes == len(b'{"id": "r3", "question": "quest')
        app.write(RECS[3])
    assert path.read_bytes().startswith(whole)
    assert [r.id for r in read_records(path)] == ["r0", "r1", "r2", "r3"]


def test_killed_appender_then_resume(tmp_path):
    path = tmp_path / "chains.jsonl"
    code = f"""
import os
from thoughtdistill.io import JsonlAppender
app = JsonlAppender({str(path)!r})
for i in range(200):
    app.write({{"id": f"k{{i}}", "question": "q" + str(i)}})
# simulate dying mid-line: write half a line through the raw fd, then SIGKILL
os.write(app._fh.fileno(), b'{{"id": "half", "quest')
os.kill(os.getpid(), 9)
"""
    assert subprocess.run([sys.executable, "-c", code]).returncode == -9
    with JsonlAppender(path) as app:
        assert app.repaired_bytes > 0
        app.write({"id": "after", "question": "resumed"})
    ids = [r.id for r in read_records(path)]
    assert ids[:200] == [f"k{i}" for i in range(200)] and ids[-1] == "after" and len(ids) == 201


def test_repair_edge_cases(tmp_path):
    assert repair_torn_tail(tmp_path / "missing.jsonl") == 0
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert repair_torn_tail(empty) == 0
    only_torn = tmp_path / "torn.jsonl"
    only_torn.write_bytes(b'{"a": 1' + b"x" * 200_000)  # longer than one scan block
    assert repair_torn_tail(only_torn) == 200_007 and only_torn.read_bytes() == b""
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(b"{}\n")
    assert repair_torn_tail(whole) == 0 and os.path.getsize(whole) == 3


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".hf"])
def test_outputs_get_umask_modes_not_temp_file_modes(tmp_path, suffix):
    old = os.umask(0o022)
    try:
        out = tmp_path / f"out{suffix}"
        write_records(out, [Record(id="a", question="q")])
        expected = 0o755 if out.is_dir() else 0o644
        assert out.stat().st_mode & 0o777 == expected  # mkstemp/mkdtemp would leave 0600/0700
    finally:
        os.umask(old)


def test_replacing_a_file_keeps_its_mode(tmp_path):
    out = tmp_path / "out.jsonl"
    write_records(out, [Record(id="a", question="q")])
    os.chmod(out, 0o640)
    write_records(out, [Record(id="b", question="q")])
    assert out.stat().st_mode & 0o777 == 0o640


def test_refuse_overwriting_input(tmp_path):
    from thoughtdistill.errors import ConfigError
    from thoughtdistill.io.atomic import refuse_overwriting_input

    src = tmp_path / "in.jsonl"
    refuse_overwriting_input(tmp_path / "out.jsonl", [src])
    with pytest.raises(ConfigError, match=r"output: .*in\.jsonl is also the input"):
        refuse_overwriting_input(tmp_path / "sub" / ".." / "in.jsonl", [src])


def test_output_lock_refuses_a_second_writer(tmp_path):
    from thoughtdistill.errors import ThoughtDistillError
    from thoughtdistill.io.atomic import output_lock

    out = tmp_path / "chains.jsonl"
    code = ("import sys, time\nfrom thoughtdistill.io.atomic import output_lock\n"
            f"with output_lock({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ThoughtDistillError, match="another run is writing this output"):
            with output_lock(out):
                pass
    finally:
        holder.kill()
        holder.wait()
    with output_lock(out):  # released when its holder died (even by SIGKILL)
        pass
