"""Gemini adapter (google-genai): the whole video goes to the model with `VideoMetadata(fps=...)`, inline
when small, uploaded through the Files API above `upload_threshold_mb`. MCQ option images follow as JPEGs.

The key comes only from GEMINI_API_KEY / GOOGLE_API_KEY; the endpoint from `base_url`
(`HttpOptions(base_url=...)`) or GEMINI_BASE_URL. The client's retries are off (the runner owns them).
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Any

from evqa import prompts
from evqa.baselines.base import BaselineModel, Request, Response
from evqa.baselines.media import encode_jpeg, video_mime_type
from evqa.baselines.registry import AdapterFacts, register_model
from evqa.baselines.retry import RETRYABLE_STATUS, RetryableApiError, parse_retry_after
from evqa.errors import AUTH_STATUS, ApiError, AuthenticationError, BackendUnavailableError, ConfigError


def transport_errors() -> tuple[type[BaseException], ...]:
    """Timeout / connection exception classes of whichever HTTP library google-genai runs on
    (httpx or its fork httpx2)."""
    found: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found += [
            getattr(module, cls) for cls in ("TimeoutException", "TransportError") if hasattr(module, cls)
        ]
    return tuple(found)


@register_model(
    "gemini",
    AdapterFacts("gemini-2.5-flash", "gemini", model_prefixes=("gemini",), api=True),
)
class GeminiModel(BaselineModel):
    """Gemini via google-genai. Options: base_url, upload_threshold_mb (default 20), temperature."""

    needs_frames = False
    needs_video = True
    default_concurrency = 8

    def __init__(
        self,
        model: str | None = "gemini-2.5-flash",
        *,
        base_url: str | None = None,
        upload_threshold_mb: float = 20.0,
        temperature: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(model, **kwargs)
        try:
            from google import genai
            from google.genai import types
        except ImportError as err:
            raise BackendUnavailableError("the gemini adapter needs `pip install google-genai`") from err
        api_key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        if not api_key:
            raise ConfigError(
                "set the GEMINI_API_KEY (or GOOGLE_API_KEY) environment variable", field="GEMINI_API_KEY"
            )
        self.types = types
        options = types.HttpOptions(
            base_url=base_url or os.environ.get("GEMINI_BASE_URL"),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        self.client = genai.Client(api_key=api_key, http_options=options)
        self._endpoint = options.base_url or "https://generativelanguage.googleapis.com"
        self.upload_threshold = int(upload_threshold_mb * 1024 * 1024)
        self.temperature = temperature
        self._uploaded: dict[str, Any] = {}

    def endpoint(self) -> str | None:
        return self._endpoint

    def video_part(self, path: str, fps: float | None):
        """The video as a Part with fps metadata: inline bytes, or an uploaded file when large."""
        types = self.types
        metadata = types.VideoMetadata(fps=fps) if fps else None
        mime = video_mime_type(path)
        if Path(path).stat().st_size <= self.upload_threshold:
            blob = types.Blob(data=Path(path).read_bytes(), mime_type=mime)
            return types.Part(inline_data=blob, video_metadata=metadata)
        uploaded = self._upload(path, mime)
        return types.Part(
            file_data=types.FileData(file_uri=uploaded.uri, mime_type=mime), video_metadata=metadata
        )

    def _upload(self, path: str, mime: str, poll_s: float = 2.0, max_wait_s: float = 600.0):
        if path in self._uploaded:
            return self._uploaded[path]
        file = self.client.files.upload(file=path, config=self.types.UploadFileConfig(mime_type=mime))
        waited = 0.0
        while getattr(file.state, "name", str(file.state)) == "PROCESSING" and waited < max_wait_s:
            time.sleep(poll_s)
            waited += poll_s
            file = self.client.files.get(name=file.name)
        if getattr(file.state, "name", str(file.state)) == "FAILED":
            raise ApiError(f"Gemini could not process the uploaded video {Path(path).name}")
        self._uploaded[path] = file
        return file

    def contents(self, request: Request) -> list:
        """The conversation: video (+ option images) and prompt in the first user turn, then history."""
        types = self.types
        first = [self.video_part(request.video_path, request.fps)]
        for label, image in request.images:
            first.append(types.Part(text=prompts.image_label(label)))
            first.append(types.Part(inline_data=types.Blob(data=encode_jpeg(image), mime_type="image/jpeg")))
        turns = [*request.history, (request.prompt, None)]
        contents = []
        for i, (user, model_reply) in enumerate(turns):
            parts = ([*first] if i == 0 else []) + [types.Part(text=user)]
            contents.append(types.Content(role="user", parts=parts))
            if model_reply is not None:
                contents.append(types.Content(role="model", parts=[types.Part(text=model_reply)]))
        return contents

    def complete(
        self, contents, *, timeout: float | None, system: str | None = None, temperature: float | None = None
    ) -> Response:
        """One `generate_content` call for this model in the runner's error vocabulary (client errors
        translated; a reply without text is retryable): the reply's text, token usage and finish reason.
        `system` is a system instruction and `temperature` overrides the adapter's (the LLM judge's)."""
        types = self.types
        http = types.HttpOptions(timeout=int(timeout * 1000)) if timeout else None
        # no max_output_tokens: Gemini 2.5 counts its thinking in it, and a short cap ends replies early
        temperature = self.temperature if temperature is None else temperature
        config = types.GenerateContentConfig(temperature=temperature, http_options=http,
                                             **({"system_instruction": system} if system else {}))  # fmt: skip
        try:
            reply = self.client.models.generate_content(model=self.model_id, contents=contents, config=config)
        except Exception as err:  # noqa: BLE001 - translated into the runner's retry vocabulary
            raise self._translate(err) from None
        text = reply.text
        if text is None:
            raise RetryableApiError("response has no text (blocked or empty candidate)")
        usage = reply.usage_metadata
        counts = {
            "prompt_tokens": getattr(usage, "prompt_token_count", None),
            "completion_tokens": getattr(usage, "candidates_token_count", None),
            "total_tokens": getattr(usage, "total_token_count", None),
        }
        finish = reply.candidates[0].finish_reason if reply.candidates else None
        return Response(
            text=text,
            usage={k: int(v) for k, v in counts.items() if isinstance(v, int)},
            meta={"finish_reason": str(finish) if finish is not None else None},
        )

    def generate_inner(self, request: Request) -> Response:
        return self.complete(self.contents(request), timeout=request.timeout)

    def _translate(self, err: Exception) -> Exception:
        from google.genai import errors

        if isinstance(err, errors.APIError):
            headers = getattr(getattr(err, "response", None), "headers", None) or {}
            retry_after = parse_retry_after(headers.get("retry-after")) if hasattr(headers, "get") else None
            message = f"HTTP {err.code} from the Gemini API: {err.message or err.status}"
            if err.code in RETRYABLE_STATUS:
                return RetryableApiError(message, status=err.code, retry_after=retry_after)
            if err.code in AUTH_STATUS:
                return AuthenticationError(
                    f"{message} (check GEMINI_API_KEY and the endpoint)", status=err.code
                )
            return ApiError(message, status=err.code)
        if isinstance(err, transport_errors()):
            return RetryableApiError(f"{type(err).__name__}: {err}")
        if isinstance(err, ValueError):  # malformed JSON body
            return RetryableApiError(f"malformed response: {type(err).__name__}: {err}")
        return err
