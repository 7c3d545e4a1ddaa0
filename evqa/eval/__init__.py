"""Scorers that read files and call `evqa.metrics`: answer extraction, generative and MCQ evaluation, reports."""
