from pathlib import Path

import pytest
import torch

from visioncourse.exercises import expect_close, expect_equal, use_or_reference
from visioncourse.metrics import localization_correct
from visioncourse.runtime import get_mode, seed_everything, sizes
from visioncourse.train import fit


def test_mode_from_argument_and_environment(monkeypatch):
    assert get_mode("fast") == "fast" and get_mode("FULL") == "full"
    monkeypatch.setenv("COURSE_MODE", "full")
    assert get_mode() == "full"
    monkeypatch.setenv("COURSE_MODE", "auto")
    assert get_mode() == ("full" if torch.cuda.is_available() else "fast")
    monkeypatch.setenv("COURSE_MODE", "turbo")
    with pytest.raises(ValueError, match="COURSE_MODE must be one of"):
        get_mode()


def test_sizes_picks_by_mode_and_requires_same_keys():
    assert sizes(dict(a=1), dict(a=2), mode="fast").a == 1
    assert sizes(dict(a=1), dict(a=2), mode="full").a == 2
    with pytest.raises(ValueError, match="same keys"):
        sizes(dict(a=1), dict(b=2), mode="fast")


def test_seed_everything_repeats_torch_draws():
    seed_everything(3)
    a = torch.rand(5)
    seed_everything(3)
    assert torch.equal(a, torch.rand(5))


def test_feedback_names_exercise_input_expected_got_and_hint():
    with pytest.raises(AssertionError) as err:
        expect_close(
            "Exercise 9.9 (thing)",
            torch.tensor([1.0, 2.0]),
            [1.0, 3.0],
            inputs="x=[1, 2]",
            hint="add one",
        )
    text = str(err.value)
    for part in ("Exercise 9.9 (thing)", "x=[1, 2]", "expected", "[1.0, 3.0]", "got", "add one"):
        assert part in text


def test_feedback_for_unfinished_wrong_type_and_shape():
    with pytest.raises(AssertionError, match="not done yet"):
        expect_close("Ex", None, [1.0])
    with pytest.raises(AssertionError, match="should return a tensor"):
        expect_close("Ex", "1.0", [1.0])
    with pytest.raises(AssertionError, match="wrong shape"):
        expect_close("Ex", torch.zeros(2), torch.zeros(3))
    expect_close("Ex", 0.5, 0.5)  # plain numbers are fine
    with pytest.raises(AssertionError, match="wrong value"):
        expect_equal("Ex", torch.tensor([1, 2]), torch.tensor([1, 3]))


def test_use_or_reference_falls_back_and_says_so(capsys):
    def reference(x):
        return x * 2

    def unfinished(x): ...

    def wrong(x):
        return x * 3

    def broken(x):
        raise IndexError("oops")

    for student in (unfinished, wrong, broken, None):
        assert use_or_reference("Exercise 1.2", student, reference, torch.ones(2)) is reference
        assert "Exercise 1.2" in capsys.readouterr().out

    def right(x):
        return x + x

    assert use_or_reference("Exercise 1.2", right, reference, torch.ones(2)) is right
    assert capsys.readouterr().out == ""


def test_localization_correct_needs_class_and_iou():
    gt_boxes = torch.tensor([[0.0, 0, 10, 10]] * 4)
    gt_labels = torch.tensor([1, 1, 2, 2])
    pred_boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 4], [0, 0, 10, 5], [0, 0, 10, 10]])
    pred_labels = torch.tensor([1, 1, 2, 1])
    hits = localization_correct(pred_labels, pred_boxes, gt_labels, gt_boxes)
    assert hits.tolist() == [True, False, True, False]  # IoU 0.4 fails, exactly 0.5 passes
    top2 = localization_correct(
        torch.stack([pred_labels, gt_labels], 1),
        torch.stack([pred_boxes, gt_boxes], 1),
        gt_labels,
        gt_boxes,
    )
    assert top2.all()
    with pytest.raises(ValueError, match="pred_boxes must have shape"):
        localization_correct(pred_labels, pred_boxes[:, None].repeat(1, 2, 1), gt_labels, gt_boxes)


def test_fit_lowers_the_loss():
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    model = torch.nn.Linear(3, 1)
    history = fit(
        model,
        lambda step: (x, y),
        lambda out, t: ((out[:, 0] - t) ** 2).mean(),
        200,
        lr=0.1,
        progress=False,
    )
    assert history.losses[-1] < 0.01 * history.losses[0]
    assert history.images == 64 * 200 and history.seconds > 0
    with pytest.raises(ValueError, match="steps"):
        fit(model, lambda step: (x, y), lambda out, t: out.sum(), 0)


def test_fit_passes_a_tuple_of_model_arguments():
    # A detector-style model: model(images, targets) -> dict of losses.
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(3))

        def forward(self, images, targets):
            return {"l2": ((images @ self.w - targets) ** 2).mean()}

    torch.manual_seed(0)
    x = torch.randn(32, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    history = fit(Model(), lambda step: ((x, y),), lambda losses: sum(losses.values()), 150,
                  lr=0.1, progress=False)  # fmt: skip
    assert history.losses[-1] < 0.01 * history.losses[0]
    assert history.images == 32 * 150


def _linear_fit(amp):
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    model = torch.nn.Linear(3, 1)
    seen = []

    def loss(out, t):
        seen.append(out.dtype)
        return ((out[:, 0].float() - t) ** 2).mean()

    history = fit(model, lambda step: (x, y), loss, 150, lr=0.1, progress=False, amp=amp)
    assert model.weight.dtype == torch.float32
    assert history.losses[-1] < 0.05 * history.losses[0]
    return seen[0]


@pytest.mark.parametrize(
    "capability, dtype",
    [
        ((7, 5), torch.float16),
        ((7, 0), torch.float16),
        ((8, 0), torch.bfloat16),
        ((9, 0), torch.bfloat16),
    ],
)
def test_autocast_dtype_follows_the_gpu(monkeypatch, capability, dtype):
    from visioncourse.runtime import autocast_dtype

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert autocast_dtype(torch.device("cuda")) == dtype
    assert autocast_dtype("cpu") is None


def test_fit_amp_is_float32_on_the_cpu():
    assert _linear_fit(amp=True) == torch.float32


def test_fit_float16_uses_a_gradient_scaler(monkeypatch):
    """The T4 path: float16 autocast with loss scaling (run on the CPU, whose autocast and
    GradScaler take float16 too)."""
    import visioncourse.train as train

    scaled = []
    real_scaler = torch.amp.GradScaler

    def spy(device, enabled=True):
        scaled.append(enabled)
        return real_scaler(device, enabled=enabled)

    monkeypatch.setattr(train, "autocast_dtype", lambda device: torch.float16)
    monkeypatch.setattr(torch.amp, "GradScaler", spy)
    assert _linear_fit(amp=True) == torch.float16 and scaled == [True]


def test_pretrained_weights_only_when_cached_or_allowed(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from visioncourse.runtime import pretrained_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("COURSE_DOWNLOAD", raising=False)
    weights = SimpleNamespace(url="https://download.example.org/models/detector-1234.pth")
    usable, path = pretrained_weights(weights)
    assert not usable and path == str(tmp_path / "hub" / "checkpoints" / "detector-1234.pth")
    monkeypatch.setenv("COURSE_DOWNLOAD", "1")
    assert pretrained_weights(weights)[0]
    monkeypatch.delenv("COURSE_DOWNLOAD")
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "detector-1234.pth").write_bytes(b"")
    assert pretrained_weights(weights)[0]


def test_expect_same_regions_ignores_ids_but_not_merges_or_splits():
    from visioncourse.exercises import expect_same_regions

    expected = torch.tensor([[1, 1, 0, 2], [0, 1, 0, 2]])
    expect_same_regions("Ex", expected * 7, expected)  # other ids, same regions: passes
    for wrong, message in (((expected > 0).long(), "merged or split"),
                           (torch.tensor([[1, 3, 0, 2], [0, 1, 0, 2]]), "merged or split"),
                           (torch.tensor([[1, 1, 0, 2], [0, 1, 2, 2]]), "foreground"),
                           (expected[0], "wrong shape"), ([1, 2], "tensor")):  # fmt: skip
        with pytest.raises(AssertionError, match=message):
            expect_same_regions("Ex", wrong, expected)


def test_progress_bars_are_left_in_place(monkeypatch):
    """A notebook bar closed with leave=False leaves an empty output area: fit keeps its bar."""
    import visioncourse.train as train

    kwargs = []
    real_tqdm = train.tqdm
    monkeypatch.setattr(train, "tqdm", lambda *a, **k: kwargs.append(k) or real_tqdm(*a, **k))
    fit(torch.nn.Linear(2, 1), lambda step: (torch.ones(4, 2), torch.ones(4, 1)),
        torch.nn.functional.mse_loss, 2, progress=False)  # fmt: skip
    assert kwargs and kwargs[0]["leave"] is True
    masters = Path(__file__).resolve().parent.parent.glob("course/[0-9][0-9]_*.py")
    assert not [m.name for m in masters if "leave=False" in m.read_text()]


def test_mean_std_and_separated_over_seeds():
    from visioncourse.metrics import mean_std, separated

    assert mean_std([1.0, 0.5, 0.0]) == "0.50 ± 0.50"
    assert mean_std([0.25], 3) == "0.250 ± 0.000"
    assert separated([0.9, 1.0], [0.2, 0.5]) and separated([0.2, 0.5], [0.9, 1.0])
    assert not separated([0.5, 1.0], [0.2, 0.5])  # touching ranges: no verdict


def test_compare_words_a_verdict_only_when_the_seeds_are_separated():
    from visioncourse.metrics import compare

    assert compare([0.9, 1.0], [0.2, 0.5]) == "beats"
    assert compare([0.2, 0.5], [0.9, 1.0]) == "loses to"
    assert compare([0.5, 1.0], [0.2, 0.5]) == "is not separated from"


def test_verdict_says_every_seed_only_when_separated():
    from visioncourse.metrics import verdict

    assert verdict("A", [0.9, 1.0], "B", [0.2, 0.5]) == "A beats B on every seed"
    assert (
        verdict("A", [0.5, 1.0], "B", [0.2, 0.5])
        == "A is not separated from B (the seeds overlap: no verdict)"
    )
