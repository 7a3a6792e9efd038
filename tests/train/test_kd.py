"""White-box pieces: divergences, the top-k store keyed by sample id, collator pairing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thoughtdistill.errors import ConfigError, ThoughtDistillError
from thoughtdistill.train.kd import KDCollator, kd_token_loss
from thoughtdistill.train.teacher import TopKStore, TopKWriter


def _dist(seed, v=50, n=6):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, v, generator=g) * 2


@pytest.mark.parametrize("kind", ["forward_kl", "reverse_kl", "jsd"])
def test_divergence_zero_iff_same_and_positive_otherwise(kind):
    t = _dist(0)
    k = 50  # full support: top-k divergences equal the exact ones
    t_lp, t_ids = torch.log_softmax(t, -1).topk(k, -1)
    same = kd_token_loss(t, t_ids, t_lp, kind)
    torch.testing.assert_close(same, torch.zeros_like(same), atol=1e-5, rtol=0)
    other = kd_token_loss(_dist(1), t_ids, t_lp, kind)
    assert (other > 1e-3).all()
    if kind == "forward_kl":
        exact = torch.nn.functional.kl_div(torch.log_softmax(_dist(1), -1), torch.log_softmax(t, -1),
                                           log_target=True, reduction="none").sum(-1)
        torch.testing.assert_close(other, exact, atol=1e-4, rtol=1e-4)
    if kind == "jsd":
        assert (other <= np.log(2) + 1e-5).all()


def test_store_roundtrip_by_id_resume_and_mismatch(tmp_path):
    folder = tmp_path / "store"
    w = TopKWriter(folder, k=3, teacher="t", tokenizer_fp="fp")
    w.add("a#0", [1, 2, 3], np.array([[1, 2, 3], [4, 5, 6]]), np.full((2, 3), -1.5))
    w.close()
    w = TopKWriter(folder, k=3, teacher="t", tokenizer_fp="fp")  # resume
    assert w.done == {"a#0"}
    w.add("b#1", [9, 9], np.array([[7, 8, 9]]), np.full((1, 3), -0.5))
    w.close()
    s = TopKStore(folder)
    assert len(s) == 2
    ids, lp = s.get("b#1", [9, 9])
    assert ids.tolist() == [[7, 8, 9]] and lp.dtype == np.float16
    assert s.get("a#0")[0].tolist() == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(ThoughtDistillError, match="rendered differently"):
        s.get("a#0", [1, 2, 4])
    with pytest.raises(ThoughtDistillError, match="no teacher log-probs for sample zz"):
        s.get("zz")
    with pytest.raises(ConfigError, match="k=3"):
        TopKWriter(folder, k=5, teacher="t", tokenizer_fp="fp")


def test_collator_pairs_by_id_whatever_the_order(tmp_path):
    w = TopKWriter(tmp_path / "s", k=2, teacher="t", tokenizer_fp="fp")
    exs = []
    for j, sid in enumerate(["x", "y", "z"]):
        ids = list(range(10 + j, 15 + j))
        labels = [-100, -100] + ids[2:]  # 3 supervised targets -> 3 prediction positions
        w.add(sid, ids, np.full((3, 2), j, dtype=np.uint32), np.full((3, 2), -float(j), dtype=np.float32))
        exs.append({"sample_id": sid, "input_ids": ids, "labels": labels})
    w.close()
    col = KDCollator(pad_token_id=0, padding_free=False, store=TopKStore(tmp_path / "s"))
    for order in ([0, 1, 2], [2, 0, 1]):
        batch = col([exs[i] for i in order])
        assert batch["teacher_ids"][:, 0].tolist() == sum(([i] * 3 for i in order), [])
        mask = batch["labels"][:, 1:] != -100
        assert int(mask.sum()) == batch["teacher_ids"].shape[0]
