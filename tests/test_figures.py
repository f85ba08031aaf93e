"""Every architecture figure draws without error and returns its figure."""

import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from visioncourse import figures  # noqa: E402

PUBLIC = [name for name, fn in inspect.getmembers(figures, inspect.isfunction)
          if not name.startswith("_") and fn.__module__ == figures.__name__]  # fmt: skip


def test_there_is_a_figure_for_every_architecture_the_lectures_draw():
    wanted = {"sliding_window_as_fcn", "rcnn_pipeline", "fast_and_faster_rcnn", "roi_align_grid",
              "anchor_grid", "yolo_grid", "ssd_multiscale", "fcn_and_unet", "mask_rcnn",
              "rnn_folded_unfolded", "lstm_cell_diagram", "siamese_and_triplet",
              "visual_semantic_embedding", "simclr", "video_fusion", "conv3d_and_2plus1d",
              "slowfast", "flownet_s", "inductive_counting"}  # fmt: skip
    assert wanted <= set(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_figure_draws(name):
    fig = getattr(figures, name)()
    assert isinstance(fig, plt.Figure)
    assert any(ax.patches or ax.lines for ax in fig.axes)  # something was drawn
    plt.close(fig)


def test_the_multiframe_chapter_has_its_figures():
    assert {"multiframe_recognition", "gated_fusion_network"} <= set(PUBLIC)
