"""Data for the course: the synthetic shapes world (default, no download); real photos are
optional (``visioncourse.data.real``)."""

from .shapes import (
    COLOR_NAMES,
    SHAPE_NAMES,
    SIZE_NAMES,
    DetectionBatch,
    Scene,
    ShapesBatch,
    ShapesConfig,
    captions,
    generate,
    masks_to_pixel_boxes,
    render,
    sample_scene,
    shape_masks,
)

__all__ = [
    "COLOR_NAMES",
    "SHAPE_NAMES",
    "SIZE_NAMES",
    "DetectionBatch",
    "Scene",
    "ShapesBatch",
    "ShapesConfig",
    "captions",
    "generate",
    "masks_to_pixel_boxes",
    "render",
    "sample_scene",
    "shape_masks",
]
