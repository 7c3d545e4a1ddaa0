"""Tokenizers for the EVQA model: the tiny self-contained one and the special-token setup shared by all.

The `tiny` preset must run with no downloaded files, so `build_tiny_tokenizer()` trains a small byte-level
BPE (the same family as Qwen2's tokenizer) on a fixed word list with the `tokenizers` library. Byte-level
BPE starts from all 256 bytes, so ANY string encodes without an unknown token; digits are split one by one
(as Qwen2 does), so '2.0' and '5.5' cost three tokens each. Real presets load the Qwen2.5-VL tokenizer from
a local folder and pass it through `prepare_tokenizer`, which adds EVQA's tokens and the chat template.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from evqa.prompts import MEM_TOKEN, REF_TOKEN, SEG_TOKEN

IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
VISION_START, VISION_END = "<|vision_start|>", "<|vision_end|>"
VIDEO_PAD, IMAGE_PAD = "<|video_pad|>", "<|image_pad|>"
QWEN_SPECIAL_TOKENS = (END_OF_TEXT, IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)
EVQA_TOKENS = (SEG_TOKEN, REF_TOKEN, MEM_TOKEN)
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# Qwen2-VL's chat layout (system turn added when missing; vision placeholders inside user turns), written
# for strings or lists of {"type": "video"|"image"|"text"} parts.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Words the tiny model meets: EVQA prompts and targets, timestamp hints, synthetic-benchmark vocabulary.
_WORDS_TEXT = """
You are a helpful assistant . user assistant system
Answer with the option's letter , time segments ( in seconds ) that support answer and segment evidence objects
Temporal Evidence : Spatial A B C D E F
The video frames span to seconds fps frame frames sampled at
What Which When Where Why How Who Is Are Does Do Did many much color colour shape size object objects thing
is are was were does do did has have the a an of in on at to from into onto by with without for as
after before during while then first last second third next previous same different other another
left right up down top bottom middle center centre front back behind near far above below between
moves moving moved appears appear appeared disappears disappear disappeared enters enter entered leaves
leave left stops stop stopped starts start started bounces bounce rolls roll falls fall jumps jump turns
turn changes change changed grows shrinks stays stay visible hidden still fast slow slowly quickly
red green blue yellow orange purple pink white black gray grey brown cyan magenta dark light bright
circle square triangle diamond cross rectangle ball box disk cube star ring line dot car person dog cat bird
scene screen background foreground corner edge side area region
one two three four five six seven eight nine ten zero none all both each every only
not no yes true false it its this that these those there here what which who
"""


def _training_corpus() -> list[str]:
    """Each word alone, after a space and capitalised, so all common forms become single tokens."""
    lines = []
    for word in _WORDS_TEXT.split():
        for form in {word, word.capitalize()}:
            lines += [form, f" {form}"]
    lines += ["[[", "]]", "], [", ". ", ", ", ": ", "\n", " -"]
    return lines


def build_tiny_tokenizer(vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """A small deterministic byte-level BPE tokenizer with Qwen's chat tokens and EVQA's tokens.

    Same output on every call (fixed corpus, deterministic trainer). `len(tokenizer)` is the vocabulary size
    a model needs (a few hundred); special tokens come last. Round-trips through `save_pretrained`.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_training_corpus(), trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, clean_up_tokenization_spaces=False)
    return prepare_tokenizer(wrapped)


def prepare_tokenizer(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Make any Qwen-style tokenizer ready for EVQA, in place: add the Qwen chat/vision tokens it lacks and
    `<|seg|>`, `<|ref|>`, `<|mem|>` as special tokens; eos = `<|im_end|>`, pad = `<|endoftext|>`; install
    the chat template when it has none. Existing token ids never change (a Qwen2.5-VL tokenizer keeps its
    ids, EVQA's tokens are appended). Returns the same tokenizer."""
    extra = list(getattr(tokenizer, "extra_special_tokens", None) or [])
    extra += [tok for tok in (*QWEN_SPECIAL_TOKENS, *EVQA_TOKENS) if tok not in extra]
    tokenizer.add_special_tokens({"extra_special_tokens": extra}, replace_extra_special_tokens=True)
    tokenizer.eos_token = IM_END
    tokenizer.pad_token = END_OF_TEXT
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def special_token_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """{'seg': id, 'ref': id, 'mem': id, 'video_pad': id, 'image_pad': id, 'vision_start': id,
    'vision_end': id, 'im_start': id, 'im_end': id, 'pad': id} — raises KeyError naming a missing token."""
    names = {
        "seg": SEG_TOKEN,
        "ref": REF_TOKEN,
        "mem": MEM_TOKEN,
        "video_pad": VIDEO_PAD,
        "image_pad": IMAGE_PAD,
        "vision_start": VISION_START,
        "vision_end": VISION_END,
        "im_start": IM_START,
        "im_end": IM_END,
        "pad": END_OF_TEXT,
    }
    vocab = tokenizer.get_vocab()
    missing = [tok for tok in names.values() if tok not in vocab]
    if missing:
        raise KeyError(f"tokenizer lacks {missing}; run evqa.model.tokenizer.prepare_tokenizer first")
    return {name: vocab[tok] for name, tok in names.items()}
