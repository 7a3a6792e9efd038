"""Inference backends behind one interface.

``InferBackend.generate(prompts, sampling, n, seed)`` takes chat messages (one list per
prompt) and returns, per prompt, ``n`` :class:`GenOutput` (text, token counts,
finish_reason). Three implementations:

- :class:`TransformersBackend`: batched ``generate`` with left padding and the KV cache,
  stopping on the end-of-turn token; CPU or GPU;
- :class:`VLLMBackend`: vLLM offline ``LLM.generate`` (``pip install 'thoughtdistill[vllm]'``,
  imported only when chosen);
- :class:`OpenAIBackend`: any OpenAI-compatible endpoint through :mod:`thoughtdistill.api`,
  the engine teachers run on, so teachers and students are scored the same way.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ..cpu import idle_cores
from ..errors import ConfigError, ThoughtDistillError

Messages = list[dict[str, str]]

# Qwen3 model card: thinking mode T=0.6, top-p 0.95, top-k 20; non-thinking T=0.7, top-p 0.8, top-k 20.
THINKING_SAMPLING = {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
NON_THINKING_SAMPLING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20}
END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>",
                      "<｜end▁of▁sentence｜>")


class Sampling(BaseModel):
    """Sampling settings; ``None`` fields take Qwen3's recommended values for the mode."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0, description="sampling temperature, 0 = greedy "
                                      "(default: Qwen3's for the mode, 0.6 thinking / 0.7 not)")
    top_p: float | None = Field(default=None, gt=0, le=1, description="nucleus sampling mass (default: Qwen3's "
                                "for the mode, 0.95 / 0.8)")
    top_k: int | None = Field(default=None, ge=0, description="sample among the K likeliest tokens, 0 = off "
                              "(default: 20)")
    min_p: float | None = Field(default=None, ge=0, le=1, description="least probability relative to the top "
                                "token (default: off)")
    max_new_tokens: int = Field(default=32768, ge=1, description="most tokens per sample, thought + answer")

    def resolved(self, enable_thinking: bool) -> "Sampling":
        defaults = THINKING_SAMPLING if enable_thinking else NON_THINKING_SAMPLING
        values = self.model_dump()
        for key, value in defaults.items():
            if values.get(key) is None:
                values[key] = value
        return Sampling(**values)


@dataclass
class GenOutput:
    text: str
    reasoning: str | None = None  # a server-separated thought (reasoning_content)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"  # stop | length | error
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class InferBackend(Protocol):
    name: str

    def generate(self, prompts: Sequence[Messages], sampling: Sampling, n: int = 1,
                 seed: int | Sequence[int] | None = None) -> list[list[GenOutput]]:
        """``n`` outputs per prompt. ``seed``: one for all, or one per prompt."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def check_chat_template(model_dir: str | Path, tokenizer: Any) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"{model_dir}: the tokenizer has no chat template (no chat_template in "
                          "tokenizer_config.json or chat_template.jinja); evaluation renders prompts "
                          "with it. Add one, or use a chat/instruct model.")


def render_prompt(tokenizer: Any, messages: Messages, enable_thinking: bool) -> str:
    """The chat template applied with ``enable_thinking`` (ignored by templates without it)."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                         enable_thinking=enable_thinking)


OPEN_THINK_TAGS = ("<think>", "<|begin_of_thought|>")


def opened_thought(prompt: str) -> str:
    """The opening thought tag a template leaves at the end of the prompt (R1-Distill and
    QwQ templates end with '<think>\n'), or ''. Outputs get it back so that a thought the
    model never closed is seen as truncated, not as an answer."""
    tail = prompt.rstrip()
    return next((tag + "\n" for tag in OPEN_THINK_TAGS if tail.endswith(tag)), "")


def stop_token_ids(tokenizer: Any, generation_config: Any = None) -> list[int]:
    ids: list[int] = []
    for source in (getattr(generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if source is None:
            continue
        ids += source if isinstance(source, list) else [source]
    vocab = tokenizer.get_vocab()
    ids += [vocab[t] for t in END_OF_TURN_TOKENS if t in vocab]
    return sorted(set(int(i) for i in ids))


def seeds_for(seed: int | Sequence[int] | None, count: int) -> list[int | None]:
    """One seed per prompt: a list is used as is, an int ``s`` gives ``s, s+1, …``."""
    if seed is None:
        return [None] * count
    if isinstance(seed, int):
        return [seed + i for i in range(count)]
    seeds = list(seed)
    if len(seeds) != count:
        raise ValueError(f"{len(seeds)} seeds for {count} prompts")
    return seeds


def top_k_top_p_processor(top_k: int, top_p: float | None):
    """Top-k then top-p in one step over the k best logits only.

    Same distribution as transformers' TopK then TopP warpers (top-p renormalised over the
    top-k set, keeping tokens whose preceding mass is < top_p), but without TopP's sort of
    the whole vocabulary at every step: on CPU that sort cost about half a batched decode
    step for a 49k vocabulary (bench/eval.py).
    """
    import torch
    from transformers import LogitsProcessor

    class _TopKTopP(LogitsProcessor):
        def __call__(self, input_ids, scores):  # noqa: ANN001
            k = min(top_k, scores.size(-1))
            values, index = torch.topk(scores, k, dim=-1)  # sorted, best first
            if top_p is not None and top_p < 1.0:
                probs = values.softmax(dim=-1)
                before = probs.cumsum(dim=-1) - probs
                values = values.masked_fill(before >= top_p, float("-inf"))
            out = torch.full_like(scores, float("-inf"))
            return out.scatter_(-1, index, values)

    return _TopKTopP()


def _progress_criteria(report: Any, before: int, size: int, prompt_len: int, max_new: int,
                       stop_ids: list[int]) -> Any:
    """A stopping criterion that never stops: it reports the samples done so far, the
    finished rows of the batch plus the unfinished ones' share of the token budget."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Report(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):  # noqa: ANN001
            import torch

            new = input_ids[:, prompt_len:]
            finished = int(torch.isin(new, torch.tensor(stop_ids, device=new.device)).any(dim=1).sum())
            report(before + finished + (size - finished) * min(1.0, new.shape[1] / max_new))
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Report()])


class TransformersBackend:
    """Batched generation with transformers: left padding, KV cache, stop at end of turn."""

    name = "transformers"

    def __init__(self, model: str | Path, *, enable_thinking: bool = True, batch_size: int = 8,
                 device: str | None = None, dtype: str = "auto", num_threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_path = str(model)
        self.enable_thinking = enable_thinking
        self.batch_size = batch_size
        if not Path(self.model_path).exists():
            raise ConfigError(f"model folder {self.model_path} not found")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        check_chat_template(self.model_path, self.tokenizer)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.device == "cpu":
            # the idle cores, not the load average: right after training it still counts the trainer
            torch.set_num_threads(num_threads or idle_cores())
        torch_dtype = (torch.bfloat16 if self.device != "cpu" else torch.float32) if dtype == "auto" \
            else getattr(torch, dtype)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=torch_dtype)
        self.model.to(self.device).eval()
        self.stop_ids = stop_token_ids(self.tokenizer, self.model.generation_config)
        self._torch = torch
        self.on_progress: Any = None  # callable(samples done in this generate call), per decode step

    def describe(self) -> dict[str, Any]:
        import hashlib

        template = self.tokenizer.chat_template or ""
        return {"backend": self.name, "model_path": self.model_path, "device": self.device,
                "dtype": str(self.model.dtype), "batch_size": self.batch_size,
                "threads": self._torch.get_num_threads(),
                "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest(),
                "stop_token_ids": self.stop_ids}

    def render(self, messages: Messages) -> str:
        return render_prompt(self.tokenizer, messages, self.enable_thinking)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    def generate(self, prompts: Sequence[Messages], sampling: Sampling, n: int = 1,
                 seed: int | Sequence[int] | None = None) -> list[list[GenOutput]]:
        """Batched sampling: the batch's RNG is seeded with its first job's seed, so results
        are reproducible for the same batch composition (same config, same order)."""
        torch = self._torch
        from transformers import LogitsProcessorList

        seeds = seeds_for(seed, len(prompts))
        texts = [self.render(m) for m in prompts]
        jobs = [(p, s) for p in range(len(texts)) for s in range(n)]
        # Longest first (fewer pad tokens per batch, and an early out-of-memory if any).
        lengths = [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        jobs.sort(key=lambda job: -lengths[job[0]])
        results: list[list[GenOutput | None]] = [[None] * n for _ in texts]
        greedy = not sampling.temperature
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start:start + self.batch_size]
            first_seed = seeds[batch[0][0]]
            if first_seed is not None:
                torch.manual_seed(first_seed + batch[0][1])
            enc = self.tokenizer([texts[p] for p, _ in batch], return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
            kwargs: dict[str, Any] = dict(max_new_tokens=sampling.max_new_tokens, do_sample=not greedy,
                                          eos_token_id=self.stop_ids, pad_token_id=self.tokenizer.pad_token_id,
                                          use_cache=True)
            if not greedy:
                kwargs.update(temperature=sampling.temperature)
                if sampling.top_k:
                    kwargs.update(top_k=0, top_p=1.0, logits_processor=LogitsProcessorList(
                        [top_k_top_p_processor(sampling.top_k, sampling.top_p)]))
                else:
                    kwargs.update(top_k=0, top_p=sampling.top_p)
                if sampling.min_p:
                    kwargs["min_p"] = sampling.min_p
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            if self.on_progress is not None:
                kwargs["stopping_criteria"] = _progress_criteria(
                    self.on_progress, start, len(batch), enc["input_ids"].shape[1], sampling.max_new_tokens,
                    self.stop_ids)
            with torch.inference_mode():
                out = self.model.generate(**enc, **kwargs)
            new = out[:, enc["input_ids"].shape[1]:].tolist()
            stops = set(self.stop_ids)
            for (p, s), ids in zip(batch, new):
                cut = next((i for i, t in enumerate(ids) if t in stops), None)
                gen = ids if cut is None else ids[:cut]
                results[p][s] = GenOutput(
                    text=opened_thought(texts[p]) + self.tokenizer.decode(gen, skip_special_tokens=False),
                    prompt_tokens=lengths[p],
                    completion_tokens=len(gen) + (0 if cut is None else 1),
                    finish_reason="stop" if cut is not None else "length",
                )
        return [[o for o in row if o is not None] for row in results]

    def close(self) -> None:
        self.model = None


class VLLMBackend:
    """vLLM offline engine (GPU). Chat templates rendered with the model's tokenizer."""

    name = "vllm"

    def __init__(self, model: str | Path, *, enable_thinking: bool = True,
                 tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9,
                 max_model_len: int | None = None, dtype: str = "auto", **_: Any):
        try:
            import vllm
        except ImportError:
            raise ThoughtDistillError("the vllm backend needs vLLM: pip install 'thoughtdistill[vllm]' "
                                      "(Linux with a CUDA GPU); or use --backend transformers") from None
        self._vllm = vllm
        self.model_path = str(model)
        self.enable_thinking = enable_thinking
        self.llm = vllm.LLM(model=self.model_path, tensor_parallel_size=tensor_parallel_size,
                            gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
                            dtype=dtype)
        self.tokenizer = self.llm.get_tokenizer()
        check_chat_template(self.model_path, self.tokenizer)

    def describe(self) -> dict[str, Any]:
        import hashlib

        return {"backend": self.name, "model_path": self.model_path, "vllm": self._vllm.__version__,
                "chat_template_sha256": hashlib.sha256((self.tokenizer.chat_template or "").encode()).hexdigest()}

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    def generate(self, prompts: Sequence[Messages], sampling: Sampling, n: int = 1,
                 seed: int | Sequence[int] | None = None) -> list[list[GenOutput]]:
        texts = [render_prompt(self.tokenizer, m, self.enable_thinking) for m in prompts]
        seeds = seeds_for(seed, len(prompts))
        params = []
        for i in range(len(texts)):
            params.append(self._vllm.SamplingParams(
                n=n, temperature=sampling.temperature or 0.0, top_p=sampling.top_p or 1.0,
                top_k=sampling.top_k or -1, min_p=sampling.min_p or 0.0,
                max_tokens=sampling.max_new_tokens, seed=seeds[i]))
        outs = self.llm.generate(texts, params, use_tqdm=False)
        return [[GenOutput(text=opened_thought(t) + c.text, prompt_tokens=len(o.prompt_token_ids or []),
                           completion_tokens=len(c.token_ids),
                           finish_reason="length" if c.finish_reason == "length" else "stop")
                 for c in o.outputs] for t, o in zip(texts, outs)]

    def close(self) -> None:
        self.llm = None


class OpenAIBackend:
    """An OpenAI-compatible endpoint through :mod:`thoughtdistill.api` (journal, cache, retries).

    Thinking on/off is sent as ``chat_template_kwargs: {enable_thinking}`` (vLLM, SGLang);
    ``top_k``/``min_p`` ride in ``extra_body``. A server that ignores them answers in its
    own default mode. One request per sample, each with its own seed.
    """

    name = "openai"

    def __init__(self, model: str, *, base_url: str, api_key_env: str | None = None,
                 enable_thinking: bool = True, concurrency: int = 8, timeout_s: float = 600.0,
                 journal_path: str | Path | None = None, cache_dir: str | Path | None = None,
                 tokenizer: str | Path | None = None, progress: bool = False, **_: Any):
        from .. import api

        self._api = api
        self.model = model
        self.base_url = base_url
        self.enable_thinking = enable_thinking
        self.journal_path = journal_path
        self.cache_dir = cache_dir
        self.progress = progress
        self.on_progress: Any = None  # callable(samples done in this generate call), per finished request
        self.endpoint = api.EndpointConfig(name=model, base_url=base_url, model=model, api_key_env=api_key_env,
                                           concurrency=concurrency, timeout_s=timeout_s)
        self.tokenizer = None
        if tokenizer:
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))

    def check(self) -> None:
        """One clear ConfigError if the endpoint is unreachable, refuses the key or does not
        serve the model (GET /models), before a request is spent."""
        self._api.run_sync(self._api.check_endpoints([self.endpoint]))

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "base_url": self.base_url,
                "tokenizer": getattr(self.tokenizer, "name_or_path", None)}

    def count_tokens(self, text: str) -> int | None:
        if self.tokenizer is None:
            return None
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    def generate(self, prompts: Sequence[Messages], sampling: Sampling, n: int = 1,
                 seed: int | Sequence[int] | None = None, keys: Sequence[str] | None = None
                 ) -> list[list[GenOutput]]:
        import tempfile

        api = self._api
        seeds = seeds_for(seed, len(prompts))
        extra: dict[str, Any] = {"chat_template_kwargs": {"enable_thinking": self.enable_thinking}}
        if sampling.top_k:
            extra["top_k"] = sampling.top_k
        if sampling.min_p:
            extra["min_p"] = sampling.min_p
        requests = [
            api.ChatRequest(key=f"{keys[p] if keys else p}" + (f"#{s}" if n > 1 or not keys else ""),
                            messages=list(messages), temperature=sampling.temperature, top_p=sampling.top_p,
                            max_tokens=sampling.max_new_tokens,
                            seed=None if seeds[p] is None else seeds[p] + s, extra_body=dict(extra))
            for p, messages in enumerate(prompts) for s in range(n)
        ]
        async def collect(journal: Path) -> list[Any]:
            out = []
            async for res in api.run_requests(self.endpoint, requests, journal_path=journal, cache_dir=self.cache_dir,
                                              progress=self.progress, retry_failed=True):
                out.append(res)
                if self.on_progress is not None:
                    self.on_progress(len(out))
            return out

        with tempfile.TemporaryDirectory() as tmp:
            by_key = {r.key: r for r in api.run_sync(collect(Path(self.journal_path or Path(tmp) / "journal.jsonl")))}
        results = [by_key[r.key] for r in requests]
        outs: list[list[GenOutput]] = []
        for p in range(len(prompts)):
            row = []
            for s in range(n):
                r = results[p * n + s]
                usage = r.usage or {}
                row.append(GenOutput(
                    text=r.content or "", reasoning=r.reasoning_content,
                    prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                    finish_reason="error" if r.error else ("length" if r.finish_reason == "length" else "stop"),
                    error=r.error))
            outs.append(row)
        return outs

    def close(self) -> None:
        pass


BACKENDS = ("transformers", "vllm", "openai")
