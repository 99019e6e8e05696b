"""A hand-built market small enough to reason about in tests: 2 customers, 3 businesses.

Items: 0 taco (4.0), 1 burrito (6.0), 2 horchata (2.0), 3 salsa (1.0). Amenities: 0 patio,
1 delivery. customer_0 wants taco + horchata with a patio; customer_1 wants a burrito with
delivery. business_0 has everything (patio and delivery); business_1 has taco, horchata and a
patio but no burrito; business_2 has burrito and taco without any amenity.
"""

from __future__ import annotations

import numpy as np

from envs.marketplace.market import Business, Customer, Domain, Market


def tiny_market() -> Market:
    domain = Domain(
        "restaurants",
        ("taco", "burrito", "horchata", "salsa"),
        np.array([4.0, 6.0, 2.0, 1.0]),
        ("patio", "delivery"),
    )
    customers = (
        Customer(0, "Ana", "Taco and horchata on a patio.", (0, 2), (0,), (4.0, 2.0), 18.0),
        Customer(1, "Ben", "A burrito, delivered.", (1,), (1,), (6.0,), 18.0),
    )
    businesses = (
        Business(0, "Casa Uno", "Everything, everywhere.", 1.0,
                 {0: 4.5, 1: 6.5, 2: 2.5, 3: 1.0}, frozenset({0, 1}), 0, 0.8),
        Business(1, "Patio Dos", "Tacos in the sun.", 1.0,
                 {0: 3.5, 2: 1.5, 3: 0.5}, frozenset({0}), 0, 0.5),
        Business(2, "Tres Burros", "Burritos to go.", 1.0,
                 {1: 5.0, 0: 3.0}, frozenset(), 1, 0.9),
    )  # fmt: skip
    return Market(domain, customers, businesses, seed=0, design="tiny")
