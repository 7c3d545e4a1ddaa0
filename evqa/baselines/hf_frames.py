"""Local transformers video-LLMs fed the sampled frames as images, each preceded by its time in seconds.

One class serves every architecture transformers ships (Qwen2.5-VL, Qwen3-VL, InternVL, LLaVA-OneVision,
SmolVLM2, VideoLLaMA3): the checkpoint's own processor builds the inputs, `generate` answers, requests are
batched with left padding. Feeding timestamped frames (rather than each model's video path) tells every model the
time of each frame the same way, and needs no video processor — transformers' video processors require
torchvision, which CPU-only machines may lack. Remote-code checkpoints (`trust_remote_code`) load through
`AutoProcessor` as published.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from evqa import prompts
from evqa.baselines.base import BaselineModel, Request, Response
from evqa.errors import BackendUnavailableError, ConfigError, ModelError


def image_only_processor(processor_cls: type) -> type:
    """A subclass of a transformers processor without its video processor (frames go in as images).

    transformers reads a processor's sub-processors and saved options from the names of its `__init__`
    arguments, so they are spelled out here: the union of the options of the processors we wrap.
    SmolVLM's `apply_chat_template` only adds video-sampling defaults read from its video processor, so
    without one the generic `ProcessorMixin.apply_chat_template` renders the chat.
    """
    from transformers import ProcessorMixin

    accepted = set(inspect.signature(processor_cls.__init__).parameters)

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        chat_template=None,
        num_image_tokens=None,
        vision_feature_select_strategy=None,
        image_seq_length=None,
        image_seq_len=None,
        **kwargs,
    ):
        options = {
            "num_image_tokens": num_image_tokens,
            "image_seq_length": image_seq_length,
            "image_seq_len": image_seq_len,
            "vision_feature_select_strategy": vision_feature_select_strategy,
        }
        options = {k: v for k, v in options.items() if v is not None and k in accepted}
        kwargs.pop("video_processor", None)
        if "video_processor" in accepted:
            options["video_processor"] = None
        processor_cls.__init__(
            self,
            image_processor=image_processor,
            tokenizer=tokenizer,
            chat_template=chat_template,
            **options,
            **kwargs,
        )

    namespace = {"__init__": __init__, "__module__": processor_cls.__module__}
    if any(cls.__name__ == "SmolVLMProcessor" for cls in processor_cls.__mro__):
        namespace["apply_chat_template"] = ProcessorMixin.apply_chat_template
    return type(processor_cls.__name__, (processor_cls,), namespace)


def load_processor(path: str, *, trust_remote_code: bool = False):
    """The checkpoint's processor; for architectures transformers ships, without the video processor."""
    from transformers import AutoConfig, AutoProcessor
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    name = PROCESSOR_MAPPING_NAMES.get(config.model_type)
    if name is None or (trust_remote_code and getattr(config, "auto_map", None)):
        return AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
    import transformers

    return image_only_processor(getattr(transformers, name)).from_pretrained(path)


def pick_device(device: str | None) -> str:
    """'cuda' when available unless told otherwise."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def attention_implementation() -> str:
    """flash_attention_2 where installed and on CUDA, else sdpa."""
    import importlib.util

    import torch

    return (
        "flash_attention_2"
        if torch.cuda.is_available() and importlib.util.find_spec("flash_attn")
        else "sdpa"
    )


def frame_messages(request: Request) -> tuple[list[dict[str, Any]], list]:
    """(chat messages, PIL images in order) of a request: the preamble, then each frame after its time
    ('Frame at 2.5 s:') and before its `frame_texts` line ('Subtitle: ...', if any), option images, and the
    prompt, in the first user turn; earlier turns as history.

    What `HfFramesModel` sends and what `model.kind: hf_vlm` training builds its prompts from."""
    from PIL import Image

    parts: list[dict[str, Any]] = [{"type": "text", "text": prompts.VIDEO_PREAMBLE + "\n"}]
    images = []
    frames = [] if request.frames is None else request.frames
    for k, (frame, t) in enumerate(zip(frames, request.timestamps if request.timestamps is not None else [],
                                       strict=True)):  # fmt: skip
        parts += [{"type": "text", "text": prompts.frame_label(t)}, {"type": "image"}]
        images.append(Image.fromarray(frame))
        if request.frame_texts and request.frame_texts[k]:
            parts.append({"type": "text", "text": prompts.frame_subtitle(request.frame_texts[k])})
    for label, image in request.images:
        parts += [{"type": "text", "text": prompts.image_label(label)}, {"type": "image"}]
        images.append(Image.fromarray(image))
    messages: list[dict[str, Any]] = []
    for i, (user, assistant) in enumerate([*request.history, (request.prompt, None)]):
        text_part = {"type": "text", "text": user}
        messages.append({"role": "user", "content": [*parts, text_part] if i == 0 else [text_part]})
        if assistant is not None:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": assistant}]})
    return messages, images


def load_peft_adapter(model, adapter_path: str):
    """`model` with the peft (LoRA) adapter saved in `adapter_path` folded into its weights."""
    if not (Path(adapter_path) / "adapter_config.json").is_file():
        raise ModelError(f"not a peft adapter folder (no adapter_config.json): {adapter_path}")
    try:
        from peft import PeftModel
    except ImportError as err:
        raise BackendUnavailableError("--adapter-path needs peft (pip install peft)") from err
    try:
        return PeftModel.from_pretrained(model, adapter_path).merge_and_unload()
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelError(f"cannot apply adapter '{adapter_path}': {err}") from None


class HfFramesModel(BaselineModel):
    """A transformers image-text-to-text model over timestamped frames.

    Options: device ('cuda', 'cpu', 'cuda:1'), dtype ('bfloat16', 'float16', 'float32'), gpu_num (> 1
    spreads the model over that many GPUs with device_map='auto'), trust_remote_code, adapter_path (a
    peft adapter folder, e.g. from `evqa train` with `model.kind: hf_vlm`, merged into the weights; its
    saved processor, the one it was trained with, is used when the folder has one).
    """

    supports_batching = True
    interleaves_frame_texts = True
    trust_remote_code = False
    default_max_size = 448  # longest frame side in pixels unless --max-size says otherwise

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        gpu_num: int = 1,
        trust_remote_code: bool | None = None,
        adapter_path: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(model, **kwargs)
        self.adapter_path = adapter_path
        try:
            import torch
            from transformers import AutoModelForImageTextToText
        except ImportError as err:
            raise BackendUnavailableError(f"the {self.name} adapter needs torch and transformers") from err
        remote = self.trust_remote_code if trust_remote_code is None else trust_remote_code
        self.device = pick_device(device)
        torch_dtype = (
            getattr(torch, dtype)
            if dtype
            else (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        )
        placement = {"device_map": "auto"} if gpu_num > 1 else {}
        try:
            self.processor = load_processor(model, trust_remote_code=remote)
            if adapter_path and (Path(adapter_path) / "processor_config.json").is_file():
                self.processor = type(self.processor).from_pretrained(adapter_path)
            self.model = AutoModelForImageTextToText.from_pretrained(
                model,
                dtype=torch_dtype,
                trust_remote_code=remote,
                attn_implementation=attention_implementation(),
                **placement,
            )
        except (OSError, ValueError, KeyError) as err:
            raise ModelError(f"cannot load {self.name} checkpoint '{model}': {err}") from None
        if adapter_path:
            self.model = load_peft_adapter(self.model, adapter_path)
        if not placement:
            self.model.to(self.device)
        self.model.eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "device": self.device,
            "dtype": str(self.model.dtype).replace("torch.", ""),
            **({"adapter_path": self.adapter_path} if self.adapter_path else {}),
        }

    def messages(self, request: Request) -> tuple[list[dict[str, Any]], list]:
        """(chat messages, PIL images in order): see `frame_messages`."""
        return frame_messages(request)

    def generate_inner(self, request: Request) -> Response:
        return self.generate_batch_inner([request])[0]

    def generate_batch_inner(self, requests: list[Request]) -> list[Response]:
        """Left-padded batch through the processor and greedy `generate`."""
        import torch

        texts, images = [], []
        for request in requests:
            messages, frames = self.messages(request)
            texts.append(
                self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            )
            images.append(frames)  # one list per request: processors that check counts per sample need it
        inputs = self.processor(
            text=texts, images=images if any(images) else None, return_tensors="pt", padding=True
        )
        inputs = inputs.to(self.model.device)
        budget = self.budget(requests)
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=budget, do_sample=False)
        new = output[:, inputs["input_ids"].shape[1] :]
        replies = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        pad = self.tokenizer.pad_token_id
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        generated = [int((row != pad).sum()) for row in new]
        costs = self.query_costs(inputs, images, generated)
        return [
            Response(
                text=text.strip(),
                usage={"prompt_tokens": int(p), "completion_tokens": g},
                meta={"cost": cost},
            )
            for text, p, g, cost in zip(replies, prompt_tokens, generated, costs, strict=True)
        ]

    def query_costs(self, inputs, images: list, generated: list[int], lm_head_tokens: int | None = None):
        """Each query's cost record (`evqa.eval.cost.batch_query_costs`): visual tokens, analytic TFLOPs."""
        from evqa.eval.cost import batch_query_costs

        if not hasattr(self, "_params"):
            self._params = sum(p.numel() for p in self.model.parameters())
        try:
            return batch_query_costs(self.model.config, inputs, [len(i) for i in images], generated_tokens=generated,
                                     lm_head_tokens=lm_head_tokens, params=self._params)  # fmt: skip
        except (ConfigError, ValueError) as err:  # a misread config costs the record, not the answer
            return [{"error": f"cost not computed: {err}"} for _ in images]

    def score_levels(self, request: Request) -> Response:
        """VQA² quality scoring: one forward pass, no text generated (`evqa.baselines.level_scoring`)."""
        return self.score_levels_batch([request])[0]

    def score_levels_batch(self, requests: list[Request]) -> list[Response]:
        """Left-padded batch: chat with the reply opened by the quality answer prefix; the last position's
        logits of the five level words."""
        import torch

        from evqa.baselines.level_scoring import level_response, level_token_ids

        tokens = level_token_ids(self.tokenizer)
        texts, images = [], []
        for request in requests:
            messages, frames = self.messages(request)
            chat = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            texts.append(chat + prompts.QUALITY_ANSWER_PREFIX)
            images.append(frames)
        inputs = self.processor(
            text=texts, images=images if any(images) else None, return_tensors="pt", padding=True
        ).to(self.model.device)
        with torch.inference_mode():  # logits of the last position only: one LM-head row per query
            logits = self.model(**inputs, logits_to_keep=1).logits[:, -1].float().cpu().numpy()
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        costs = self.query_costs(inputs, images, [0] * len(requests), lm_head_tokens=1)
        responses = []
        for row, p, cost in zip(logits, prompt_tokens, costs, strict=True):
            response = level_response(row, tokens, {"prompt_tokens": int(p), "completion_tokens": 0})
            response.meta["cost"] = cost
            responses.append(response)
        return responses
