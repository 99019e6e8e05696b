"""The two market domains: item catalogues with mean prices, amenities, and listing texts.

Catalogues are combinatorial (e.g. preparation x filling x dish) so a market of 10,000 customers
finds enough distinct item names; they are built once per process in a fixed order (a fixed internal
seed, no episode randomness), so ``make_domain(name, n)`` is a pure function and its first ``n``
items mix every category. The text helpers (business names, descriptions, customer names and
requests) take a numpy ``Generator`` from the caller, so a market's texts follow its seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from envs.core.seeding import derive_seed, stable_hash
from envs.marketplace.market import DOMAINS, Domain

Slot = tuple[tuple[str, float], ...]
"""One slot of a combinatorial name: words with the price factor each contributes."""


def _slot(spec: str) -> Slot:
    """Parse ``"word=factor, word=factor"`` (factor defaults to 1)."""
    words = []
    for part in spec.split(","):
        word, _, factor = part.strip().partition("=")
        words.append((word.strip(), float(factor) if factor else 1.0))
    return tuple(words)


def _words(spec: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in spec.split(",") if part.strip())


@dataclass(frozen=True)
class _Category:
    """Items named by one word from each slot; mean price = product of the factors x jitter."""

    name: str
    slots: tuple[Slot, ...]
    weight: float
    """Share of this category among a catalogue's first items (until it runs out)."""

    @property
    def size(self) -> int:
        return math.prod(len(slot) for slot in self.slots)


@dataclass(frozen=True)
class _Spec:
    categories: tuple[_Category, ...]
    price_range: tuple[float, float]
    jitter: float
    """Half-width of the per-item multiplicative price jitter."""
    amenities: tuple[str, ...]


# --- restaurants: a casual Mexican-style market ------------------------------------------------

_PREPARATIONS = _slot(
    "smoked=1.06, grilled, crispy=0.97, braised=1.05, slow-roasted=1.07, chargrilled=1.03,"
    " blackened=1.04, citrus-marinated=1.05, chipotle, green chile=1.02, red chile=1.02,"
    " ancho=1.03, guajillo=1.03, adobo=1.02, mole=1.10, salsa verde, tomatillo,"
    " roasted poblano=1.04,"
    " cilantro-lime, garlic=0.98, spicy=0.97, street-style=0.92, sonoran=1.04, oaxacan=1.08,"
    " yucatan=1.07, baja-style=1.03, tequila-lime=1.08, habanero=1.01, mesquite=1.05, achiote=1.04"
)
_FILLINGS = _slot(
    "chicken, steak=1.25, brisket=1.2, carnitas=1.05, barbacoa=1.15, chorizo, shrimp=1.3,"
    " mahi-mahi=1.35, cod=1.2, pork belly=1.15, al pastor=1.05, carne asada=1.25, birria=1.2,"
    " lamb=1.3, duck=1.4, short rib=1.35, mushroom=0.85, black bean=0.8, sweet potato=0.8,"
    " cauliflower=0.85, jackfruit=0.9, tofu=0.85, squash blossom=0.95, nopales=0.85,"
    " egg and potato=0.75, three cheese=0.8"
)
_DISHES = _slot(
    "tacos=10, burrito=11, enchiladas=13, quesadilla=10, torta=11, tostadas=9, sopes=9,"
    " gorditas=9, flautas=10, chimichanga=12, fajitas=16.5, nachos=11, tamales=9.5, empanadas=8.5,"
    " taquitos=8, huaraches=10, taco salad=11, rice bowl=12, tortilla soup=8, plate=15"
)
_SIDE_STYLES = _slot(
    "house, classic, spicy=1.05, smoky=1.05, garlic=1.05, cilantro, loaded=1.25, charred=1.08,"
    " cotija=1.12, chipotle=1.05"
)
_SIDES = _slot(
    "corn=4.5, black beans=3.5, refried beans=3.5, rice=3, esquites=5, guacamole=6.5,"
    " queso dip=6, plantains=5, potatoes=4, chips and salsa=4"
)
_DRINK_FLAVOURS = _slot(
    "hibiscus, tamarind, mango=1.05, pineapple, watermelon, cucumber mint=1.08, strawberry=1.05,"
    " guava=1.08, passion fruit=1.1, prickly pear=1.12, cantaloupe, coconut=1.08, blackberry=1.1,"
    " peach=1.05, papaya=1.05, cinnamon"
)
_DRINKS = _slot(
    "agua fresca=3.5, lemonade=3.25, iced tea=3, smoothie=5.5, horchata=3.75, limeade=3.25,"
    " sparkling water=2.75, licuado=5"
)
_DESSERT_FLAVOURS = _slot(
    "cinnamon, chocolate=1.05, dulce de leche=1.1, vanilla bean=1.05, mango, coconut=1.05,"
    " cajeta=1.1, strawberry, horchata=1.05, pecan=1.12"
)
_DESSERTS = _slot(
    "churros=5, flan=5.5, tres leches cake=6.5, sopapillas=5, ice cream=4.5, bunuelos=5,"
    " paletas=3.5, rice pudding=4.5"
)

_RESTAURANTS = _Spec(
    categories=(
        _Category("mains", (_PREPARATIONS, _FILLINGS, _DISHES), 0.60),
        _Category("sides", (_SIDE_STYLES, _SIDES), 0.14),
        _Category("drinks", (_DRINK_FLAVOURS, _DRINKS), 0.14),
        _Category("desserts", (_DESSERT_FLAVOURS, _DESSERTS), 0.12),
    ),
    price_range=(2.0, 25.0),
    jitter=0.06,
    amenities=_words(
        "outdoor seating, delivery, takeout, vegan options, gluten-free options,"
        " wheelchair accessible, free parking, live music, happy hour, kids menu, reservations,"
        " late-night hours, free wifi, private dining room, catering, full bar, dog-friendly patio,"
        " large group seating, contactless payment, drive-through"
    ),
)

# --- contractors: home services --------------------------------------------------------------
# Each trade group is location x object x service, with services that make sense for its objects.

_ROOMS = _slot(
    "kitchen, living room, dining room, family room, primary bedroom=1.05, guest bedroom=0.95,"
    " home office, hallway=0.9, basement=1.05, entryway=0.9, sunroom, bonus room, nursery=0.95,"
    " game room, den, loft, library, playroom=0.95"
)
_BATHROOMS = _slot(
    "main bathroom=1.05, guest bathroom, half bath=0.9, basement bathroom, upstairs bathroom,"
    " pool bathroom, powder room=0.9, en-suite bathroom=1.1, kids bathroom, shared bathroom"
)
_WET_ROOMS = _slot(
    "kitchen, laundry room, wet bar=0.95, mudroom=0.95, garage, basement, cabana=1.1,"
    " pool house=1.1, guest house=1.05, butler pantry=1.05"
)
_UTILITY = _slot(
    "basement, garage, utility room, crawl space=1.1, laundry room, attic=1.1, utility closet,"
    " mechanical room, workshop=1.05, guest house=1.05"
)
_EXTERIOR = _slot(
    "front=1.05, rear, north side, south side, east side, west side, garage=0.9, porch=0.85,"
    " addition, sunroom=0.9, carport=0.8, breezeway=0.85"
)
_YARD = _slot(
    "front yard=1.05, backyard, side yard=0.9, garden, poolside=1.1, courtyard, hillside=1.15,"
    " corner lot, lakefront=1.15, rear lot=0.95, orchard, dog run=0.85"
)

_TRADES: tuple[tuple[str, Slot, str, str], ...] = (
    (
        "plumbing fixtures",
        _WET_ROOMS,
        "faucet=220, sink=380, garbage disposal=320, shut-off valve=180, drain line=300,"
        " water line=450, ice maker line=150, utility sink=450",
        "installation, replacement=1.1, repair=0.45, inspection=0.3, maintenance=0.35",
    ),
    (
        "bath fixtures",
        _BATHROOMS,
        "toilet=380, bathtub=1500, shower valve=420, shower pan=900, vanity=1100, bidet seat=450,"
        " showerhead=160, exhaust fan=300, grab bars=200",
        "installation, replacement=1.1, repair=0.45, removal=0.35, inspection=0.25",
    ),
    (
        "plumbing equipment",
        _UTILITY,
        "water heater=1300, tankless water heater=2600, sump pump=850, water softener=1200,"
        " water filtration system=950, well pump=1600, expansion tank=350, recirculation pump=600",
        "installation, replacement=1.1, repair=0.4, inspection=0.2, maintenance=0.18",
    ),
    (
        "electrical fixtures",
        _ROOMS,
        "ceiling fan=320, light fixture=220, outlet=160, dimmer switch=140, recessed lighting=750,"
        " chandelier=450, smoke detector=130, track lighting=520, under-cabinet lighting=480,"
        " wall sconces=380",
        "installation, replacement=1.05, repair=0.45, rewiring=0.9, troubleshooting=0.35",
    ),
    (
        "electrical systems",
        _UTILITY,
        "breaker panel=2200, subpanel=1400, ev charger=1500, generator hookup=1100,"
        " surge protector=380, grounding system=900, battery backup=2700",
        "installation, replacement=1.05, repair=0.4, inspection=0.15, upgrade=1.3",
    ),
    (
        "heating and cooling",
        _UTILITY,
        "furnace=2800, air conditioner=2700, heat pump=2900, air handler=1900, boiler=2900,"
        " humidifier=550, ductwork=1600, dryer vent=160",
        "installation, replacement=1.05, repair=0.35, tune-up=0.1, cleaning=0.12, inspection=0.09",
    ),
    (
        "room climate",
        _ROOMS,
        "thermostat=240, mini-split unit=2400, baseboard heater=380, radiant floor heating=2600,"
        " air purifier=700, air vents=220, window ac unit=450",
        "installation, replacement=1.05, repair=0.4, servicing=0.2",
    ),
    (
        "roofing",
        _EXTERIOR,
        "roof shingles=2400, gutters=700, downspouts=300, skylight=1300, chimney=1400,"
        " roof vent=380, flashing=450, fascia boards=600, soffits=650, gutter guards=900",
        "repair=0.4, replacement, cleaning=0.2, inspection=0.12, sealing=0.25",
    ),
    (
        "siding",
        _EXTERIOR,
        "siding=2600, exterior trim=900, shutters=500, stucco=2200, brick facade=2000,"
        " porch ceiling=600",
        "painting, repair=0.4, pressure washing=0.15, caulking=0.12",
    ),
    (
        "interior painting",
        _ROOMS,
        "walls=900, ceiling=700, trim=450, cabinets=1800, doors=500, window frames=420,"
        " baseboards=380, built-ins=650, accent wall=380, crown molding=520",
        "painting, priming=0.55, repainting=1.05, touch-up=0.25",
    ),
    (
        "flooring",
        _ROOMS,
        "hardwood floor=2600, tile floor=2200, laminate floor=1700, vinyl plank floor=1900,"
        " carpet=1500, subfloor=1200, stair treads=900, cork floor=1800",
        "installation, repair=0.3, refinishing=0.55, deep cleaning=0.12, removal=0.3",
    ),
    (
        "windows and doors",
        _ROOMS,
        "window=650, sliding door=1400, french doors=2400, storm window=400, window screens=150,"
        " door lock=170, interior door=450, window blinds=300, patio door=1800",
        "installation, replacement=1.1, repair=0.4",
    ),
    (
        "decks and fences",
        _YARD,
        "deck=2200, fence=1800, pergola=2600, gazebo=2900, privacy screen=900, storage shed=2500,"
        " wood steps=800, arbor=700, boardwalk=1900",
        "construction, repair=0.35, staining=0.3, sealing=0.25, power washing=0.15",
    ),
    (
        "planting",
        _YARD,
        "lawn=300, hedges=260, shrubs=400, flower beds=450, trees=900, rose bushes=250,"
        " ornamental grasses=220",
        "maintenance=0.6, planting=1.6, removal, fertilizing=0.4",
    ),
    (
        "hardscape and irrigation",
        _YARD,
        "sprinkler system=2200, drip irrigation=1400, retaining wall=2800, paver patio=2900,"
        " french drain=2400, walkway=1600, fire pit=1500, outdoor lighting=1300",
        "installation, repair=0.35, inspection=0.1, maintenance=0.15",
    ),
    (
        "appliances",
        _WET_ROOMS,
        "dishwasher=250, washing machine=220, dryer=200, refrigerator=300, wall oven=350,"
        " range hood=380, microwave=180, gas range=400, wine cooler=260, ice maker=220",
        "installation, repair=1.1, hookup=0.6, removal=0.5, maintenance=0.45",
    ),
    (
        "insulation and drywall",
        _slot(
            "attic=1.1, basement, garage, crawl space=1.1, bonus room, sunroom, home office,"
            " primary bedroom, living room, kitchen"
        ),
        "drywall=1200, blown-in insulation=1800, spray foam insulation=2600,"
        " batt insulation=1300, vapor barrier=900, soundproofing=2200",
        "installation, repair=0.3, removal=0.4, replacement=1.15",
    ),
    (
        "pest control",
        _slot(
            "attic, basement, crawl space=1.1, garage, kitchen, pantry=0.9, backyard, porch=0.9,"
            " shed=0.85, guest house"
        ),
        "termite=900, rodent=450, ant=250, wasp nest=200, bed bug=1200, cockroach=350,"
        " carpenter bee=300, mold=1500",
        "treatment, inspection=0.3, prevention plan=0.8",
    ),
    (
        "fireplaces",
        _ROOMS,
        "fireplace insert=2400, gas fireplace=2800, wood stove=2600, mantel=900, hearth=1200",
        "installation, repair=0.35, inspection=0.12, cleaning=0.15",
    ),
    (
        "trim carpentry",
        _ROOMS,
        "wainscoting=1400, built-in shelving=1300, closet system=1100, window seat=900,"
        " stair railing=700, coffered ceiling=2900, shiplap wall=1200",
        "installation, repair=0.35, removal=0.3",
    ),
)

_CONTRACTORS = _Spec(
    categories=tuple(
        _Category(name, (rooms, _slot(objects), _slot(services)), 1.0)
        for name, rooms, objects, services in _TRADES
    ),
    price_range=(80.0, 3000.0),
    jitter=0.1,
    amenities=_words(
        "licensed and insured, free estimates, weekend availability, emergency service,"
        " written warranty, financing available, accepts credit cards, background-checked crews,"
        " eco-friendly materials, senior discount, veteran-owned, bilingual staff,"
        " same-week scheduling, permit handling, cleanup included, upfront pricing, online booking,"
        " family-owned, satisfaction guarantee, after-hours phone line"
    ),
)

_SPECS = {"restaurants": _RESTAURANTS, "contractors": _CONTRACTORS}


def _spec(name: str) -> _Spec:
    if name not in _SPECS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {name!r}")
    return _SPECS[name]


def _category_items(domain: str, category: _Category, spec: _Spec) -> list[tuple[str, float]]:
    """Every name of ``category`` with its mean price (cents), in a fixed shuffled order."""
    items: list[tuple[str, float]] = [("", 1.0)]
    for slot in category.slots:
        items = [
            (f"{prefix} {word}".strip(), factor * f) for prefix, factor in items for word, f in slot
        ]
    low, high = spec.price_range
    jitter = spec.jitter
    priced = []
    for name, factor in items:
        # clip first, jitter after: prices near the bounds still differ between items
        base = min(max(factor, low / (1.0 - jitter)), high / (1.0 + jitter))
        u = stable_hash("mean price", domain, name) / 2.0**63
        priced.append((name, round(base * (1.0 + jitter * (2.0 * u - 1.0)), 2)))
    order = np.random.default_rng(derive_seed("catalogue", domain, category.name))
    return [priced[i] for i in order.permutation(len(priced))]


@cache
def _catalogue(domain: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The domain's full catalogue: categories interleaved by weight, then the rest in turn."""
    spec = _spec(domain)
    keyed = []
    for rank, category in enumerate(spec.categories):
        for k, item in enumerate(_category_items(domain, category, spec)):
            keyed.append(((k + 0.5) / category.weight, rank, item))
    keyed.sort(key=lambda entry: (entry[0], entry[1]))
    names = tuple(item[0] for _, _, item in keyed)
    prices = np.array([item[1] for _, _, item in keyed], dtype=np.float64)
    prices.setflags(write=False)
    return names, prices


def domain_capacity(name: str) -> int:
    """How many distinct items ``make_domain(name, n)`` can produce."""
    return sum(category.size for category in _spec(name).categories)


def make_domain(name: str, n_items: int) -> Domain:
    """The first ``n_items`` items of domain ``name`` (equal across calls) and its amenities."""
    spec = _spec(name)
    capacity = domain_capacity(name)
    if isinstance(n_items, bool) or not isinstance(n_items, int) or not 1 <= n_items <= capacity:
        raise ValueError(f"n_items must be an int in [1, {capacity}], got {n_items!r}")
    items, prices = _catalogue(name)
    return Domain(
        name=name,
        items=items[:n_items],
        item_prices=prices[:n_items].copy(),
        amenities=spec.amenities,
    )


# --- texts ------------------------------------------------------------------------------------


class _Draw:
    """Uniform draws fetched from a numpy generator in one call, handed out one at a time."""

    def __init__(self, values: list[float]) -> None:
        self._u = values
        self._i = 0

    @classmethod
    def of(cls, rng: np.random.Generator, n: int = 16) -> _Draw:
        return cls(rng.random(n).tolist())

    def unit(self) -> float:
        value = self._u[self._i % len(self._u)]
        self._i += 1
        return value

    def below(self, n: int) -> int:
        return min(int(self.unit() * n), n - 1)

    def pick(self, options: Sequence[str]) -> str:
        return options[self.below(len(options))]

    def sample(self, options: Sequence[str], k: int) -> list[str]:
        """``k`` distinct entries of ``options`` (all of them when there are fewer)."""
        pool = list(options)
        chosen = []
        for _ in range(min(k, len(pool))):
            chosen.append(pool.pop(self.below(len(pool))))
        return chosen


def _join(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; ``a; b; c`` when a name itself holds " and "."""
    if len(words) <= 1:
        return "".join(words)
    if any(" and " in word for word in words):
        return "; ".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


@dataclass(frozen=True)
class _Names:
    """Name patterns: each is a tuple of word lists joined by spaces (``{0}'s`` style via fmt)."""

    patterns: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]
    fixed: tuple[str, ...]
    suffixes: tuple[str, ...]

    def base(self, draw: _Draw) -> str:
        k = draw.below(len(self.patterns) + 1)
        if k == len(self.patterns):
            return draw.pick(self.fixed)
        fmt, lists = self.patterns[k]
        return fmt.format(*(draw.pick(words) for words in lists))


_RESTAURANT_NAMES = _Names(
    patterns=(
        (
            "{0}'s {1}",
            (
                _words(
                    "Rosa, Lupe, Memo, Chuy, Paco, Lola, Tito, Beto, Marisol, Inez, Rafa, Nena,"
                    " Yoli, Chela, Pepe, Ximena, Alma, Lalo, Concha, Mimi, Gabo, Rocio, Chayo,"
                    " Tere, Pancho, Luz, Delia, Abuela, Tio Juan, Dona Carmen"
                ),
                _words(
                    "Cantina, Cocina, Kitchen, Taqueria, Grill, Table, Comedor, Fonda, Casita,"
                    " Mercado, Cafe, Canteen, Eatery, Antojitos, Lunch Counter, Taco Stand"
                ),
            ),
        ),
        (
            "The {0} {1}",
            (
                _words(
                    "Golden, Blue, Rusty, Little, Lucky, Hungry, Spicy, Smoky, Dancing, Sleepy,"
                    " Wild, Salty, Painted, Humble, Midnight, Copper, Crimson, Jolly, Happy, Brave,"
                    " Sunny, Velvet, Tipsy, Noble, Hidden, Howling, Rambling, Twisted, Silver, Red"
                ),
                _words(
                    "Agave, Cactus, Burro, Jalapeno, Lime, Tortilla, Sombrero, Coyote, Armadillo,"
                    " Chili Pepper, Pinata, Maraca, Mango, Comal, Molcajete, Tamarind, Avocado,"
                    " Nopal, Roadrunner, Marigold, Iguana, Hummingbird, Lantern, Guitar, Mesa,"
                    " Hacienda, Luchador, Mariachi, Skillet, Sunflower"
                ),
            ),
        ),
        (
            "{0} {1}",
            (
                _words("Cocina, Cantina, Taqueria, Fonda, Casa, Mesa, Comedor, Antojeria"),
                _words(
                    "del Sol, del Mar, de la Luna, Las Palmas, El Centro, San Miguel, Santa Rosa,"
                    " del Valle, Los Arcos, Las Flores, La Sierra, El Mirador, Dos Rios,"
                    " Tres Hermanas, Buena Vista, Los Pinos, La Paloma, El Patio, Costa Azul,"
                    " del Barrio, Las Brisas, Monte Verde, Agua Clara, La Esquina"
                ),
            ),
        ),
    ),
    fixed=_words(
        "Masa Appeal, Burrito Theory, Queso Sera Sera, Taco Science, Hot Tamale Hall, Comal & Co.,"
        " The Salsa Lab, Lime & Salt, Cilantro Social, Fiesta Fuel, Elote Express, Churro Circuit,"
        " Agave Avenue, Pepper Plaza, Tamarind Tavern, Second Tortilla, Chile Republic,"
        " Salsa Verde Social, Holy Guacamole Diner, The Corn Exchange, Mole Mountain,"
        " Nixtamal Works, Brisa Taco Bar, Carnitas Club"
    ),
    suffixes=_words(
        "Downtown, Eastside, Westside, Uptown, Midtown, Old Town, Riverside, Northgate, Southpark,"
        " Harbor, Lakeview, Hillcrest, Mill District, Arts District, University, Station Square,"
        " Market Street, Oak Park, Pine Hill, Cedar Grove, Fairview, Brookside, Westgate, Elmwood,"
        " Highland, Bayside, Parkside, Kingsway, Crossroads, Airport"
    ),
)

_CONTRACTOR_WORDS = _words(
    "Home Services, Contracting, Builders, Home Repair, Renovations, Property Care, Construction,"
    " Handyman Co., Remodeling, Restoration, Home Solutions, Craftsmen, Home Pros, Maintenance,"
    " Fix-It Crew, Trades"
)
_CONTRACTOR_SURNAMES = _words(
    "Miller, Reyes, Okafor, Nguyen, Kowalski, Patel, Brennan, Haddad, Lindqvist,"
    " Ramirez, Thompson, Castillo, Yamamoto, Sullivan, Adeyemi, Fischer, Moreau,"
    " Delgado, Whitaker, Novak, Chen, Abernathy, Ibarra, Quinn, Petrov, Gallagher,"
    " Osei, Lund, Varga, Harlow, Mendez, Tanaka, Kaplan, Duarte, Oyelaran, Rossi,"
    " Becker, Hale, Marsh, Sato"
)
_CONTRACTOR_NAMES = _Names(
    patterns=(
        (
            "{0} {1}",
            (
                _CONTRACTOR_SURNAMES,
                _CONTRACTOR_WORDS,
            ),
        ),
        (
            "{0} {1}",
            (
                _words(
                    "Summit, Keystone, Cornerstone, Blue Ridge, Oak Hollow, Ironwood, Northstar,"
                    " Evergreen, Copper Creek, Pinecrest, Red Cedar, Silver Maple, Stonebridge,"
                    " Bluebird, Lighthouse, True North, Level Line, Hearthstone, Harbor Light,"
                    " Prairie Wind, Timberline, Granite Peak, Foxglove, Riverbend, Sunrise,"
                    " Brightwater, Old Mill, Twin Oaks, Clearview, Heritage"
                ),
                _CONTRACTOR_WORDS,
            ),
        ),
        (
            "{0} & {1} {2}",
            (_CONTRACTOR_SURNAMES, _CONTRACTOR_SURNAMES, _CONTRACTOR_WORDS),
        ),
    ),
    fixed=_words(
        "Plumb Perfect, Level Best Builders, Square & Plumb, Nail It Home Repair, Fix-It Fleet,"
        " Measure Twice Carpentry, Good Bones Renovation, House Call Handymen, Handy Hive,"
        " Toolbelt Brigade, The Honey-Do Crew, Sawdust & Sons, Grout Expectations,"
        " Shingle Minded Roofing, Ready Wrench, Hammer & Hearth, The Fix Factory, Sturdy Home Co."
    ),
    suffixes=_words(
        "of the Valley, of Northside, of Westfield, of Lakeside, of Oak Ridge, of Cedar Falls,"
        " of Millbrook, of Fairhaven, of Pine Grove, of Riverton, of Brookfield, of Easton,"
        " of Kingsport, of Greenfield, of Ashland, of Maple Heights, of Clayton, of Harborview,"
        " of Springdale, of Stonegate, of Bayview, of Hillsboro, of Woodland, of Glenwood,"
        " of Summerset, of Marlow, of Elk Grove, of Redmond, of Sutton, of Dover"
    ),
)

_NAMES = {"restaurants": _RESTAURANT_NAMES, "contractors": _CONTRACTOR_NAMES}


def business_names(domain: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct business names; a repeated base name gets a place suffix, then a number."""
    names = _NAMES[_check(domain)]
    draws = rng.random((n, 5)).tolist()
    taken: set[str] = set()
    result = []
    for row in draws:
        name = names.base(_Draw(row[:4]))
        if name.lower() in taken:
            suffix = names.suffixes[min(int(row[4] * len(names.suffixes)), len(names.suffixes) - 1)]
            name = f"{name} {suffix}" if domain == "contractors" else f"{name} ({suffix})"
        base, k = name, 2
        while name.lower() in taken:
            name, k = f"{base} #{k}", k + 1
        taken.add(name.lower())
        result.append(name)
    return result


def _check(domain: str) -> str:
    _spec(domain)
    return domain


_RESTAURANT_OPENERS = (
    "{name} is {a_vibe} spot for {cuisine} {extra}.",
    "At {name}, the {vibe} dining room serves {cuisine} {extra}.",
    "{name} brings {cuisine} to the neighborhood in {a_vibe} setting, {extra}.",
    "Step into {name}, {a_vibe} kitchen for {cuisine} {extra}.",
)
_RESTAURANT_VIBES = _words(
    "cozy, lively, no-frills, bright, neighborhood, colorful, laid-back, bustling, friendly,"
    " rustic, modern"
)
_RESTAURANT_CUISINES = _words(
    "Mexican, Tex-Mex, Mexican street food, regional Mexican, Cal-Mex, border-style cooking"
)
_RESTAURANT_EXTRAS = _words(
    "just off the main drag, with a loyal lunch crowd, cooked on a well-seasoned comal,"
    " open from lunch until late, with recipes handed down for generations,"
    " made from scratch every morning, with salsas ground in a stone molcajete"
)
_RESTAURANT_SPECIALTIES = (
    "Regulars keep coming back for the {a} and the {b}.",
    "House favorites include the {a} and the {b}.",
    "Don't skip the {a}, and save room for the {b}.",
    "The kitchen is proudest of its {a}, closely followed by its {b}.",
    "Ask anyone here and they will point you to the {a} or the {b}.",
)
_CONTRACTOR_OPENERS = (
    "{name} is {a_vibe} {kind} {extra}.",
    "{name} has long been {a_vibe} {kind} {extra}.",
    "Homeowners call {name}, {a_vibe} {kind}, {extra}.",
    "Meet {name}: {a_vibe} {kind} {extra}.",
)
_CONTRACTOR_VIBES = _words(
    "dependable, detail-oriented, independent, full-service, experienced, straight-talking,"
    " tidy, punctual, small, busy"
)
_CONTRACTOR_KINDS = _words(
    "home services team, repair crew, renovation company, contracting outfit, trades crew,"
    " home improvement company"
)
_CONTRACTOR_EXTRAS = _words(
    "serving the whole metro area, working in older and newer homes alike,"
    " known for showing up when promised, with crews that clean up after themselves,"
    " handling jobs big and small, trusted by landlords and homeowners"
)
_CONTRACTOR_SPECIALTIES = (
    "Popular jobs include {a} and {b}.",
    "The crew is especially sought after for {a} and {b}.",
    "Much of their work is {a}, along with plenty of {b}.",
    "Customers most often book them for {a} or {b}.",
    "Recent projects range from {a} to {b}.",
)
_AMENITY_LINES = (
    "Perks include {am}.",
    "Also on offer: {am}.",
    "Amenities: {am}.",
    "You can count on {am}.",
)


def business_description(
    domain: str,
    name: str,
    items: Sequence[str],
    amenities: Sequence[str],
    rng: np.random.Generator,
) -> str:
    """Two or three sentences: who the business is, two specialties from ``items``, and up to two
    of its ``amenities`` (only true ones are passed, so the listing never lies)."""
    draw = _Draw.of(rng)
    if _check(domain) == "restaurants":
        openers, vibes, kinds, extras = (
            _RESTAURANT_OPENERS,
            _RESTAURANT_VIBES,
            _RESTAURANT_CUISINES,
            _RESTAURANT_EXTRAS,
        )
        specialties = _RESTAURANT_SPECIALTIES
    else:
        openers, vibes, kinds, extras = (
            _CONTRACTOR_OPENERS,
            _CONTRACTOR_VIBES,
            _CONTRACTOR_KINDS,
            _CONTRACTOR_EXTRAS,
        )
        specialties = _CONTRACTOR_SPECIALTIES
    opener = draw.pick(openers)
    vibe = draw.pick(vibes)
    first = opener.format(
        name=name,
        vibe=vibe,
        a_vibe=f"{'an' if vibe[0] in 'aeiou' else 'a'} {vibe}",
        cuisine=draw.pick(kinds),
        kind=draw.pick(kinds),
        extra=draw.pick(extras),
    )
    sentences = [first]
    picked = draw.sample(items, 2)
    if len(picked) == 2:
        sentences.append(draw.pick(specialties).format(a=picked[0], b=picked[1]))
    elif picked:
        sentences.append(f"Try the {picked[0]}.")
    shown = draw.sample(amenities, 1 + draw.below(2))
    if shown:
        sentences.append(draw.pick(_AMENITY_LINES).format(am=_join(shown)))
    return " ".join(sentences)


_FIRST_NAMES = _words(
    "Aaliyah, Abdul, Ada, Adrian, Aiko, Alejandro, Amara, Amir, Ana, Andre, Anika, Arjun, Astrid,"
    " Aurora, Beatriz, Benjamin, Bianca, Bilal, Camila, Carlos, Chen, Chloe, Dalia, Daniel, Dario,"
    " Deepa, Diego, Elena, Elias, Emeka, Emily, Esther, Fatima, Felix, Freya, Gabriel, Grace,"
    " Hana, Hassan, Helen, Hugo, Ibrahim, Ingrid, Isaac, Isabel, Ivan, Jada, James, Javier, Jin,"
    " Joanna, Jonah, Jorge, Julia, Kai, Kamala, Karim, Keiko, Kenji, Kwame, Laila, Lars, Leah,"
    " Leon, Lina, Lucas, Lucia, Maeve, Malik, Marco, Maria, Mateo, Maya, Mei, Miguel, Mina,"
    " Mohammed, Nadia, Naomi, Nia, Niko, Noah, Nora, Olga, Omar, Oscar, Pablo, Priya, Rafael,"
    " Rania, Ravi, Rebecca, Rosa, Ruth, Samir, Sara, Sean, Sofia, Tariq, Teresa, Theo, Tomas,"
    " Uma, Valentina, Victor, Wanjiru, Wei, Yara, Yusuf, Zara"
)
_LAST_NAMES = _words(
    "Abara, Acosta, Adeyemi, Aguilar, Ahmed, Alvarez, Andersen, Bakker, Banerjee, Barros, Bauer,"
    " Bello, Brooks, Campbell, Carvalho, Castro, Chandra, Chavez, Cho, Cohen, Costa, Cruz, Dang,"
    " Das, Diaz, Dubois, Edwards, Eriksen, Esposito, Farah, Ferreira, Flores, Fong, Garcia,"
    " Gomez, Gupta, Haddad, Hansen, Hernandez, Hoang, Hughes, Ibrahim, Ito, Jansen, Jimenez,"
    " Johnson, Kang, Kaur, Khan, Kim, Klein, Kowalczyk, Kumar, Larsen, Le, Lee, Lopez, Mahmoud,"
    " Martin, Mendoza, Mensah, Moreno, Murphy, Nakamura, Navarro, Nguyen, Novak, Nunez, Obi,"
    " Ochoa, Okoye, Olsen, Ortiz, Park, Patel, Perez, Petrova, Pham, Price, Quintero, Ramos,"
    " Reddy, Rivera, Rojas, Romero, Rossi, Saleh, Santos, Schmidt, Shah, Silva, Singh, Sokolov,"
    " Suzuki, Tran, Vargas, Vega, Wagner, Walsh, Wang, Yilmaz, Zhang"
)


def customer_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct "First Last" names (the pool holds over 11,000)."""
    pool = len(_FIRST_NAMES) * len(_LAST_NAMES)
    if not 0 <= n <= pool:
        raise ValueError(f"n must be in [0, {pool}], got {n!r}")
    picks = rng.choice(pool, size=n, replace=False).tolist()
    width = len(_LAST_NAMES)
    return [f"{_FIRST_NAMES[k // width]} {_LAST_NAMES[k % width]}" for k in picks]


_REQUEST_OPENERS = {
    "restaurants": (
        "I'm looking for a restaurant where I can order {items}.",
        "Please find me a place to get {items}.",
        "Could you order {items} for me?",
        "I'd like to buy {items} for dinner.",
        "Tonight I'm craving {items}.",
        "Can you get me {items} from somewhere good?",
    ),
    "contractors": (
        "I need a contractor for {items}.",
        "I'm hiring someone to handle {items}.",
        "Can you book {items} for me?",
        "I'm looking to get {items} done soon.",
        "Please find a company that can take on {items}.",
        "I'd like to pay for {items}.",
    ),
}
_ITEM_STYLES = {
    "restaurants": ("one {item}", "{item} (1)", "one order of {item}", "a single {item}"),
    "contractors": ("{item}", "one {item} job", "{item} (1)", "a {item}"),
}
_REQUEST_AMENITIES = (
    "The place must have {am}.",
    "It has to offer {am}; that part is non-negotiable.",
    "Only consider businesses listing {am}.",
    "Please make sure the listing includes {am}.",
    "Requirements: {am}.",
    "I won't go anywhere without {am}.",
)
_REQUEST_CLOSERS = (
    "",
    "Thanks!",
    "I'm ready to pay once you find a match.",
    "Go ahead and pay when you find the right fit.",
    "Quality matters, but so does the price.",
)


def customer_request(
    domain: str, items: Sequence[str], amenities: Sequence[str], rng: np.random.Generator
) -> str:
    """A short request naming every ordered item (quantity one each) and every required amenity
    verbatim, so an assistant can read the whole order from it."""
    draw = _Draw.of(rng)
    style = draw.pick(_ITEM_STYLES[_check(domain)])
    listed = _join([style.format(item=item) for item in items])
    sentences = [draw.pick(_REQUEST_OPENERS[domain]).format(items=listed)]
    if amenities:
        sentences.append(draw.pick(_REQUEST_AMENITIES).format(am=_join(list(amenities))))
    closer = draw.pick(_REQUEST_CLOSERS)
    if closer:
        sentences.append(closer)
    return " ".join(sentences)
