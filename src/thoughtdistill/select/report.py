"""The selection report: distributions on compact arrays and PNG figures (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .scan import Stats

TOKEN_EDGES = [0, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 1 << 62]


def distribution(stats: Stats, chains: np.ndarray) -> dict:
    """Summary of a set of chains (indices): RV x CD counts, lengths, per teacher and domain."""
    rv, cd = stats.rv[chains], stats.cd[chains]
    ok = (rv >= 0) & (cd >= 0)
    heat = np.zeros((10, 10), np.int64)
    np.add.at(heat, (rv[ok].astype(np.int64), cd[ok].astype(np.int64)), 1)
    toks = stats.tokens[chains]
    teach = np.bincount(stats.teacher[chains] + 1, minlength=len(stats.teachers) + 1)
    dom = np.bincount(stats.q_domain[stats.q[chains]] + 1, minlength=len(stats.domains) + 1)
    qs = np.unique(stats.q[chains])
    corr = stats.correct[chains]
    return {
        "chains": int(len(chains)),
        "questions": int(len(qs)),
        "tokens_total": int(toks.sum()),
        "tokens": ({"mean": float(toks.mean()), "p10": float(np.percentile(toks, 10)),
                    "p50": float(np.percentile(toks, 50)), "p90": float(np.percentile(toks, 90)),
                    "max": int(toks.max())} if len(toks) else None),
        "token_histogram": {"edges": TOKEN_EDGES[:-1],
                            "counts": np.histogram(toks, bins=TOKEN_EDGES)[0].tolist()},
        "rv_cd": heat.tolist(),  # rows: RV 0-9, columns: CD 0-9
        "unannotated": int((~ok).sum()),
        "correct": {"true": int((corr == 1).sum()), "false": int((corr == 0).sum()), "none": int((corr < 0).sum())},
        "per_teacher": {("(none)" if i == 0 else stats.teachers[i - 1]): int(c) for i, c in enumerate(teach) if c},
        "per_domain": {("(none)" if i == 0 else stats.domains[i - 1]): int(c) for i, c in enumerate(dom) if c},
    }


def write_figures(before: dict, after: dict, folder: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, (name, dist) in zip(axes, (("before", before), ("after", after))):
        h = np.asarray(dist["rv_cd"])
        im = ax.imshow(h, origin="lower", cmap="viridis")
        ax.set_xlabel("Cognitive Difficulty")
        ax.set_ylabel("Reasoning Verbosity")
        ax.set_title(f"RV x CD {name} ({dist['chains']} chains)")
        ax.set_xticks(range(10))
        ax.set_yticks(range(10))
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    path = folder / "rv_cd_heatmap.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    out["rv_cd_heatmap"] = path.name

    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"<{e}" for e in TOKEN_EDGES[1:-1]] + [f">={TOKEN_EDGES[-2]}"]
    x = np.arange(len(labels))
    for off, (name, dist) in zip((-0.2, 0.2), (("before", before), ("after", after))):
        ax.bar(x + off, dist["token_histogram"]["counts"], width=0.4, label=name)
    ax.set_xticks(x, labels, rotation=45)
    ax.set_ylabel("chains")
    ax.set_title("chain length (tokens)")
    ax.legend()
    fig.tight_layout()
    path = folder / "lengths.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    out["lengths"] = path.name

    for key, title in (("per_teacher", "chains per teacher"), ("per_domain", "chains per domain")):
        names = sorted(set(before[key]) | set(after[key]))
        fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names) + 3), 4))
        x = np.arange(len(names))
        ax.bar(x - 0.2, [before[key].get(n, 0) for n in names], width=0.4, label="before")
        ax.bar(x + 0.2, [after[key].get(n, 0) for n in names], width=0.4, label="after")
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        path = folder / f"{key}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        out[key] = path.name
    return out
