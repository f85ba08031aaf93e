"""Real photos, optional: download once, then load in the shapes world's format.

The course never needs these; they let a chapter run on real images in one line::

    from visioncourse.data import real
    if real.is_available("pennfudan"):
        photos = real.load("pennfudan", split="train", image_size=128)

Datasets (the files and their published checksums are in ``DATASETS``):

* ``pennfudan`` — Penn-Fudan pedestrians: 170 street photos, boxes and instance masks;
* ``oxford_pets`` — Oxford-IIIT Pet: 7,349 photos of cats and dogs with pet/background
  trimaps (one animal per photo);
* ``voc2007`` — PASCAL VOC 2007 train/val: 5,011 photos, boxes of 20 classes.

Downloads go through pooch (hash check, retries, progress bar): an archive is written under
its final name only once its checksum matches. Archives are checked member by member before
anything is extracted (no absolute paths, no ``..``, no links leading out), extracted into a
temporary folder and renamed when complete, so an interrupted run simply starts again and a
finished one is not repeated. Files live in ``$VISIONCOURSE_DATA`` (default
``~/.cache/visioncourse``); a file placed by hand in its ``downloads/`` folder is used as is.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path, PurePosixPath

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .shapes import DetectionBatch, masks_to_pixel_boxes


class DatasetError(RuntimeError):
    """A download or extraction problem, explained in one line (no traceback needed)."""


@dataclass(frozen=True)
class Remote:
    filename: str
    url: str
    known_hash: str | None  # "md5:..." or "sha256:..."; None where nobody publishes one
    source: str  # where the hash comes from


@dataclass(frozen=True)
class Dataset:
    files: tuple[Remote, ...]
    classes: tuple[str, ...]
    page: str


VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")  # fmt: skip

DATASETS = {
    "pennfudan": Dataset(
        files=(
            Remote(
                "PennFudanPed.zip",
                "https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip",
                None,
                "the authors publish no checksum",
            ),
        ),  # fmt: skip
        classes=("background", "person"),
        page="https://www.cis.upenn.edu/~jshi/ped_html/",
    ),
    "oxford_pets": Dataset(
        files=(
            Remote(
                "images.tar.gz",
                "https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
                "md5:5c4f3ee8e5d25df40f4fd59a7f44e54c",
                "torchvision.datasets.OxfordIIITPet",
            ),
            Remote(
                "annotations.tar.gz",
                "https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
                "md5:95a8c909bbe2e81eed6a22bccdf3f68f",
                "torchvision.datasets.OxfordIIITPet",
            ),
        ),  # fmt: skip
        classes=("background", "cat", "dog"),
        page="https://www.robots.ox.ac.uk/~vgg/data/pets/",
    ),
    "voc2007": Dataset(
        files=(
            Remote(
                "VOCtrainval_06-Nov-2007.tar",
                "https://thor.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar",
                "md5:c52e279531787c972589f7e41ab4ae64",
                "torchvision.datasets.VOCDetection",
            ),
        ),  # fmt: skip
        classes=("background", *VOC_CLASSES),
        page="http://host.robots.ox.ac.uk/pascal/VOC/voc2007/",
    ),
}

OFFLINE_NOTE = "the shapes world needs no download, so every chapter still runs without it"


def _dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name]


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``root``, else ``$VISIONCOURSE_DATA``, else ~/.cache/visioncourse."""
    if root is None:
        root = os.environ.get("VISIONCOURSE_DATA") or Path.home() / ".cache" / "visioncourse"
    return Path(root).expanduser()


def _stamp(name: str, root: Path) -> Path:
    return root / name / ".complete"


def is_available(name: str, root: str | os.PathLike | None = None) -> bool:
    """True when ``name`` has been downloaded and extracted completely."""
    _dataset(name)
    return _stamp(name, data_root(root)).exists()


def download_command(name: str) -> str:
    """The shell command that downloads ``name``; it works from any install (pip, Colab, a
    checkout), unlike ``make data``, which needs the repository."""
    unverified = any(r.known_hash is None for r in _dataset(name).files)
    return f"python -m visioncourse.data.real {name}" + (" --trust-unverified" * unverified)


def missing_message(name: str, root: str | os.PathLike | None = None) -> str:
    """What to do when a dataset is absent, in one line."""
    return (f"{name} is not downloaded; get it with `{download_command(name)}` (needs internet, "
            f"goes to {data_root(root)}; on Colab or in a notebook, prefix it with !); "
            f"{OFFLINE_NOTE}.")  # fmt: skip


def _pairs(images: list[Path], partner) -> str | None:
    """None if there are images and each has its annotation file ``partner(image)``."""
    if not images:
        return "no photos"
    lost = [p for p in images if not partner(p).is_file()]
    return f"{len(lost)} of {len(images)} photos lack their annotation (e.g. {partner(lost[0]).name})" if lost else None  # fmt: skip


def _listed(folder: Path, listing: Path, photo, annotation) -> str | None:
    """None if ``listing`` exists, names photos, and every one has its photo and annotation."""
    if not listing.is_file():
        return f"no {listing.relative_to(folder)}"
    names = [line.split()[0] for line in listing.read_text().splitlines()
             if line.strip() and not line.startswith("#")]  # fmt: skip
    if not names:
        return f"{listing.relative_to(folder)} lists no photos"
    lost = [n for n in names if not (photo(n).is_file() and annotation(n).is_file())]
    return f"{len(lost)} of {len(names)} photos listed in {listing.name} are missing (e.g. {lost[0]})" if lost else None  # fmt: skip


def layout_problem(name: str, folder: Path) -> str | None:
    """What is wrong with an extracted dataset (files missing, photos without their
    annotations, nothing at all), or None when it has what ``load`` reads."""
    if name == "pennfudan":
        base = folder / "PennFudanPed"
        return _pairs(sorted((base / "PNGImages").glob("*.png")),
                      lambda p: base / "PedMasks" / f"{p.stem}_mask.png")  # fmt: skip
    if name == "oxford_pets":
        notes = folder / "annotations"
        photo = lambda n: folder / "images" / f"{n}.jpg"  # noqa: E731
        trimap = lambda n: notes / "trimaps" / f"{n}.png"  # noqa: E731
        return _listed(folder, notes / "trainval.txt", photo, trimap) or _listed(
            folder, notes / "test.txt", photo, trimap)  # fmt: skip
    base = folder / "VOCdevkit" / "VOC2007"
    photo = lambda n: base / "JPEGImages" / f"{n}.jpg"  # noqa: E731
    boxes = lambda n: base / "Annotations" / f"{n}.xml"  # noqa: E731
    return _listed(folder, base / "ImageSets" / "Main" / "trainval.txt", photo, boxes)


# --- safe extraction ------------------------------------------------------------------------


def _inside(target: Path, member: str) -> bool:
    path = PurePosixPath(member.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (member[1:2] == ":"):  # "C:..." on Windows
        return False
    return (target / path).resolve().is_relative_to(target.resolve())


def check_archive(archive: Path, target: Path) -> None:
    """Raise DatasetError unless every member of ``archive`` stays inside ``target``: no
    absolute path, no ``..``, no link leading out, no device file."""
    bad = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                if not _inside(target, info.filename) or is_link:
                    bad.append(info.filename)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                if not _inside(target, m.name) or not (m.isfile() or m.isdir() or m.issym() or m.islnk()):  # fmt: skip
                    bad.append(m.name)
                elif m.issym() and not _inside(
                    target, str(PurePosixPath(m.name).parent / m.linkname)
                ):
                    bad.append(f"{m.name} -> {m.linkname}")
                elif m.islnk() and not _inside(target, m.linkname):
                    bad.append(f"{m.name} -> {m.linkname}")
    else:
        raise DatasetError(f"{archive} is neither a zip nor a tar archive; delete it and download again")  # fmt: skip
    if bad:
        raise DatasetError(f"refusing to extract {archive.name}: {len(bad)} member(s) would land outside "
                           f"{target} (e.g. {bad[0]!r}); nothing was extracted")  # fmt: skip


def extract(archive: Path, target: Path) -> None:
    """Check ``archive``, then unpack it into ``target`` (created)."""
    check_archive(archive, target)
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(target)
    else:
        with tarfile.open(archive) as t:
            # tarfile's own "data" filter is a second line of defence where Python has it
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            t.extractall(target, **safe)


# --- download -------------------------------------------------------------------------------


def _file_hash(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(name: str, root: str | os.PathLike | None = None, mirror: str | None = None,
             hashes: dict[str, str] | None = None, trust_unverified: bool = False,
             retries: int = 2, progressbar: bool = True) -> Path:  # fmt: skip
    """Download and extract dataset ``name``; return its folder. Does nothing when done.

    Args:
        mirror: a base URL to fetch the same file names from instead (``.../`` + file name).
        hashes: ``{file name: "md5:..." | "sha256:..."}`` overriding the known checksums.
        trust_unverified: allow a file without a published checksum; its sha256 is printed
            and recorded, and later runs check against it.
    Raises:
        DatasetError with a one-line explanation (network down, checksum mismatch, unsafe
        archive, no checksum to verify against).
    """
    import pooch
    import requests

    dataset, root = _dataset(name), data_root(root)
    folder = root / name
    if _stamp(name, root).exists():
        return folder
    downloads = root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    hashes = dict(hashes or {})
    pins = {}  # sha256 of unverified files, recorded only once the dataset proves complete
    for remote in dataset.files:
        recorded = downloads / f"{remote.filename}.sha256"
        known = hashes.get(remote.filename, remote.known_hash)
        if known is None and recorded.exists():
            known = "sha256:" + recorded.read_text().strip()
        if known is None and not trust_unverified:
            raise DatasetError(
                f"{remote.filename} has no published checksum ({remote.source}); pass "
                f"--hash {remote.filename}=sha256:<hex> if you know it, or --trust-unverified to "
                f"accept the first download and pin its sha256: `{download_command(name)}`"
            )
        url = mirror.rstrip("/") + "/" + remote.filename if mirror else remote.url
        fetcher = pooch.create(path=downloads, base_url="", registry={remote.filename: known},
                               urls={remote.filename: url}, retry_if_failed=retries)  # fmt: skip
        target = downloads / remote.filename
        try:
            fetcher.fetch(remote.filename, progressbar=progressbar)
        except requests.exceptions.RequestException as err:
            raise DatasetError(
                f"could not download {url} ({type(err).__name__}); with a browser or another "
                f"machine, save it as {target} and run this again; {OFFLINE_NOTE}"
            ) from None
        except ValueError as err:  # pooch: checksum mismatch (the bad file is already gone)
            raise DatasetError(
                f"{url} did not match its checksum {known}, so it was not kept ({err}); try "
                f"again later or from another mirror (--mirror)"
            ) from None
        if known is None:
            pins[recorded] = _file_hash(target)
    partial = root / f"{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)  # left over by an interrupted run
    for remote in dataset.files:
        extract(downloads / remote.filename, partial)
    problem = layout_problem(name, partial)
    if problem is not None:  # a wrong or truncated archive: keep nothing, say which
        shutil.rmtree(partial, ignore_errors=True)
        files = ", ".join(str(downloads / r.filename) for r in dataset.files)
        raise DatasetError(f"the archive does not hold the {name} dataset ({problem}); delete "
                           f"{files} and download again")  # fmt: skip
    for recorded, digest in pins.items():
        recorded.write_text(digest + "\n")
        print(f"{recorded.name[:-7]}: no published checksum; accepted this download, sha256 "
              f"{digest} (recorded in {recorded})")  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    _stamp(name, root).touch()
    return folder


# --- loading --------------------------------------------------------------------------------


@dataclass
class PhotoBatch(DetectionBatch):
    """Real photos in the shapes world's format (see ``DetectionBatch``), plus the class
    names, the file ids and whether instance masks exist (VOC detection has none)."""

    classes: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    has_masks: bool = True

    @property
    def num_classes(self) -> int:
        return len(self.classes) - 1

    def _map(self, fn, ids: tuple[str, ...]) -> PhotoBatch:
        """A batch of ``fn`` applied to every tensor field, with these ids."""
        tensors = {k: fn(getattr(self, k)) for k in ("images", "boxes", "labels", "masks", "semantic")}  # fmt: skip
        return PhotoBatch(**tensors, classes=self.classes, ids=ids, has_masks=self.has_masks)

    def with_objects(self) -> PhotoBatch:
        """Only the photos with at least one object: VOC leaves "difficult" objects out, so a
        few of its photos have none, which a detector's target code may not expect."""
        keep = self.num_objects > 0
        return self._map(lambda t: t[keep], tuple(i for i, k in zip(self.ids, keep.tolist()) if k))

    def to(self, device) -> PhotoBatch:
        return self._map(lambda t: t.to(device), self.ids)


def _read_image(path: Path) -> Tensor | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            rgb = torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.uint8).copy())
    except OSError:  # a few archives hold unreadable files; skip them
        return None
    return rgb


def _resize_image(rgb: Tensor, size: int) -> Tensor:
    x = rgb.permute(2, 0, 1)[None].float() / 255
    return F.interpolate(x, (size, size), mode="bilinear", antialias=True, align_corners=False)[0]


def _read_labels(path: Path) -> Tensor:
    from PIL import Image

    with Image.open(path) as im:
        return torch.from_numpy(np.asarray(im, dtype=np.int64).copy())


def _resize_masks(masks: Tensor, size: int) -> Tensor:
    if len(masks) == 0:
        return torch.zeros(0, size, size, dtype=torch.bool)
    return F.interpolate(masks[None].float(), (size, size), mode="nearest")[0] > 0.5


def _pad(samples: list[dict], size: int, classes, has_masks: bool) -> PhotoBatch:
    k = max([len(s["labels"]) for s in samples] + [1])
    n = len(samples)
    boxes, labels = torch.zeros(n, k, 4), torch.zeros(n, k, dtype=torch.long)
    masks = torch.zeros(n, k, size, size, dtype=torch.bool)
    semantic = torch.zeros(n, size, size, dtype=torch.long)
    for i, s in enumerate(samples):
        c = len(s["labels"])
        boxes[i, :c], labels[i, :c] = s["boxes"], s["labels"]
        if has_masks and c:
            masks[i, :c] = s["masks"]
            # later instances drawn on top, as in the shapes world's semantic map
            for j in range(c):
                semantic[i][s["masks"][j]] = s["labels"][j]
    images = torch.stack([s["image"] for s in samples]) if samples else torch.zeros(0, 3, size, size)  # fmt: skip
    return PhotoBatch(images, boxes, labels, masks, semantic, classes=tuple(classes),
                      ids=tuple(s["id"] for s in samples), has_masks=has_masks)  # fmt: skip


def _shuffled(names: list[str]) -> list[str]:
    """``names`` in a fixed random order: the listings are sorted (Pets by breed, Penn-Fudan
    by source), so that ``limit`` takes a sample of everything, not the first breeds."""
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(0)).tolist()
    return [names[i] for i in order]


def _pennfudan(folder: Path, split: str, size: int) -> Iterator[dict]:
    base = folder / "PennFudanPed"
    names = _shuffled(sorted(p.stem for p in (base / "PNGImages").glob("*.png")))
    # torchvision's tutorial keeps 50 photos of a random order for testing; so do we, with a
    # fixed order, so that the split is the same on every machine.
    names = {"train": names[:-50], "test": names[-50:], "all": names}[split] if len(names) > 50 else names  # fmt: skip
    for name in names:
        rgb = _read_image(base / "PNGImages" / f"{name}.png")
        if rgb is None:
            continue
        ids = _read_labels(base / "PedMasks" / f"{name}_mask.png")
        instances = ids.unique()
        instances = instances[instances > 0]
        masks = _resize_masks(ids[None] == instances[:, None, None], size)
        keep = masks.flatten(1).any(1)
        masks = masks[keep]
        yield {"id": name, "image": _resize_image(rgb, size), "masks": masks,
               "boxes": masks_to_pixel_boxes(masks), "labels": torch.ones(len(masks), dtype=torch.long)}  # fmt: skip


def _oxford_pets(folder: Path, split: str, size: int) -> Iterator[dict]:
    lists = {"train": ["trainval.txt"], "test": ["test.txt"], "all": ["trainval.txt", "test.txt"]}[split]  # fmt: skip
    for listing in lists:
        lines = (folder / "annotations" / listing).read_text().splitlines()
        for line in _shuffled([x for x in lines if x.strip() and not x.startswith("#")]):
            name, _, species, _ = line.split()[:4]
            rgb = _read_image(folder / "images" / f"{name}.jpg")
            if rgb is None:
                continue
            # trimap: 1 pet, 2 background, 3 the pet's outline (counted as pet here)
            trimap = _read_labels(folder / "annotations" / "trimaps" / f"{name}.png")
            masks = _resize_masks(((trimap == 1) | (trimap == 3))[None], size)
            yield {"id": name, "image": _resize_image(rgb, size), "masks": masks,
                   "boxes": masks_to_pixel_boxes(masks), "labels": torch.tensor([int(species)])}  # fmt: skip


def _voc2007(folder: Path, split: str, size: int) -> Iterator[dict]:
    base = folder / "VOCdevkit" / "VOC2007"
    listing = {"train": "train.txt", "test": "val.txt", "all": "trainval.txt"}[split]
    for name in (base / "ImageSets" / "Main" / listing).read_text().split():
        rgb = _read_image(base / "JPEGImages" / f"{name}.jpg")
        if rgb is None:
            continue
        height, width = rgb.shape[:2]
        boxes, labels = [], []
        for obj in ET.parse(base / "Annotations" / f"{name}.xml").getroot().iter("object"):
            if int(obj.findtext("difficult", "0")) == 1:
                continue  # VOC's evaluation ignores "difficult" objects
            b = obj.find("bndbox")
            # VOC counts pixels from 1, both ends included -> pixel edges from 0
            x1, y1, x2, y2 = (float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            boxes.append([x1 - 1, y1 - 1, x2, y2])
            labels.append(VOC_CLASSES.index(obj.findtext("name").strip()) + 1)
        scale = torch.tensor([size / width, size / height] * 2)
        yield {"id": name, "image": _resize_image(rgb, size), "masks": None,
               "boxes": torch.tensor(boxes).view(-1, 4) * scale,
               "labels": torch.tensor(labels, dtype=torch.long)}  # fmt: skip


_LOADERS = {"pennfudan": _pennfudan, "oxford_pets": _oxford_pets, "voc2007": _voc2007}
_HAS_MASKS = {"pennfudan": True, "oxford_pets": True, "voc2007": False}


def load(name: str, split: str = "train", image_size: int = 128, limit: int | None = None,
         root: str | os.PathLike | None = None) -> PhotoBatch:  # fmt: skip
    """Load a downloaded dataset as one batch in the shapes world's format.

    Every photo is resized to ``image_size x image_size`` (aspect ratio not kept), boxes and
    masks with it; ``split`` is ``"train"``, ``"test"`` or ``"all"`` (Penn-Fudan: 50 photos of a
    fixed shuffle are the test split; VOC 2007: train / val; Pets: trainval / test). ``limit``
    keeps the first ``limit`` photos; Pets and Penn-Fudan come in a fixed shuffled order,
    so these are a sample of every breed and source, the same on every machine.
    """
    dataset = _dataset(name)
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all'; got {split!r}")
    if not is_available(name, root):
        raise DatasetError(missing_message(name, root))
    samples = islice(_LOADERS[name](data_root(root) / name, split, image_size), limit)
    return _pad(list(samples), image_size, dataset.classes, _HAS_MASKS[name])


def main(argv: list[str] | None = None) -> int:
    """``python -m visioncourse.data.real NAME``: download and extract one dataset."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="visioncourse.data.real")  # fmt: skip
    parser.add_argument("name", choices=sorted(DATASETS))
    parser.add_argument("--root", help="data folder (default: $VISIONCOURSE_DATA or ~/.cache/visioncourse)")  # fmt: skip
    parser.add_argument("--mirror", help="base URL serving the same file names")
    parser.add_argument("--hash", action="append", default=[], metavar="FILE=ALGO:HEX",
                        help="checksum to verify FILE against (repeatable)")  # fmt: skip
    parser.add_argument("--trust-unverified", action="store_true",
                        help="accept a file nobody publishes a checksum for, and pin its sha256")  # fmt: skip
    args = parser.parse_args(argv)
    hashes = {}
    for item in args.hash:
        file, sep, value = item.partition("=")
        if not sep or ":" not in value:
            parser.error(f"--hash must look like FILE=md5:HEX or FILE=sha256:HEX; got {item!r}")
        hashes[file] = value
    try:
        folder = download(args.name, args.root, args.mirror, hashes, args.trust_unverified)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{args.name} is ready in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
