from otter.test_files import test_case

OK_FORMAT = False

name = "ex8_4"
points = 1

@test_case(points=None, hidden=False)
def test_lstm_num_parameters_small(lstm_num_parameters):
    from visioncourse.exercises import expect_equal
    expect_equal('Exercise 8.4 (lstm_num_parameters)', lstm_num_parameters(10, 20, 1, False), 2560, inputs='nn.LSTM(10, 20)', hint='4 gates × H × (D + H) weights, plus two bias vectors of 4H')
    expect_equal('Exercise 8.4 (lstm_num_parameters)', lstm_num_parameters(8, 16, 2, True), 9728, inputs='nn.LSTM(8, 16, num_layers=2, bidirectional=True)', hint="two directions per layer; layer 2 reads both directions' states: 2H inputs")

