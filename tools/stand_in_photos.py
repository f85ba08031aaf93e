"""Stand-ins for the optional real datasets, so CI runs the chapters' real-photo cells offline.

    python tools/stand_in_photos.py FOLDER      # then VISIONCOURSE_DATA=FOLDER

Writes ``pennfudan``, ``oxford_pets`` and ``voc2007`` under FOLDER in the layouts that
``visioncourse.data.real`` reads (PNG/JPEG files, trimaps, instance-id masks, VOC XML), each
marked complete as a real download would be. The "photos" are shapes-world scenes at odd
sizes, so a model fine-tuned on them has something to learn; they are never real photos and
are never shipped: the published notebooks are executed without them.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from visioncourse.data import ShapesConfig, generate, real

HEIGHT, WIDTH = 80, 112  # not square: the loaders resize every photo to image_size²


def _scenes(n: int, seed: int, **config):
    cfg = ShapesConfig(image_size=WIDTH, background="texture", **config)
    batch = generate(n, cfg, seed=seed)
    rows = torch.linspace(0, WIDTH - 1, HEIGHT).round().long()  # squash to HEIGHT x WIDTH
    images = (batch.images[:, :, rows].permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    masks = batch.masks[:, :, rows].numpy()  # (n, K, HEIGHT, WIDTH), amodal
    return batch, images, masks


def _save(path: Path, array, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    path.write_bytes(buf.getvalue())


def pennfudan(folder: Path, n: int = 120) -> None:
    """Scenes of 1-3 'pedestrians' with instance-id masks; the last 50 are the test split."""
    batch, images, masks = _scenes(n, 1, min_objects=1, max_objects=3, min_size=0.25, max_size=0.45)
    base = folder / "PennFudanPed"
    for i in range(n):
        ids = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
        for k in range(int(batch.num_objects[i])):  # later objects in front, as in the world
            ids[masks[i, k]] = k + 1
        _save(base / "PNGImages" / f"StandIn{i:05d}.png", images[i], "PNG")
        _save(base / "PedMasks" / f"StandIn{i:05d}_mask.png", ids, "PNG")


def oxford_pets(folder: Path, n_train: int = 100, n_test: int = 40) -> None:
    """One animal per photo with a trimap (1 pet, 2 background, 3 outline); circles and
    squares are 'cats' (species 1), triangles 'dogs' (species 2)."""
    n = n_train + n_test
    batch, images, masks = _scenes(n, 2, min_objects=1, max_objects=1, min_size=0.35, max_size=0.6)
    lines = []
    for i in range(n):
        name = f"stand_in_{i}"
        trimap = np.where(masks[i, 0], 1, 2).astype(np.uint8)
        species = 2 if int(batch.labels[i, 0]) == 3 else 1
        lines.append(f"{name} {species} {species} 1")
        _save(folder / "images" / f"{name}.jpg", images[i], "JPEG")
        _save(folder / "annotations" / "trimaps" / f"{name}.png", trimap, "PNG")
    (folder / "annotations" / "trainval.txt").write_text("\n".join(lines[:n_train]) + "\n")
    (folder / "annotations" / "test.txt").write_text("\n".join(lines[n_train:]) + "\n")


def voc2007(folder: Path, n_train: int = 100, n_val: int = 40) -> None:
    """Boxes of three VOC classes: circles are 'cat', squares 'dog', triangles 'person'."""
    n = n_train + n_val
    batch, images, _ = _scenes(n, 3, min_objects=1, max_objects=3, min_size=0.2, max_size=0.45)
    names_of = {1: "cat", 2: "dog", 3: "person"}
    base = folder / "VOCdevkit" / "VOC2007"
    scale = torch.tensor([1.0, HEIGHT / WIDTH, 1.0, HEIGHT / WIDTH])
    names = [f"{i:06d}" for i in range(n)]
    for i, name in enumerate(names):
        objects = []
        for k in range(int(batch.num_objects[i])):
            x1, y1, x2, y2 = (batch.boxes[i, k] * scale).tolist()
            # VOC counts pixels from 1, both ends included
            objects.append(
                f"<object><name>{names_of[int(batch.labels[i, k])]}</name><difficult>0</difficult>"
                f"<bndbox><xmin>{x1 + 1:.0f}</xmin><ymin>{y1 + 1:.0f}</ymin>"
                f"<xmax>{x2:.0f}</xmax><ymax>{y2:.0f}</ymax></bndbox></object>"
            )
        xml = (f"<annotation><size><width>{WIDTH}</width><height>{HEIGHT}</height></size>"
               + "".join(objects) + "</annotation>")  # fmt: skip
        _save(base / "JPEGImages" / f"{name}.jpg", images[i], "JPEG")
        (base / "Annotations").mkdir(parents=True, exist_ok=True)
        (base / "Annotations" / f"{name}.xml").write_text(xml)
    # Real VOC has photos whose only object is "difficult" (left out: no target at all), and
    # grayscale JPEGs; one training photo of each kind, in one.
    names.insert(0, "difficult_only")
    _save(base / "JPEGImages" / "difficult_only.jpg", images[0].mean(-1).astype(np.uint8), "JPEG")
    (base / "Annotations" / "difficult_only.xml").write_text(
        f"<annotation><size><width>{WIDTH}</width><height>{HEIGHT}</height></size><object>"
        "<name>dog</name><difficult>1</difficult><bndbox><xmin>5</xmin><ymin>5</ymin>"
        "<xmax>40</xmax><ymax>40</ymax></bndbox></object></annotation>"
    )
    n_train += 1
    lists = base / "ImageSets" / "Main"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "train.txt").write_text("\n".join(names[:n_train]) + "\n")
    (lists / "val.txt").write_text("\n".join(names[n_train:]) + "\n")
    (lists / "trainval.txt").write_text("\n".join(names) + "\n")


WRITERS = {"pennfudan": pennfudan, "oxford_pets": oxford_pets, "voc2007": voc2007}


def write(root: Path) -> None:
    """Every stand-in dataset under ``root``, checked by the loaders' own layout test."""
    for name, writer in WRITERS.items():
        folder = root / name
        writer(folder)
        problem = real.layout_problem(name, folder)
        if problem:
            raise RuntimeError(f"stand-in {name}: {problem}")
        real._stamp(name, root).touch()  # what real.download leaves when it has finished


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    write(args.folder)
    print(f"stand-in photos for {', '.join(WRITERS)} in {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
