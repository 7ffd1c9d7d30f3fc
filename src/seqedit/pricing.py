"""Price per image and the cost of a request (``max_images`` × price: what the user pays for)."""

from __future__ import annotations

from decimal import Decimal

DEFAULT_PRICE_PER_IMAGE = Decimal("0.027")


def cost(max_images: int, price_per_image: Decimal | float | str = DEFAULT_PRICE_PER_IMAGE) -> Decimal:
    """Exact decimal cost; ``float(cost(...))`` for JSON."""
    return Decimal(str(price_per_image)) * max_images
