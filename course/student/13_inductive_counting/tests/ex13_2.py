from otter.test_files import test_case

OK_FORMAT = False

name = "ex13_2"
points = 2

@test_case(points=None, hidden=False)
def test_step_tuples_by_hand(step_tuples):
    import torch
    from visioncourse.exercises import expect_close, expect_equal
    masks = torch.zeros(1, 3, 2, 3, dtype=torch.bool)
    masks[0, 0, 0, 0] = masks[0, 1, 1, 2] = True
    cells, counts = (torch.tensor([[4, 7, 0]]), torch.tensor([2]))
    name = 'Exercise 13.2 (step_tuples)'
    memory, target, after = step_tuples(masks, cells, counts, torch.tensor([1]), 9)
    inputs = 'one scene with 2 objects (cells 4 and 7), step t = 1'
    expect_close(name, memory, masks[:, 0].float(), inputs=inputs, hint='memory before step 1 marks object 0 only, as float')
    expect_equal(name, target.tolist(), [7], inputs=inputs, hint='the target of step t is object t (0-based): the next one not yet marked')
    expect_close(name, after, masks[:, :2].any(1).float(), inputs=inputs, hint='the memory after the step marks objects 0 and 1')

@test_case(points=None, hidden=False)
def test_step_tuples_first_and_stop(step_tuples):
    import torch
    from visioncourse.exercises import expect_close, expect_equal
    masks = torch.zeros(3, 3, 2, 2, dtype=torch.bool)
    masks[0, 0, 0, 0] = masks[0, 1, 0, 1] = masks[1, 0, 1, 1] = True
    masks[2, 0, 0, 0] = masks[2, 1, 0, 1] = masks[2, 2, 1, 0] = True
    cells, counts = (torch.tensor([[1, 2, 0], [3, 0, 0], [0, 1, 2]]), torch.tensor([2, 1, 3]))
    name = 'Exercise 13.2 (step_tuples)'
    memory, target, after = step_tuples(masks, cells, counts, torch.tensor([0, 1, 3]), 4)
    inputs = 'scene 0 at step 0; scenes 1 and 2 at their stop steps, scene 2 full (t = counts = K = 3)'
    expect_equal(name, target.tolist(), [1, 4, 4], inputs=inputs, hint='when t == counts the target is `stop`; when t == K there is no slot t: clamp the index before `gather`, then replace it with `stop`')
    expect_close(name, memory[0], torch.zeros(2, 2), inputs=inputs, hint='before step 0 the memory is empty')
    expect_close(name, after[1:], memory[1:], inputs=inputs, hint='the stop step marks nothing new: next_memory equals memory')
    expect_equal(name, (memory.dtype, after.dtype), (torch.float32, torch.float32), inputs=inputs, hint='return float memories (`.float()`): Δm is added to them')

