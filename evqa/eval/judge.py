"""The LLM judge of open answers (EgoTextVQA / EgoTempo): any registered model judges, every call is cached
and resumable, and a failed judgement is its own status.

- Who judges: `build_judge(name)` — an API model through its adapter's client (`gpt-4o`, `o3`: the OpenAI
  client, endpoint from OPENAI_BASE_URL; `gemini-2.5-flash`: google-genai, endpoint from GEMINI_BASE_URL),
  or a local transformers checkpoint (a hub id or folder of a registered VLM adapter, or any causal LM
  folder). Temperature 0 / greedy decoding; the prompt is `evqa.prompts.JUDGE_SYSTEM` +
  `judge_user_prompt` (version `JUDGE_PROMPT_VERSION`), answer and prediction lower-cased, newlines removed.
- Cache and resume: one judgement per key sha256(judge model, prompt version, question, answer,
  prediction), stored by the runner (`evqa.baselines.runner.run_items`) in `<cache>.jsonl` while it runs and
  `<cache>.json` at the end; a rerun (or a run killed half-way and started again) only judges what has no
  finished judgement. Default cache: `<prediction stem>.judge.json` beside the predictions.
- Failures: API errors are retried by the runner's retry policy (429 / 5xx / timeouts, Retry-After); an
  unusable reply (`evqa.eval.judge_reply.JudgeReplyError`) is asked again up to `reply_retries` times.
  What still fails is `judge_error`: stored with its raw reply, counted, reported, and retried on the next
  run; `--protocol upstream` scores it as `no, 0` like the original, `evqa` leaves it out of the metrics.
- Items whose prediction failed or is missing are never sent to the judge: they count as `no, 0`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evqa import prompts
from evqa.baselines.base import Response
from evqa.baselines.retry import RateGate, RetryPolicy, call_with_retry
from evqa.benchmarks.base import Scores
from evqa.errors import ConfigError, EvqaError
from evqa.eval.judge_reply import JudgeReplyError, parse_judge_reply
from evqa.metrics.judged import judged_breakdown, judged_metrics

DEFAULT_JUDGE = "gemini-2.5-flash"
JUDGE_MAX_TOKENS = 64
# model_type of a local checkpoint -> the registered adapter that runs it
LOCAL_ADAPTERS = {
    "qwen2_5_vl": "qwen2_5_vl",
    "qwen3_vl": "qwen3_vl",
    "internvl": "internvl3_5",
    "llava_onevision": "llava_ov_1_5",
    "smolvlm": "smolvlm",
}


@dataclass
class JudgeSettings:
    """How to judge: the judge model (+ adapter / endpoint / device), cache file, concurrency, retries."""

    model: str = DEFAULT_JUDGE
    adapter: str | None = None
    base_url: str | None = None
    device: str | None = None
    dtype: str | None = None
    cache: str | None = None
    concurrency: int | None = None
    max_retries: int = 5
    timeout: float | None = 600.0
    request_timeout: float | None = 120.0
    reply_retries: int = 2
    progress: bool = True


# --- judge clients: one text-only chat call per adapter family -----------------------------------------


class JudgeClient:
    """`ask(system, user, timeout) -> Response` (text + usage) for one judge model."""

    default_concurrency = 1

    def __init__(self, model_id: str, adapter: str):
        self.model_id = model_id
        self.adapter = adapter

    def describe(self) -> dict[str, Any]:
        return {"judge_model": self.model_id, "judge_adapter": self.adapter}

    def ask(self, system: str, user: str, timeout: float | None) -> Response:  # pragma: no cover
        raise NotImplementedError


class OpenAiJudge(JudgeClient):
    """Through the gpt adapter's OpenAI client (system + user message, temperature 0)."""

    def __init__(self, model):
        super().__init__(model.model_id, model.name)
        self.model = model
        self.default_concurrency = model.default_concurrency

    def ask(self, system, user, timeout):
        from evqa.baselines.gpt import completion_usage

        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        completion = self.model.complete(
            messages, timeout=timeout, **self.model.generation_kwargs(JUDGE_MAX_TOKENS)
        )
        return Response(
            text=completion.choices[0].message.content or "", usage=completion_usage(completion.usage)
        )


class GeminiJudge(JudgeClient):
    """Through the gemini adapter's google-genai client (system instruction, temperature 0)."""

    def __init__(self, model):
        super().__init__(model.model_id, model.name)
        self.model = model
        self.default_concurrency = model.default_concurrency

    def ask(self, system, user, timeout):
        return self.model.complete(user, timeout=timeout, system=system, temperature=0.0)


class LocalChatJudge(JudgeClient):
    """A local transformers model, greedy: a registered VLM adapter's processor, or a causal LM's
    tokenizer, renders the system + user chat (text only)."""

    def __init__(self, model_id: str, adapter: str, model, tokenizer, processor=None):
        super().__init__(model_id, adapter)
        self.model, self.tokenizer, self.processor = model, tokenizer, processor

    def ask(self, system, user, timeout):
        import torch

        if self.processor is not None:
            messages = [{"role": "system", "content": [{"type": "text", "text": system}]},
                        {"role": "user", "content": [{"type": "text", "text": user}]}]  # fmt: skip
            text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            inputs = self.processor(text=[text], return_tensors="pt")
        else:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
            if getattr(self.tokenizer, "chat_template", None):
                text = self.tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=False
                )
            else:
                text = f"{system}\n\n{user}\n"
            inputs = self.tokenizer([text], return_tensors="pt")
        inputs = inputs.to(self.model.device)
        pad = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id
        )
        with torch.inference_mode():
            out = self.model.generate(
                **inputs, max_new_tokens=JUDGE_MAX_TOKENS, do_sample=False, pad_token_id=pad
            )
        new = out[0, inputs["input_ids"].shape[1] :]
        reply = self.tokenizer.decode(new, skip_special_tokens=True)
        usage = {"prompt_tokens": int(inputs["input_ids"].shape[1]), "completion_tokens": int(len(new))}
        return Response(text=reply.strip(), usage=usage)


def _local_model_type(path: str) -> str | None:
    config = Path(path) / "config.json"
    if not config.is_file():
        return None
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, json.JSONDecodeError):
        return None


def _causal_lm_judge(path: str, device: str | None, dtype: str | None) -> LocalChatJudge:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evqa.baselines.hf_frames import pick_device
    from evqa.errors import ModelError

    device = pick_device(device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype) if dtype else None)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"cannot load judge checkpoint '{path}': {err}") from None
    model.to(device).eval()
    return LocalChatJudge(path, "transformers", model, tokenizer)


def build_judge(settings: JudgeSettings) -> JudgeClient:
    """The judge client `settings.model` names (module doc). Raises ConfigError for a model that cannot
    judge (e.g. a grounding checkpoint)."""
    from evqa.baselines.hf_frames import HfFramesModel
    from evqa.baselines.registry import build_model, get_model_class, resolve_adapter

    name, adapter = settings.model, settings.adapter
    if adapter is None and os.path.isdir(name):
        model_type = _local_model_type(name)
        adapter = LOCAL_ADAPTERS.get(model_type or "")
        if adapter is None and model_type not in (None, "evqa"):
            return _causal_lm_judge(name, settings.device, settings.dtype)
    adapter, model_id = resolve_adapter(name, adapter)
    cls = get_model_class(adapter)
    options = {k: v for k, v in (("base_url", settings.base_url), ("device", settings.device),
                                 ("dtype", settings.dtype)) if v is not None}  # fmt: skip
    if adapter == "gpt":
        return OpenAiJudge(build_model(adapter, model_id, **options))
    if adapter == "gemini":
        return GeminiJudge(build_model(adapter, model_id, **options))
    if issubclass(cls, HfFramesModel):
        model = build_model(adapter, model_id, **options)
        return LocalChatJudge(model_id, adapter, model.model, model.tokenizer, model.processor)
    raise ConfigError(f"the {adapter} adapter cannot judge (use an API model or a transformers chat model)",
                      field="--judge")  # fmt: skip


# --- judging a prediction file ------------------------------------------------------------------------


def prediction_text(record: Any) -> str | None:
    """The open answer of a prediction record (None: failed or missing)."""
    if not isinstance(record, dict) or record.get("error"):
        return None
    parsed = record.get("parsed_response")
    if isinstance(parsed, dict) and isinstance(parsed.get("answer"), str):
        return parsed["answer"]
    raw = record.get("raw_response")
    return raw if isinstance(raw, str) else None


def cache_key(judge_model: str, question: str, answer: str, prediction: str) -> str:
    """sha256 of (judge model, prompt version, question, answer, prediction) — the judgement's identity."""
    blob = json.dumps(
        [judge_model, prompts.JUDGE_PROMPT_VERSION, question, answer, prediction], ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def judge_model_id(settings: JudgeSettings) -> str:
    """The judge's model id as cache keys name it (`--judge gemini` and `--judge gemini-2.5-flash` are one
    model); a local checkpoint is its path."""
    from evqa.baselines.registry import resolve_adapter

    if os.path.isdir(settings.model):
        return str(settings.model)
    try:
        return resolve_adapter(settings.model, settings.adapter)[1]
    except ConfigError:
        return settings.model


def default_cache(pred_file: str | os.PathLike) -> Path:
    pred = Path(pred_file)
    return pred.with_name(f"{pred.stem}.judge.json")


class JudgeRun:
    """Judges work items {question, answer, prediction} with one client, retrying API errors (runner
    policy) and unusable replies (`reply_retries`)."""

    def __init__(self, client: JudgeClient, settings: JudgeSettings):
        self.client = client
        self.settings = settings
        self.policy = RetryPolicy(max_retries=settings.max_retries, timeout=settings.timeout,
                                  attempt_timeout=settings.request_timeout)  # fmt: skip
        self.gate = RateGate()

    def process(self, item: dict[str, str]) -> dict[str, Any]:
        """One judgement record: verdict + raw reply, or `judge_error` with the reason and last reply."""
        started = time.perf_counter()
        user = prompts.judge_user_prompt(item["question"], item["answer"], item["prediction"])
        base = {**item, **self.client.describe(), "prompt_version": prompts.JUDGE_PROMPT_VERSION}
        replies, retries, usage, reason = [], 0, {}, "no attempt"
        for _ in range(self.settings.reply_retries + 1):
            try:
                response, used = call_with_retry(
                    lambda budget: self.client.ask(prompts.JUDGE_SYSTEM, user, budget),
                    self.policy,
                    gate=self.gate,
                )
            except EvqaError as err:
                return self._error(base, f"api: {err}", replies, retries, usage, started)
            retries += used
            for key, value in response.usage.items():
                usage[key] = usage.get(key, 0) + value
            replies.append(response.text)
            try:
                verdict = parse_judge_reply(response.text)
            except JudgeReplyError as err:
                reason = f"reply: {err.reason}"
                continue
            return {**base, "status": "ok", "verdict": {"pred": verdict.pred, "score": verdict.score},
                    "raw_reply": response.text, "error": None,
                    "meta": self._meta(replies, retries, usage, started)}  # fmt: skip
        return self._error(base, reason, replies, retries, usage, started)

    def _meta(self, replies, retries, usage, started) -> dict[str, Any]:
        return {"attempts": len(replies), "retries": retries, "usage": usage,
                "elapsed_s": round(time.perf_counter() - started, 3)}  # fmt: skip

    def _error(self, base, reason, replies, retries, usage, started) -> dict[str, Any]:
        return {**base, "status": "judge_error", "verdict": None, "raw_reply": replies[-1] if replies else None,
                "raw_replies": replies, "error": f"judge_error ({reason})",
                "meta": self._meta(replies, retries, usage, started)}  # fmt: skip


def judge_predictions(
    records: Sequence[Any],
    predictions: Mapping[str, Any],
    settings: JudgeSettings,
    *,
    pred_file: str | os.PathLike,
    client: JudgeClient | None = None,
) -> dict[str, dict[str, Any]]:
    """Judge every record's prediction (cached, resumable) and return entry id -> judged item:
    {"status": ok | judge_error | failed | missing, "pred", "score", "key", "raw_reply"}."""
    from evqa.baselines.runner import run_items
    from evqa.baselines.store import collect_records

    items: dict[str, dict[str, str]] = {}
    keys: dict[str, str | None] = {}
    model_id = judge_model_id(settings)
    for record in records:
        prediction = prediction_text(predictions.get(record.entry_id))
        if prediction is None:
            keys[record.entry_id] = None
            continue
        answer, pred = prompts.judge_text(record.answer), prompts.judge_text(prediction)
        key = cache_key(model_id, record.question, answer, pred)
        keys[record.entry_id] = key
        items.setdefault(key, {"question": record.question, "answer": answer, "prediction": pred})
    cache = Path(settings.cache) if settings.cache else default_cache(pred_file)
    existing = collect_records(cache)
    todo = [k for k in items if not (k in existing and existing[k].get("error") is None)]
    if todo:
        client = client or build_judge(settings)
        runner = JudgeRun(client, settings)
        run_items([(k, items[k]) for k in items], runner.process, cache,
                  concurrency=settings.concurrency or client.default_concurrency, progress=settings.progress)  # fmt: skip
        existing = collect_records(cache)
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        key = keys[record.entry_id]
        if key is None:
            missing = record.entry_id not in predictions
            out[record.entry_id] = {
                "status": "missing" if missing else "failed",
                "pred": "no",
                "score": 0,
                "key": None,
            }
            continue
        judged = existing.get(key) or {"status": "judge_error", "error": "not judged"}
        verdict = judged.get("verdict") if judged.get("error") is None else None
        out[record.entry_id] = {
            "status": "ok" if verdict else "judge_error",
            "pred": verdict["pred"] if verdict else None,
            "score": verdict["score"] if verdict else None,
            "key": key,
            "raw_reply": judged.get("raw_reply"),
            **({"error": judged.get("error")} if not verdict else {}),
        }
    return out


def score_judgements(
    records: Sequence[Any],
    judgements: Mapping[str, Mapping[str, Any]],
    *,
    protocol: str = "evqa",
    breakdown_keys: Sequence[str] = ("question_type", "subset"),
) -> Scores:
    """Accuracy (#yes / (#yes + #no)) and average score overall and per breakdown key.

    `evqa`: judge errors are left out of both and counted; `upstream`: a judge error is `no, 0`.
    Failed or missing predictions are `no, 0` under both.
    """
    preds: list[str | None] = []
    scores: list[int | None] = []
    counts = {"n": len(records), "scored": 0, "unparsable": 0, "failed": 0, "missing": 0, "judge_error": 0}
    per_item: dict[str, dict[str, Any]] = {}
    for record in records:
        judged = judgements.get(record.entry_id) or {"status": "missing", "pred": "no", "score": 0}
        status = judged["status"]
        pred, score = judged.get("pred"), judged.get("score")
        if status == "judge_error":
            counts["judge_error"] += 1
            pred, score = ("no", 0) if protocol == "upstream" else (None, None)
        elif status in ("failed", "missing"):
            counts[status] += 1
        else:
            counts["scored"] += 1
        preds.append(pred)
        scores.append(score)
        per_item[record.entry_id] = {"status": status, "pred": pred, "score": score, "question_type": record.question_type,
                                     "subset": record.subset, "raw_reply": judged.get("raw_reply")}  # fmt: skip
    overall = judged_metrics(preds, scores)
    metrics = {
        "accuracy": overall["accuracy"],
        "score": overall["score"],
        "yes": overall["yes"],
        "no": overall["no"],
    }
    breakdowns = {}
    for key in breakdown_keys:
        groups = [str(getattr(r, key)) for r in records]
        breakdowns[key] = judged_breakdown(groups, preds, scores)
    return Scores(metrics, breakdowns, counts, per_item)
