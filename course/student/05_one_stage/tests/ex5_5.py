from otter.test_files import test_case

OK_FORMAT = False

name = "ex5_5"
points = 2

@test_case(points=None, hidden=False)
def test_yolo_cells_to_boxes_by_hand(yolo_cells_to_boxes):
    import torch
    from visioncourse.exercises import expect_close
    cells = torch.zeros(1, 2, 2, 1, 4)
    cells[0, 1, 0, 0] = torch.tensor([0.5, 0.5, 0.5, 0.25])
    boxes = yolo_cells_to_boxes(cells, 64)
    expect_close('Exercise 5.5 (yolo_cells_to_boxes)', boxes[0, 1, 0, 0], [8.0, 46.0, 24.0, 50.0], atol=1e-05, inputs='64 px, 2x2 grid, cell [row 1, col 0] = [0.5, 0.5, 0.5, 0.25]', hint='x runs along columns, y along rows: centre = ((col + x) / S, (row + y) / S) * image_size; square the roots')
    expect_close('Exercise 5.5 (yolo_cells_to_boxes)', boxes[0, 0, 1, 0], [32.0, 0.0, 32.0, 0.0], atol=1e-05, inputs='cell [row 0, col 1] with all zeros', hint="a zero box sits at its cell's top-left corner")

