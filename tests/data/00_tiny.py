# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 00_tiny
# init_cell: false
# check_all_cell: false
# export_cell: false
# run_tests: false
# solutions_pdf: false
# tests:
#   files: true
#   ok_format: false
# generate: true

# %% [markdown]
# # A two-exercise chapter for the grading tests (tests/test_grading_sandbox.py)

# %%
import torch

from visioncourse.exercises import Grader

torch.manual_seed(0)
grader = Grader("00_tiny")

# %% [raw]
# # BEGIN QUESTION
# name: ex_1
# points: 2

# %% [raw]
# # BEGIN SOLUTION


# %%
def double(x):
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_double_small(double):
    import torch

    from visioncourse.exercises import expect_close

    expect_close(
        "Exercise 1 (double)", double(torch.tensor([1.0, 2.0])), [2.0, 4.0], inputs="[1, 2]"
    )


test_double_small(double)


# %%
# HIDDEN
def test_double_hidden(double):
    import torch

    from visioncourse.exercises import expect_close

    answer = torch.tensor([8642.0])  # the value a cheat would have to find
    expect_close("Exercise 1 (double)", double(torch.tensor([4321.0])), answer, inputs="hidden")


test_double_hidden(double)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: ex_2
# points: 1

# %% [raw]
# # BEGIN SOLUTION


# %%
def count_ones(x):
    # BEGIN SOLUTION
    return int((x == 1).sum())
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
# HIDDEN
def test_count_ones_hidden(count_ones):
    import torch

    from visioncourse.exercises import expect_equal

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (50,), generator=g)
    expect_equal("Exercise 2 (count_ones)", count_ones(x), int((x == 1).sum()), inputs="hidden")
    expect_equal("Exercise 2 (count_ones)", count_ones(x[:0]), 0, inputs="nothing")


test_count_ones_hidden(count_ones)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
print("the end")
