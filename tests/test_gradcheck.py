"""gradcheck and gradgradcheck must catch wrong derivatives: each test plants one and expects the report."""

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
from minigan.function import Function
from minigan.ops import mul


class CubeWrongFirst(Function):
    """y = x^3 with a wrong first derivative (2 x^2 instead of 3 x^2)."""

    def forward(self, x):
        return x**3

    def backward(self, gy):
        x = self.inputs[0]
        return mul(gy, mul(mul(x, x), 2.0))


class CubeWrongSecond(Function):
    """y = x^3 whose first derivative is right in value (3 x^2) but computed from a constant copy of x, so
    its own derivative (the second derivative of y) is wrong: zero instead of 6 x."""

    def forward(self, x):
        return x**3

    def backward(self, gy):
        x = self.inputs[0].detach()
        return mul(gy, mul(mul(x, x), 3.0))


def t64(shape, seed=0):
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape), dtype="float64", requires_grad=True)


def test_gradcheck_reports_the_worst_element():
    x = t64((2, 3))
    with pytest.raises(mg.GradcheckError, match=r"input 0 \(shape \(2, 3\)\) at element \(\d, \d\): analytic"):
        mg.gradcheck(lambda x: CubeWrongFirst().apply(x), [x])
    assert mg.gradcheck(lambda x: x**3, [x])


def test_gradcheck_random_directions_for_large_inputs():
    x = t64((40, 30))  # 1200 elements > max_elements: checked along random directions
    with pytest.raises(mg.GradcheckError, match="random direction"):
        mg.gradcheck(lambda x: CubeWrongFirst().apply(x), [x])
    assert mg.gradcheck(lambda x: F.tanh(x) * x, [x])


def test_gradgradcheck_catches_a_wrong_second_derivative_that_gradcheck_misses():
    x = t64((3,))
    fn = lambda x: CubeWrongSecond().apply(x)  # noqa: E731
    assert mg.gradcheck(fn, [x])
    with pytest.raises(mg.GradcheckError):
        mg.gradgradcheck(fn, [x])
    assert mg.gradgradcheck(lambda x: x**3, [x])


def test_gradcheck_refuses_single_precision():
    with pytest.raises(TypeError, match="float64"):
        mg.gradcheck(lambda x: x * 2, [mg.randn(3, requires_grad=True)])


def test_numerical_jacobian_of_a_linear_map_is_its_matrix():
    A = np.random.default_rng(1).standard_normal((4, 3))
    x = mg.tensor(np.ones(3), dtype="float64", requires_grad=True)
    J = mg.numerical_jacobian(lambda x: mg.tensor(A) @ x, [x], 0)
    np.testing.assert_allclose(J, A, atol=1e-8)
