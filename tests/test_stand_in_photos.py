"""The stand-in photos that let CI run the chapters' real-photo cells load like the real
datasets: right splits, classes, boxes around the masks, VOC's 1-based pixel boxes."""

import importlib.util
from pathlib import Path

import torch

from visioncourse.data import masks_to_pixel_boxes, real

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "stand_in_photos", ROOT / "tools" / "stand_in_photos.py"
)
stand_in = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stand_in)


def test_stand_ins_load_like_the_real_datasets(tmp_path):
    stand_in.write(tmp_path)
    for name in ("pennfudan", "oxford_pets", "voc2007"):
        assert (
            real.is_available(name, tmp_path) and real.layout_problem(name, tmp_path / name) is None
        )

    people = real.load("pennfudan", split="train", image_size=64, root=tmp_path)
    assert (
        len(people) == 70
        and len(real.load("pennfudan", split="test", image_size=64, root=tmp_path)) == 50
    )
    assert people.classes == ("background", "person") and (people.num_objects >= 1).all()
    live = people.present
    assert torch.equal(people.boxes[live], masks_to_pixel_boxes(people.masks[live]))

    pets = real.load("oxford_pets", split="test", image_size=64, root=tmp_path)
    assert len(pets) == 40 and set(pets.labels[:, 0].tolist()) == {1, 2}  # cats and dogs
    assert ((pets.semantic > 0).flatten(1).float().mean(1) > 0.02).all()  # every photo has its pet

    voc_train = real.load("voc2007", split="train", image_size=32, root=tmp_path)
    assert len(voc_train) == 101 and voc_train.num_objects[0] == 0  # the difficult-only photo
    kept = voc_train.with_objects()
    assert len(kept) == 100 and (kept.num_objects > 0).all() and "difficult_only" not in kept.ids
    assert torch.equal(kept.boxes, voc_train.boxes[1:]) and kept.ids == voc_train.ids[1:]
    voc = real.load("voc2007", split="test", image_size=stand_in.WIDTH, root=tmp_path)
    assert len(voc) == 40 and not voc.has_masks
    names = {real.VOC_CLASSES[k - 1] for k in voc.labels[voc.present].tolist()}
    assert names == {"cat", "dog", "person"}
    # the XML boxes, read back and scaled to a square, match the scenes the tool drew
    batch, _, _ = stand_in._scenes(
        140, 3, min_objects=1, max_objects=3, min_size=0.2, max_size=0.45
    )
    expected = batch.boxes[100][: int(batch.num_objects[100])]
    torch.testing.assert_close(voc.boxes[0, : len(expected)], expected, atol=1.0, rtol=0)


def test_a_limit_samples_every_class_of_a_sorted_listing(tmp_path):
    # Pets' listings are sorted by breed: the first photos of the file are all one breed
    stand_in.write(tmp_path)
    listing = tmp_path / "oxford_pets" / "annotations" / "trainval.txt"
    lines = listing.read_text().splitlines()
    listing.write_text("\n".join(sorted(lines, key=lambda line: line.split()[2])) + "\n")
    first = real.load("oxford_pets", split="train", image_size=32, limit=12, root=tmp_path)
    assert set(first.labels[:, 0].tolist()) == {1, 2}
    again = real.load("oxford_pets", split="train", image_size=32, limit=12, root=tmp_path)
    assert first.ids == again.ids  # the same sample every time
