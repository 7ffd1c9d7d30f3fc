from decimal import Decimal

from seqedit.pricing import cost


def test_cost_is_max_images_times_price():
    assert cost(4) == Decimal("0.108")
    assert cost(15, "0.05") == Decimal("0.75")
    assert float(cost(1)) == 0.027
