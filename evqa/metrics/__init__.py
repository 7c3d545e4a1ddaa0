"""Pure metric functions over arrays and segment lists: QA correctness, temporal IoU/IoP, J and F."""

from evqa.metrics.masks import boundary_f, jaccard, jaccard_and_boundary_f, seg2bmap
from evqa.metrics.qa import accuracy, qa_correct, qa_correct_upstream
from evqa.metrics.temporal import summarize_temporal, temporal_iou_iop, temporal_iou_iop_upstream

__all__ = [
    "accuracy",
    "boundary_f",
    "jaccard",
    "jaccard_and_boundary_f",
    "qa_correct",
    "qa_correct_upstream",
    "seg2bmap",
    "summarize_temporal",
    "temporal_iou_iop",
    "temporal_iou_iop_upstream",
]
