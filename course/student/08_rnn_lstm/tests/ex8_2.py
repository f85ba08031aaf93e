from otter.test_files import test_case

OK_FORMAT = False

name = "ex8_2"
points = 1

@test_case(points=None, hidden=False)
def test_clip_grad_norm_is_global(clip_grad_norm):
    import torch
    from visioncourse.exercises import expect_close
    a, b = (torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True))
    a.grad, b.grad = (torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0]))
    norm = clip_grad_norm([a, b], 1.0)
    expect_close('Exercise 8.2 (clip_grad_norm)', norm, 5.0, inputs='gradients [3, 0] and [0, 4], max_norm 1', hint='one norm over all gradients together: sqrt(3² + 4²)')
    expect_close('Exercise 8.2 (clip_grad_norm)', torch.cat((a.grad, b.grad)), [0.6, 0.0, 0.0, 0.8], atol=1e-05, inputs='gradients [3, 0] and [0, 4], max_norm 1', hint='scale every gradient by the same factor, max_norm / norm (not each to norm 1)')

@test_case(points=None, hidden=False)
def test_clip_grad_norm_takes_a_generator_and_leaves_small_gradients(clip_grad_norm):
    import torch
    from visioncourse.exercises import expect_close
    a, b = (torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True))
    a.grad, b.grad = (torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0]))
    clip_grad_norm((p for p in (a, b)), 1.0)
    expect_close('Exercise 8.2 (clip_grad_norm)', torch.cat((a.grad, b.grad)), [0.6, 0.0, 0.0, 0.8], atol=1e-05, inputs='gradients [3, 0] and [0, 4] given as a generator, max_norm 1', hint='a generator can be read only once: make a list of the gradients first')
    a.grad, b.grad = (torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0]))
    clip_grad_norm([a, b], 10.0)
    expect_close('Exercise 8.2 (clip_grad_norm)', torch.cat((a.grad, b.grad)), [3.0, 0.0, 0.0, 4.0], atol=1e-05, inputs='gradients [3, 0] and [0, 4], max_norm 10', hint='a norm below max_norm is left alone: clipping only ever shrinks')

