"""Real-data path, offline: tiny archives in each dataset's on-disk layout, served from a
local HTTP server; checksums, unsafe archives, re-runs, the offline message, the loaders."""

import hashlib
import io
import subprocess
import sys
import tarfile
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visioncourse.data import real

ROOT = Path(__file__).resolve().parent.parent


def png(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def jpg(h, w) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 128, dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def write_zip(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def write_tar(path: Path, files: dict[str, bytes], mode="w:gz", links=()) -> None:
    with tarfile.open(path, mode) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for name, target, kind in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
            info.linkname = target
            t.addfile(info)


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def pennfudan_zip(path: Path) -> None:
    """Two 30x40 photos; the first has pedestrians in rows 2..9 / cols 3..7 and rows 10..24 /
    cols 20..29, the second one pedestrian."""
    ids1 = np.zeros((30, 40))
    ids1[2:10, 3:8] = 1
    ids1[10:25, 20:30] = 2
    ids2 = np.zeros((30, 40))
    ids2[0:30, 0:10] = 1
    write_zip(path, {
        "PennFudanPed/PNGImages/FudanPed00001.png": png(np.zeros((30, 40, 3))),
        "PennFudanPed/PedMasks/FudanPed00001_mask.png": png(ids1),
        "PennFudanPed/PNGImages/FudanPed00002.png": png(np.zeros((30, 40, 3))),
        "PennFudanPed/PedMasks/FudanPed00002_mask.png": png(ids2),
        "PennFudanPed/readme.txt": b"tiny copy for tests",
    })  # fmt: skip


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/served; yields (folder, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def closed_port_url() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}/"


def test_pennfudan_download_load_and_rerun(server, tmp_path):
    served, url = server
    pennfudan_zip(served / "PennFudanPed.zip")
    root = tmp_path / "data"
    assert not real.is_available("pennfudan", root)
    folder = real.download("pennfudan", root, mirror=url, retries=0, progressbar=False,
                           hashes={"PennFudanPed.zip": sha256(served / "PennFudanPed.zip")})  # fmt: skip
    assert folder == root / "pennfudan" and real.is_available("pennfudan", root)
    batch = real.load("pennfudan", split="all", image_size=20, root=root)
    # the shapes world's format
    assert batch.images.shape == (2, 3, 20, 20) and batch.images.dtype == torch.float32
    assert batch.boxes.shape == (2, 2, 4) and batch.labels.tolist() == [[1, 1], [1, 0]]
    assert batch.masks.shape == (2, 2, 20, 20) and batch.masks.dtype == torch.bool
    # 40x30 -> 20x20: x halves, y scales by 2/3; pixel-edge boxes of the resized masks
    torch.testing.assert_close(batch.boxes[0], torch.tensor([[1.5, 1.0, 4.0, 6.0], [10, 7, 15, 17]]), atol=1, rtol=0)  # fmt: skip
    assert batch.semantic[0].unique().tolist() == [0, 1]
    assert [len(t["boxes"]) for t in batch.targets()] == [2, 1]
    assert batch.classes == ("background", "person") and batch.num_classes == 1
    assert len(real.load("pennfudan", image_size=20, limit=1, root=root)) == 1
    # a second run needs no network at all
    assert real.download("pennfudan", root, mirror=closed_port_url(), retries=0) == folder


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    served, url = server
    pennfudan_zip(served / "PennFudanPed.zip")
    root = tmp_path / "data"
    with pytest.raises(real.DatasetError, match="did not match its checksum"):
        real.download("pennfudan", root, mirror=url, retries=0, progressbar=False,
                      hashes={"PennFudanPed.zip": "sha256:" + "0" * 64})  # fmt: skip
    assert list((root / "downloads").iterdir()) == []
    assert not (root / "pennfudan").exists() and not real.is_available("pennfudan", root)


def test_offline_gives_one_clear_line(tmp_path):
    root = tmp_path / "data"
    url = closed_port_url()
    with pytest.raises(real.DatasetError) as err:
        real.download("oxford_pets", root, mirror=url, retries=0, progressbar=False)
    message = str(err.value)
    assert "\n" not in message and url + "images.tar.gz" in message
    assert str(root / "downloads" / "images.tar.gz") in message and "shapes world" in message
    # the command line prints it without a traceback and exits with 1
    done = subprocess.run([sys.executable, str(ROOT / "data_scripts" / "oxford_pets.py"), "--root", str(root), "--mirror", url],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: could not download")


def test_a_file_placed_by_hand_is_used(tmp_path):
    root = tmp_path / "data"
    (root / "downloads").mkdir(parents=True)
    archive = root / "downloads" / "PennFudanPed.zip"
    pennfudan_zip(archive)
    real.download("pennfudan", root, mirror=closed_port_url(), retries=0,
                  hashes={"PennFudanPed.zip": sha256(archive)})  # fmt: skip
    assert real.is_available("pennfudan", root)


def test_no_published_checksum_needs_consent_then_pins_one(server, tmp_path):
    served, url = server
    pennfudan_zip(served / "PennFudanPed.zip")
    root = tmp_path / "data"
    with pytest.raises(real.DatasetError, match="no published checksum"):
        real.download("pennfudan", root, mirror=url, retries=0)
    real.download("pennfudan", root, mirror=url, retries=0, progressbar=False, trust_unverified=True)  # fmt: skip
    pinned = (root / "downloads" / "PennFudanPed.zip.sha256").read_text().strip()
    assert "sha256:" + pinned == sha256(served / "PennFudanPed.zip")
    # later runs verify against the pinned value: a changed file on disk is refused
    (root / "pennfudan" / ".complete").unlink()
    (root / "downloads" / "PennFudanPed.zip").write_bytes(b"corrupted")
    pennfudan_zip(served / "PennFudanPed.zip")  # the server still has the good one
    real.download("pennfudan", root, mirror=url, retries=0, progressbar=False)
    assert sha256(root / "downloads" / "PennFudanPed.zip") == "sha256:" + pinned


def test_an_interrupted_run_starts_again(server, tmp_path):
    served, url = server
    pennfudan_zip(served / "PennFudanPed.zip")
    root = tmp_path / "data"
    (root / "pennfudan.partial" / "junk").mkdir(parents=True)  # extraction cut short
    (root / "pennfudan").mkdir()  # a folder without its completion stamp
    real.download("pennfudan", root, mirror=url, retries=0, progressbar=False,
                  hashes={"PennFudanPed.zip": sha256(served / "PennFudanPed.zip")})  # fmt: skip
    assert real.is_available("pennfudan", root) and not (root / "pennfudan.partial").exists()
    assert (root / "pennfudan" / "PennFudanPed" / "readme.txt").exists()


@pytest.mark.parametrize("kind", ["zip-dotdot", "zip-absolute", "tar-dotdot", "tar-absolute", "tar-symlink", "tar-hardlink"])  # fmt: skip
def test_unsafe_archives_are_refused_and_write_nothing(tmp_path, kind):
    archive, target = tmp_path / "archive", tmp_path / "data" / "set"
    good = {"set/ok.txt": b"fine"}
    if kind == "zip-dotdot":
        write_zip(archive, {**good, "set/../../evil.txt": b"x"})
    elif kind == "zip-absolute":
        write_zip(archive, {**good, "/tmp/evil.txt": b"x"})
    elif kind == "tar-dotdot":
        write_tar(archive, {**good, "../evil.txt": b"x"})
    elif kind == "tar-absolute":
        write_tar(archive, {**good, "/tmp/evil.txt": b"x"})
    elif kind == "tar-symlink":
        write_tar(archive, good, links=[("set/link", "../../../etc/passwd", "sym")])
    else:
        write_tar(archive, good, links=[("set/link", "/etc/passwd", "hard")])
    with pytest.raises(real.DatasetError, match="refusing to extract"):
        real.extract(archive, target)
    assert not target.exists() and not (tmp_path / "evil.txt").exists()


def test_safe_archive_with_an_inner_symlink_extracts(tmp_path):
    archive, target = tmp_path / "a.tar", tmp_path / "out"
    write_tar(
        archive, {"d/file.txt": b"data"}, mode="w", links=[("d/alias.txt", "file.txt", "sym")]
    )
    real.extract(archive, target)
    assert (target / "d" / "alias.txt").read_bytes() == b"data"


def test_oxford_pets_and_voc_loaders(server, tmp_path):
    served, url = server
    trimap = np.full((20, 30), 2)
    trimap[5:15, 10:20] = 1
    trimap[4, 10:20] = 3  # the outline counts as pet
    write_tar(served / "images.tar.gz", {"images/Abyssinian_1.jpg": jpg(20, 30), "images/beagle_2.jpg": jpg(20, 30)})  # fmt: skip
    write_tar(served / "annotations.tar.gz", {
        "annotations/trainval.txt": b"Abyssinian_1 1 1 1\n",
        "annotations/test.txt": b"beagle_2 13 2 1\n",
        "annotations/trimaps/Abyssinian_1.png": png(trimap),
        "annotations/trimaps/beagle_2.png": png(trimap),
    })  # fmt: skip
    xml = b"""<annotation><size><width>100</width><height>50</height></size>
      <object><name>dog</name><difficult>0</difficult>
        <bndbox><xmin>11</xmin><ymin>21</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>
      <object><name>person</name><difficult>1</difficult>
        <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>
    </annotation>"""
    base = "VOCdevkit/VOC2007/"
    write_tar(served / "VOCtrainval_06-Nov-2007.tar", {
        base + "JPEGImages/000005.jpg": jpg(50, 100), base + "Annotations/000005.xml": xml,
        base + "ImageSets/Main/train.txt": b"000005\n", base + "ImageSets/Main/val.txt": b"",
        base + "ImageSets/Main/trainval.txt": b"000005\n",
    }, mode="w")  # fmt: skip
    root = tmp_path / "data"
    for name in ("oxford_pets", "voc2007"):
        hashes = {r.filename: sha256(served / r.filename) for r in real.DATASETS[name].files}
        real.download(name, root, mirror=url, hashes=hashes, retries=0, progressbar=False)
    pets = real.load("oxford_pets", split="all", image_size=30, root=root)
    assert pets.labels.tolist() == [[1], [2]] and pets.classes == ("background", "cat", "dog")
    torch.testing.assert_close(pets.boxes[0, 0], torch.tensor([10.0, 6, 20, 22.5]), atol=1.5, rtol=0)  # fmt: skip
    assert len(real.load("oxford_pets", split="test", image_size=30, root=root)) == 1
    voc = real.load("voc2007", image_size=50, root=root)
    assert voc.labels.tolist() == [[real.VOC_CLASSES.index("dog") + 1]]  # "difficult" left out
    # VOC pixels count from 1: (11, 21, 30, 40) -> edges (10, 20, 30, 40); x scaled by 1/2
    torch.testing.assert_close(voc.boxes[0, 0], torch.tensor([5.0, 20, 15, 40]))
    assert not voc.has_masks and not voc.masks.any()


def test_unknown_missing_and_bad_arguments(tmp_path):
    with pytest.raises(real.DatasetError, match="unknown dataset"):
        real.download("coco", tmp_path)
    with pytest.raises(real.DatasetError, match="`python -m visioncourse.data.real voc2007`"):
        real.load("voc2007", root=tmp_path)
    with pytest.raises(ValueError, match="split"):
        real.load("voc2007", split="val", root=tmp_path)
    with pytest.raises(SystemExit):
        real.main(["pennfudan", "--hash", "no-equals-sign"])


def test_an_archive_without_the_dataset_is_not_ready(server, tmp_path):
    """A zip holding only a readme (or photos without their masks) is refused, not "ready"."""
    served, url = server
    root = tmp_path / "data"
    for files, problem in (
        ({"PennFudanPed/readme.txt": b"nothing else"}, "no photos"),
        (
            {"PennFudanPed/PNGImages/FudanPed00001.png": png(np.zeros((3, 4, 3)))},
            "1 of 1 photos lack",
        ),
    ):
        write_zip(served / "PennFudanPed.zip", files)
        with pytest.raises(
            real.DatasetError, match=f"does not hold the pennfudan dataset \\({problem}"
        ):
            real.download("pennfudan", root, mirror=url, retries=0, progressbar=False,
                          trust_unverified=True)  # fmt: skip
        assert not real.is_available("pennfudan", root) and not (root / "pennfudan").exists()
        assert not (root / "pennfudan.partial").exists()
        assert not list((root / "downloads").glob("*.sha256"))  # nothing pinned to a wrong file
        (root / "downloads" / "PennFudanPed.zip").unlink()  # what the message tells the user
    pennfudan_zip(served / "PennFudanPed.zip")  # the right archive now downloads and loads
    real.download(
        "pennfudan", root, mirror=url, retries=0, progressbar=False, trust_unverified=True
    )
    assert (
        real.is_available("pennfudan", root)
        and len(real.load("pennfudan", "all", 20, root=root)) == 2
    )


def test_missing_message_gives_a_command_that_works_without_the_repository(tmp_path):
    message = real.missing_message("pennfudan", tmp_path)
    assert "`python -m visioncourse.data.real pennfudan --trust-unverified`" in message
    assert "make data" not in message
    assert real.download_command("voc2007") == "python -m visioncourse.data.real voc2007"


def test_make_data_with_an_unknown_name_lists_the_datasets():
    done = subprocess.run([sys.executable, "-m", "visioncourse.data.real", "coco"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "invalid choice: 'coco'" in done.stderr and "pennfudan" in done.stderr
