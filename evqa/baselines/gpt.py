"""GPT adapter (openai client): frames as base64 JPEG image parts, each preceded by its time in seconds.

Reasoning models (o1/o3/o4-*, gpt-5*) take `max_completion_tokens` and no sampling parameters; the others
get `max_tokens` and temperature 0. `score_levels` (VQA² quality scoring) asks for one reply token with
its `top_logprobs` and scores the five level words from them (`evqa.baselines.level_scoring.api_level_response`);
reasoning models return no log-probabilities and are refused for it. The key comes only from OPENAI_API_KEY; the endpoint from `base_url`
or OPENAI_BASE_URL. The client's own retries are off: the runner's retry policy owns them.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from evqa import prompts
from evqa.baselines.base import BaselineModel, Request, Response
from evqa.baselines.media import jpeg_data_url
from evqa.baselines.registry import AdapterFacts, register_model
from evqa.baselines.retry import RETRYABLE_STATUS, RetryableApiError, parse_retry_after
from evqa.errors import AUTH_STATUS, ApiError, AuthenticationError, BackendUnavailableError, ConfigError

REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


def is_reasoning_model(model_id: str) -> bool:
    """True for model names that reject `temperature` / `max_tokens` (o-series and gpt-5 family)."""
    name = model_id.lower().rsplit("/", 1)[-1]
    return name.startswith(REASONING_PREFIXES)


def build_messages(request: Request, image_detail: str = "auto") -> list[dict[str, Any]]:
    """Chat messages for `request`: the first user turn carries the timestamped frames (each followed by
    its `frame_texts` line, if any) and extra images."""
    parts: list[dict[str, Any]] = [{"type": "text", "text": prompts.VIDEO_PREAMBLE}]
    frames = [] if request.frames is None else request.frames
    for k, (frame, t) in enumerate(zip(frames, request.timestamps if request.timestamps is not None else [],
                                       strict=True)):  # fmt: skip
        parts.append({"type": "text", "text": prompts.frame_label(t)})
        parts.append(
            {"type": "image_url", "image_url": {"url": jpeg_data_url(frame), "detail": image_detail}}
        )
        if request.frame_texts and request.frame_texts[k]:
            parts.append({"type": "text", "text": prompts.frame_subtitle(request.frame_texts[k])})
    for label, image in request.images:
        parts.append({"type": "text", "text": prompts.image_label(label)})
        parts.append(
            {"type": "image_url", "image_url": {"url": jpeg_data_url(image), "detail": image_detail}}
        )
    turns = [*request.history, (request.prompt, None)]
    messages: list[dict[str, Any]] = []
    for i, (user, assistant) in enumerate(turns):
        content = [*parts, {"type": "text", "text": user}] if i == 0 else user
        messages.append({"role": "user", "content": content})
        if assistant is not None:
            messages.append({"role": "assistant", "content": assistant})
    return messages


def completion_usage(usage: Any) -> dict[str, int]:
    """Token counts of an OpenAI `usage` object (prompt, completion, total; reasoning where given)."""
    if usage is None:
        return {}
    out = {
        k: int(getattr(usage, k))
        for k in ("prompt_tokens", "completion_tokens", "total_tokens")
        if isinstance(getattr(usage, k, None), int)
    }
    details = getattr(usage, "completion_tokens_details", None)
    if details is not None and isinstance(getattr(details, "reasoning_tokens", None), int):
        out["reasoning_tokens"] = int(details.reasoning_tokens)
    return out


@register_model(
    "gpt",
    AdapterFacts("gpt-4o", "gpt", model_prefixes=("gpt", "o1", "o3", "o4"), api=True),
)
class GptModel(BaselineModel):
    """OpenAI chat-completions model. Options: base_url, image_detail ('auto'|'low'|'high'), temperature,
    reasoning_budget (tokens a reasoning model may think on top of the answer budget; they count toward
    `max_completion_tokens`, so a bare answer budget would end most replies before the answer)."""

    default_concurrency = 16
    interleaves_frame_texts = True

    def __init__(
        self,
        model: str | None = "gpt-4o",
        *,
        base_url: str | None = None,
        image_detail: str = "auto",
        temperature: float = 0.0,
        reasoning_budget: int = 8192,
        **kwargs: Any,
    ):
        super().__init__(model, **kwargs)
        try:
            import openai
        except ImportError as err:
            raise BackendUnavailableError("the gpt adapter needs `pip install openai`") from err
        if not os.environ.get("OPENAI_API_KEY"):
            raise ConfigError("set the OPENAI_API_KEY environment variable", field="OPENAI_API_KEY")
        self._openai = openai
        # max_retries=0: retries, backoff and Retry-After are the runner's job (evqa.baselines.retry)
        self.client = openai.OpenAI(base_url=base_url or os.environ.get("OPENAI_BASE_URL"), max_retries=0)
        self.image_detail = image_detail
        self.temperature = temperature
        self.reasoning_budget = reasoning_budget

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "reasoning": is_reasoning_model(self.model_id)}

    def endpoint(self) -> str | None:
        return str(self.client.base_url)

    def generation_kwargs(self, max_new_tokens: int) -> dict[str, Any]:
        """The token-budget / sampling arguments this model accepts."""
        if is_reasoning_model(self.model_id):
            return {"max_completion_tokens": max_new_tokens + self.reasoning_budget}
        return {"max_tokens": max_new_tokens, "temperature": self.temperature}

    def complete(self, messages: list[dict[str, Any]], *, timeout: float | None, **kwargs: Any):
        """One `chat.completions.create` call for this model in the runner's error vocabulary: client errors
        become RetryableApiError / AuthenticationError / ApiError, a reply without choices is retryable.
        Returns the completion (used by `generate`, `score_levels` and the LLM judge)."""
        try:
            completion = self.client.chat.completions.create(
                model=self.model_id, messages=messages, timeout=timeout, **kwargs
            )
        except Exception as err:  # noqa: BLE001 - translated into the runner's retry vocabulary
            raise self._translate(err) from None
        if not getattr(completion, "choices", None):
            raise RetryableApiError("response has no choices")
        return completion

    def generate_inner(self, request: Request) -> Response:
        completion = self.complete(
            build_messages(request, self.image_detail),
            timeout=request.timeout,
            **self.generation_kwargs(self.budget([request])),
        )
        choice = completion.choices[0]
        text = choice.message.content or ""
        meta = {"finish_reason": choice.finish_reason, "response_model": getattr(completion, "model", None)}
        return Response(text=text, usage=completion_usage(completion.usage), meta=meta)

    def score_levels(self, request: Request) -> Response:
        """VQA² quality scoring from log-probabilities: the quality question (with the instruction to answer
        with one level word), one reply token, its `TOP_LOGPROBS` most likely first tokens ->
        score = sum p_k w_k over the five level words (`level_scoring.api_level_response`)."""
        from evqa.baselines.base import validate_request
        from evqa.baselines.level_scoring import TOP_LOGPROBS, api_level_prompt, api_level_response

        if is_reasoning_model(self.model_id):
            raise ConfigError(
                f"{self.model_id} returns no log-probabilities: it cannot score quality levels (vqa2_scoring)",
                field="--model",
            )
        validate_request(request, needs_frames=self.needs_frames, needs_video=self.needs_video)
        asked = dataclasses.replace(request, prompt=api_level_prompt(request.prompt))
        completion = self.complete(
            build_messages(asked, self.image_detail),
            timeout=request.timeout,
            max_tokens=1,
            temperature=0.0,
            logprobs=True,
            top_logprobs=TOP_LOGPROBS,
        )
        logprobs = getattr(completion.choices[0], "logprobs", None)
        content = getattr(logprobs, "content", None) or []
        if not content or not content[0].top_logprobs:
            raise ApiError(f"{self.model_id} returned no top_logprobs: it cannot score quality levels")
        top = [(t.token, float(t.logprob)) for t in content[0].top_logprobs]
        response = api_level_response(top, completion_usage(completion.usage))
        response.meta["response_model"] = getattr(completion, "model", None)
        return response

    def _translate(self, err: Exception) -> Exception:
        openai = self._openai
        if isinstance(err, openai.APIStatusError):
            status = err.status_code
            headers = err.response.headers
            retry_after = parse_retry_after(headers.get("retry-after"))
            if retry_after is None and headers.get("retry-after-ms"):
                retry_after = (parse_retry_after(headers.get("retry-after-ms")) or 0.0) / 1000.0
            message = f"HTTP {status} from the OpenAI API: {err.message}"
            if status in RETRYABLE_STATUS:
                return RetryableApiError(message, status=status, retry_after=retry_after)
            if status in AUTH_STATUS:
                return AuthenticationError(
                    f"{message} (check OPENAI_API_KEY and the endpoint)", status=status
                )
            return ApiError(message, status=status)
        if isinstance(err, (openai.APITimeoutError, openai.APIConnectionError)):
            return RetryableApiError(f"{type(err).__name__}: {err}")
        if isinstance(err, (openai.APIResponseValidationError, ValueError)):  # malformed JSON body
            return RetryableApiError(f"malformed response: {type(err).__name__}: {err}")
        return err
