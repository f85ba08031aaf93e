from otter.test_files import test_case

OK_FORMAT = False

name = "ex13_4"
points = 2

@test_case(points=None, hidden=False)
def test_count_by_induction_scripted_model(count_by_induction):
    import torch
    from visioncourse.exercises import expect_equal
    from visioncourse.induction import scripted_model
    scenes = [[0, 5, 10], [], [3, 12, 15, 1, 2, 6, 7, 8]]
    counts, memories = count_by_induction(scripted_model(scenes, 4), torch.zeros(3, 1), (4, 4), max_steps=10)
    name = 'Exercise 13.4 (count_by_induction)'
    inputs = 'induction.scripted_model, a perfect Φ; images with 3, 0 and 8 objects on a 4 x 4 grid; max_steps = 10'
    expect_equal(name, counts.tolist(), [3, 0, 8], inputs=inputs, hint="count the steps before each image's first stop; an image that stopped must not count again")
    expect_equal(name, tuple(memories.shape), (11, 3, 4, 4), inputs=inputs, hint='the memory before each step, and after the last')
    expect_equal(name, memories[-1].flatten(1).sum(1).tolist(), [3.0, 0.0, 8.0], inputs=inputs, hint='add the rounded footprint (delta > 0.5, as 0/1) after each step that is not a stop')

@test_case(points=None, hidden=False)
def test_count_by_induction_stop_is_final(count_by_induction):
    import torch
    from visioncourse.exercises import expect_equal

    def wobbly(images, memory):
        """Step 1: cell 0; step 2: cell 5, redrawing cell 0 too; step 3: stop, yet drawing cell 10;
        step 4: cell 5 again."""
        step = len(calls)
        calls.append(step)
        logits = torch.full((len(memory), 17), -10.0, device=memory.device)
        logits[:, {0: 0, 1: 5, 2: 16}.get(step, 5)] = 10.0
        delta = torch.zeros_like(memory)
        for cell in {0: [0], 1: [0, 5], 2: [10]}.get(step, [5]):
            delta.view(len(memory), -1)[:, cell] = 0.9
        return (logits, delta)
    calls = []
    counts, memories = count_by_induction(wobbly, torch.zeros(1, 1), (4, 4), max_steps=4)
    name = 'Exercise 13.4 (count_by_induction)'
    inputs = 'a model that points at 2 cells, says stop, then points again; max_steps = 4'
    expect_equal(name, counts.tolist(), [2], inputs=inputs, hint='an image that has said stop is finished for good: keep a `done` flag that, once True, stays True')
    expect_equal(name, memories[:, 0].flatten(1).sum(1).tolist(), [0.0, 1.0, 2.0, 2.0, 2.0], inputs=inputs, hint='memory = maximum(memory, delta > 0.5), so a pixel marked twice stays 1; after stop the memory no longer changes')

