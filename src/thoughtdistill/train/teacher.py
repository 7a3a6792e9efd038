"""Teacher top-k log-probabilities for white-box KD, stored compactly and looked up by sample id.

Store layout (a folder, by default next to the data: ``<data>.topk/<teacher name>/``)::

    meta.json        k, teacher, tokenizer fingerprint, dtype, count
    ids.bin          uint32 [positions, k]   token ids of the teacher's top k
    logprobs.bin     float16 [positions, k]  their log-probabilities (full-vocabulary softmax, T=1)
    index.jsonl      {"id", "start", "n", "sha"}: rows of sample ``id`` are start..start+n

Only supervised positions are stored (the position predicting each supervised token, in
order). Reading memory-maps the two binary files and keeps only the index (a few bytes per
sample) in memory; writing appends, so an interrupted precompute resumes where it stopped.
``sha`` is a hash of the sample's input ids: a store made from a different rendering or
tokenizer is refused instead of silently pairing wrong distributions with a sample.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import ConfigError, ThoughtDistillError


def ids_sha(input_ids: Iterable[int]) -> str:
    return hashlib.sha1(np.asarray(list(input_ids), dtype=np.int64).tobytes()).hexdigest()[:16]


def tokenizer_fingerprint(tokenizer) -> str:
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256(json.dumps(vocab).encode()).hexdigest()[:16]


def check_tokenizers_match(student_tok, teacher_tok, student_name="student", teacher_name="teacher") -> None:
    """White-box KD compares distributions id by id: the vocabularies must be identical."""
    sv, tv = student_tok.get_vocab(), teacher_tok.get_vocab()
    if sv == tv:
        return
    only_s = sorted(set(sv) - set(tv))[:5]
    only_t = sorted(set(tv) - set(sv))[:5]
    moved = [t for t in set(sv) & set(tv) if sv[t] != tv[t]][:5]
    raise ConfigError(
        f"white-box KD needs the student and teacher to share a tokenizer: {student_name} has "
        f"{len(sv)} tokens, {teacher_name} {len(tv)}; only in student: {only_s}, only in teacher: "
        f"{only_t}, different ids: {moved}. Use black-box KD (no kd section) for this pair, "
        "or a teacher from the student's family"
    )


class TopKWriter:
    def __init__(self, folder: str | Path, k: int, teacher: str, tokenizer_fp: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        meta_path = self.folder / "meta.json"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta["k"] != k or meta["tokenizer"] != tokenizer_fp:
                raise ConfigError(
                    f"{self.folder}: existing top-k store has k={meta['k']}, tokenizer {meta['tokenizer']}; "
                    f"this run wants k={k}, tokenizer {tokenizer_fp}: use another folder"
                )
        self.k = k
        self.meta = {"k": k, "teacher": teacher, "tokenizer": tokenizer_fp, "ids_dtype": "uint32",
                     "logprobs_dtype": "float16", "format": 1}
        meta_path.write_text(json.dumps(self.meta, indent=1))
        self.done: set[str] = set()
        self.rows = 0
        index = self.folder / "index.jsonl"
        if index.exists():
            # resume: keep only whole entries whose rows are fully on disk
            n_rows = (self.folder / "ids.bin").stat().st_size // (4 * k) if (self.folder / "ids.bin").exists() else 0
            good = []
            for line in index.read_text().splitlines():
                try:
                    e = json.loads(line)
                except json.JSONDecodeError:
                    break
                if e["start"] + e["n"] > n_rows:
                    break
                good.append(line)
                self.done.add(e["id"])
                self.rows = e["start"] + e["n"]
            index.write_text("".join(g + "\n" for g in good))
            for name, size in (("ids.bin", 4), ("logprobs.bin", 2)):
                with open(self.folder / name, "ab") as fh:
                    fh.truncate(self.rows * k * size)
        self._ids = open(self.folder / "ids.bin", "ab")
        self._lp = open(self.folder / "logprobs.bin", "ab")
        self._index = open(index, "a")

    def add(self, sample_id: str, input_ids, top_ids: np.ndarray, top_lp: np.ndarray) -> None:
        assert top_ids.shape == top_lp.shape and top_ids.shape[1] == self.k
        self._ids.write(np.ascontiguousarray(top_ids, dtype=np.uint32).tobytes())
        self._lp.write(np.ascontiguousarray(top_lp, dtype=np.float16).tobytes())
        self._ids.flush()
        self._lp.flush()
        entry = {"id": sample_id, "start": self.rows, "n": int(top_ids.shape[0]), "sha": ids_sha(input_ids)}
        self._index.write(json.dumps(entry) + "\n")
        self._index.flush()
        self.rows += int(top_ids.shape[0])
        self.done.add(sample_id)

    def close(self) -> None:
        for fh in (self._ids, self._lp, self._index):
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()


class TopKStore:
    """Read side: ``store.get(sample_id, input_ids) -> (ids [n,k], logprobs [n,k])``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not (self.folder / "meta.json").exists():
            raise ConfigError(f"{self.folder}: not a teacher top-k store (meta.json missing)")
        self.meta = json.loads((self.folder / "meta.json").read_text())
        self.k = int(self.meta["k"])
        self.index: dict[str, tuple[int, int, str]] = {}
        with open(self.folder / "index.jsonl") as fh:
            for line in fh:
                e = json.loads(line)
                self.index[e["id"]] = (e["start"], e["n"], e["sha"])
        rows = sum(n for _, n, _ in self.index.values())
        if rows:
            self._ids = np.memmap(self.folder / "ids.bin", dtype=np.uint32, mode="r").reshape(-1, self.k)
            self._lp = np.memmap(self.folder / "logprobs.bin", dtype=np.float16, mode="r").reshape(-1, self.k)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self.index

    def get(self, sample_id: str, input_ids=None) -> tuple[np.ndarray, np.ndarray]:
        try:
            start, n, sha = self.index[sample_id]
        except KeyError:
            raise ThoughtDistillError(f"{self.folder}: no teacher log-probs for sample {sample_id}") from None
        if input_ids is not None and ids_sha(input_ids) != sha:
            raise ThoughtDistillError(
                f"{self.folder}: sample {sample_id} was rendered differently when its teacher log-probs "
                "were computed (template, max_length or tokenizer changed): recompute the store"
            )
        return np.asarray(self._ids[start:start + n]), np.asarray(self._lp[start:start + n])


def teacher_topk(teacher, input_ids, labels, k: int, attention_mask=None, position_ids=None):
    """(ids [N,k], logprobs [N,k]) at the positions predicting each supervised token, row-major."""
    import torch

    with torch.no_grad():
        # use_cache=False: with a cache object, transformers ignores packed position ids
        kwargs = {"input_ids": input_ids, "use_cache": False}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
        logits = teacher(**kwargs).logits[:, :-1]
        mask = labels[:, 1:] != -100
        lp = torch.log_softmax(logits[mask].float(), dim=-1)
        top_lp, top_ids = lp.topk(k, dim=-1)
    return top_ids, top_lp


def precompute_topk(dataset, teacher_path: str, folder: str | Path, k: int, tokenizer_fp: str,
                    device: str | None = None, log=print) -> Path:
    """Run the teacher over every example of ``dataset`` (columns sample_id, input_ids, labels)
    and append its top-k to the store at ``folder``; examples already there are skipped."""
    import torch
    from transformers import AutoModelForCausalLM

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    writer = TopKWriter(folder, k, str(teacher_path), tokenizer_fp)
    todo = [i for i, sid in enumerate(dataset["sample_id"]) if sid not in writer.done]
    if todo:
        dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        teacher = AutoModelForCausalLM.from_pretrained(teacher_path, dtype=dtype).to(device).eval()
        log(f"teacher top-{k}: {len(todo)} samples to compute ({len(writer.done)} already stored)")
        try:
            for i in todo:
                row = dataset[i]
                ids = torch.tensor([row["input_ids"]], device=device)
                labels = torch.tensor([row["labels"]], device=device)
                top_ids, top_lp = teacher_topk(teacher, ids, labels, k)
                writer.add(row["sample_id"], row["input_ids"], top_ids.cpu().numpy(), top_lp.cpu().numpy())
        finally:
            writer.close()
        del teacher
    else:
        writer.close()
    return Path(folder)
