"""`model.kind: hf_vlm`: LoRA / full / QLoRA fine-tuning of plain transformers VLMs for video QA.

arguments.py  the model / data / training dataclasses of an hf_vlm experiment YAML
families.py   where each architecture keeps its language model, projector and vision encoder
model.py      load a checkpoint, quantise (QLoRA), pick what trains, wrap with LoRA
data.py       the mixture's text items with frames sampled as `evqa infer` samples them
collator.py   chat rendering through the checkpoint's processor, loss on the answer tokens only
tiny.py       tiny random checkpoints of each family (CPU runs and tests)
train.py      the training run (what `evqa train` calls for this kind)
"""
