"""Data for the course: the synthetic shapes world (default, no download)."""

from .shapes import (
    COLOR_NAMES,
    SHAPE_NAMES,
    SIZE_NAMES,
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
