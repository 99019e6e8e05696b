"""Seeded item catalogs for the recommendation environments: books, games and restaurants.

No third-party dataset can ship (Amazon Reviews and Yelp terms forbid it), so catalogs are written
from mercato's own word lists and templates. Each domain has 9 categories and 5 categorical
attributes whose value frequencies lean per category (fantasy skews young, French restaurants
upscale) with a seeded jitter, so two seeds give different but equally plausible catalogs.

* Titles come from per-category grammars ("The {adj} {noun}", "{compound} Tactics",
  "{flavor} {place} {venue}") and are made unique with a domain-flavoured suffix (a book series
  number, a game edition, a restaurant branch's neighbourhood) when a draw repeats.
* Quality ~ Beta(5, 3). Engagement (clickability) is drawn separately and leans slightly against
  quality; a 10% "catchy but poor" subset (RecSim's chocolate items) gets high engagement and low
  quality, and highly engaging items tend to carry a hype sentence in their description.
* Popularity is lognormal and rises with quality and, more, with engagement.
* Descriptions are one or two sentences naming the category and a few attribute values.

Everything derives from ``(domain, n_items, seed)`` through `envs.core.seeding.child_rng`, one
stream per part, so rewording a template never moves a price. 100,000 items take 1-2 s.
"""

from __future__ import annotations

import functools
import math
import numbers
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from envs.core.seeding import child_rng
from envs.recommendation.catalog import DOMAINS, Catalog

MIN_ITEMS = 100
MAX_ITEMS = 100_000
CATCHY_SHARE = 0.10
"""Share of items drawn as catchy but poor: high engagement, low quality."""
CATCHY_ENGAGEMENT = 0.65
CATCHY_QUALITY = 0.35
"""Thresholds `catchy_but_poor` uses to pick those items out after the fact."""

_HYPE_ENGAGEMENT = 0.75
"""Items at least this engaging usually get a hype sentence instead of a plain second one."""
_HYPE_CHANCE = 0.7
_SECOND_SENTENCE_CHANCE = 0.6
_TITLE_FILL = 0.05
"""A title template is drawn at most this many times per distinct title it can write."""
_JITTER_SHAPE = 25.0
"""Gamma shape of the per-seed jitter on value frequencies (larger: closer to the base)."""


# ------------------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class _Attribute:
    """A categorical attribute: its values, base frequencies, and how descriptions say them."""

    name: str
    values: tuple[str, ...]
    weights: tuple[float, ...]
    spoken: Mapping[str, str] = field(default_factory=dict)
    """Description wording of a value (default: the value itself)."""


@dataclass(frozen=True)
class _Category:
    """A category: its frequency, how descriptions name it, what items are about, title grammar,
    and multipliers on attribute value frequencies (``{attribute: {value: factor}}``)."""

    name: str
    weight: float
    nouns: tuple[str, ...]
    subjects: tuple[str, ...]
    titles: tuple[str, ...]
    bias: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    first: tuple[str, ...] | None = None
    """First-sentence templates overriding the domain's (e.g. non-fiction books)."""


@dataclass(frozen=True)
class _Domain:
    """Everything a domain's catalog is generated from."""

    categories: tuple[_Category, ...]
    attributes: tuple[_Attribute, ...]
    words: Mapping[str, tuple[str, ...]]
    first: tuple[str, ...]
    second: tuple[str, ...]
    hype: tuple[str, ...]
    extra: Mapping[str, tuple[str, Mapping[str, str]]]
    """More description fields: name -> (attribute, wording of each value)."""
    price: Callable[
        [Mapping[str, np.ndarray], Sequence[_Attribute], np.random.Generator], np.ndarray
    ]
    suffixes: Callable[[int, Mapping[str, str]], str]
    """The disambiguating suffix of the ``j``-th repeat (j >= 1) of a title, given the item's
    spoken attribute values."""


def _ordinal_word(number: int) -> str:
    words = ("One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten")
    return words[number - 1] if number <= len(words) else str(number)


def _roman(number: int) -> str:
    numerals = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"))
    numerals += ((50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = []
    for value, numeral in numerals:
        count, number = divmod(number, value)
        out.append(numeral * count)
    return "".join(out)


def _price_from(
    base: Mapping[str, float],
    attribute: str,
    attrs: Mapping[str, np.ndarray],
    specs: Sequence[_Attribute],
    rng: np.random.Generator,
    sigma: float,
    scale: np.ndarray | float = 1.0,
) -> np.ndarray:
    """A lognormal price around ``base[value of attribute]`` (times ``scale``)."""
    spec = next(a for a in specs if a.name == attribute)
    table = np.array([base[v] for v in spec.values])
    return table[attrs[attribute]] * scale * rng.lognormal(0.0, sigma, size=len(attrs[attribute]))


def _retail(prices: np.ndarray, floor: float = 0.99) -> np.ndarray:
    """Prices as shops write them: whole dollars less a cent, at least ``floor``."""
    return np.maximum(np.round(prices) - 0.01, floor)


# ------------------------------------------------------------------------------------- books

# fmt: off
_BOOK_WORDS: dict[str, tuple[str, ...]] = {
    "adj": (
        "Glass", "Silent", "Hollow", "Burning", "Paper", "Salt", "Silver", "Winter", "Midnight",
        "Forgotten", "Drowned", "Crooked", "Velvet", "Iron", "Quiet", "Bitter", "Golden", "Painted",
        "Broken", "Hidden", "Wandering", "Last", "Lost", "Distant", "Sleeping", "Scarlet", "Amber",
        "Copper", "Pale", "Wild", "Secret", "Shattered", "Northern", "Sunken", "Borrowed",
        "Restless", "Gilded", "Ashen", "Frozen", "Emerald", "Lonely", "Whispering", "Fallen",
        "Crimson", "Endless", "Narrow", "Invisible", "Ninth", "Wicked", "Gentle", "Stolen", "Tidal",
        "Marble", "Summer", "Evening", "Hungry", "Cobalt", "Faded", "Clockwork", "Starlit",
    ),
    "noun": (
        "Orchard", "Harbour", "Lighthouse", "Garden", "River", "Library", "Mirror", "Compass",
        "Lantern", "Tide", "Kingdom", "Archive", "Bridge", "Island", "Forest", "Letter", "Map",
        "Key", "Door", "Bell", "Crown", "Feather", "Atlas", "Window", "Hour", "Orchestra", "Museum",
        "Station", "Ferry", "Violin", "Theatre", "Meadow", "Valley", "Tower", "Well", "Staircase",
        "Labyrinth", "Menagerie", "Vineyard", "Observatory", "Cathedral", "Carousel", "Canal",
        "Passage", "Mountain", "Shore", "Heart", "Promise", "Inheritance", "Hotel", "Greenhouse",
        "Manuscript", "Chapel", "Tapestry", "Quarry", "Dollhouse", "Aviary", "Almanac", "Hourglass",
        "Coast", "Field", "Sky", "Star", "Moon", "Road", "City", "House", "Room", "Ship", "Sea",
        "Fire", "Song", "Thread", "Circus", "Country", "Daughter", "Witness", "Summer",
        "Garden Party", "Year",
    ),
    "person": (
        "Cartographer", "Beekeeper", "Clockmaker", "Lighthouse Keeper", "Glassblower", "Bookbinder",
        "Ferryman", "Astronomer", "Gardener", "Apothecary", "Watchmaker", "Weaver", "Translator",
        "Mapmaker", "Perfumer", "Violinist", "Tailor", "Baker", "Botanist", "Surgeon", "Diver",
        "Falconer", "Printer", "Locksmith", "Stonemason", "Archivist", "Midwife", "Pilot",
        "Innkeeper", "Fisherman", "Painter", "Governess", "Sculptor", "Shepherd", "Forger",
        "Magician", "Alchemist", "Cellist", "Photographer", "Detective",
    ),
    "relation": (
        "Daughter", "Son", "Wife", "Widow", "Apprentice", "Secret", "Promise", "Garden", "Ghost",
        "Confession", "Last Letter", "Notebook", "Granddaughter", "Sister", "Brother", "Lie",
        "Legacy", "Gift", "Dream", "Map", "Lantern", "Silence", "Tale", "Journey", "Return",
        "Shadow",
    ),
    "abstract": (
        "Lost Things", "Small Mercies", "Second Chances", "Broken Promises", "Quiet Hours", "Ash",
        "Salt", "Storms", "Forgetting", "Longing", "Tomorrow", "Echoes", "Wild Things",
        "Borrowed Time", "Hidden Stars", "Lost Letters", "Falling Leaves", "Distant Shores",
        "Unspoken Words", "Silver Rain", "Winter Light", "Hungry Ghosts", "Shadows", "Whispers",
        "Bones", "Stars", "Glass", "Dust", "Smoke", "Thorns",
    ),
    "season": ("Winter", "Summer", "Spring", "Autumn", "Season", "Year", "Week", "Night", "Month"),
    "holiday": ("Winter", "Summer", "Spring", "Autumn", "Christmas", "Midsummer", "Sunset"),
    "city": (
        "Lisbon", "Kyoto", "Vienna", "Marrakesh", "Havana", "Oslo", "Prague", "Istanbul", "Naples",
        "Dublin", "Tallinn", "Valparaiso", "Bruges", "Zanzibar", "Montreal", "Seville", "Trieste",
        "Krakow", "Hanoi", "Tbilisi", "Lyon", "Porto", "Edinburgh", "Cairo", "Bergen", "Venice",
        "Salzburg", "Galway", "Quebec", "Odessa",
    ),
    "first": (
        "Milo", "Hazel", "Otto", "Juniper", "Felix", "Mabel", "Ivy", "Arlo", "Wren", "Theo", "Pip",
        "Rosa", "Tomas", "Nell", "Iris", "Jasper", "Lottie", "Finn", "Clara", "Rafi", "Ada",
        "Bruno", "Elsie", "Kit", "Noor", "Oscar", "Poppy", "Ravi", "Suki", "Zora",
    ),
    "surname": (
        "Ashcombe", "Bellamy", "Carrow", "Delacourt", "Everett", "Fairlie", "Greaves", "Hartigan",
        "Irving", "Jessop", "Kilbride", "Lambert", "Marlowe", "Nightingale", "Okafor", "Pemberton",
        "Quill", "Rossiter", "Sinclair", "Tremayne", "Underhill", "Vasquez", "Whitlock", "Yardley",
        "Zielinski", "Abernathy", "Blackstone", "Calloway", "Dunning", "Esposito",
    ),
    "estate": (
        "Ashby", "Thornley", "Gull", "Raven", "Blackwood", "Hollow", "Kestrel", "Marsh", "Wexford",
        "Larkspur", "Holloway", "Penhallow", "Cold", "Fenwick", "Grey", "Merrow", "Oakhurst",
        "Sable", "Stillwater", "Tarn", "Vane", "Wicken", "Bramble", "Crowhurst", "Dunmore",
        "Elmstead", "Foxley", "Harrow", "Ivybridge", "Lowther",
    ),
    "estate_kind": (
        "Hall", "Manor", "Grange", "Abbey", "House", "Court", "Farm", "Lodge", "Priory", "Mill",
        "Cottage", "Point",
    ),
    "case": ("Affair", "Case", "Inquiry", "Files", "Murders", "Disappearance", "Confession"),
    "room": (
        "Library", "Boathouse", "Orchard", "Cellar", "Conservatory", "Belfry", "Greenhouse",
        "Quarry", "Canal", "Attic", "Ballroom", "Chapel",
    ),
    "fthing": (
        "Crown", "Throne", "Blade", "Oath", "Heir", "Song", "Witch", "Dragon", "Queen", "King",
        "Gate", "Tower", "Sorcerer", "Ravens", "Thief", "Knight", "Wolves", "Exile", "Storm",
        "Circle",
    ),
    "fplace": (
        "Eldmoor", "Vastria", "Kethra", "the Ashen Isles", "Mirewood", "Drakespire", "Sunmere",
        "Orveth", "the Thornwilds", "Caladen", "Ysmir", "Northmarch", "the Glass Sea", "Varros",
        "Emberfell", "Luminar", "Greywater", "Skarn", "Tal Sorin", "Wyrmhold",
    ),
    "romword": (
        "Proposal", "Arrangement", "Engagement", "Wedding", "Affair", "Promise", "Heart", "Kiss",
        "Match", "Honeymoon",
    ),
    "codename": (
        "Meridian", "Halcyon", "Obsidian", "Kestrel", "Cobalt", "Nightfall", "Sparrow", "Zenith",
        "Vantage", "Blackout", "Tempest", "Onyx", "Cipher", "Falcon", "Hydra", "Atlas", "Lazarus",
        "Wolfram", "Sentinel", "Jackal",
    ),
    "op": (
        "Protocol", "Directive", "Dossier", "Option", "Sanction", "Gambit", "Covenant", "Code",
        "Exchange", "Deception",
    ),
    "hours": ("Twelve", "Six", "Nine", "Ten", "Thirty", "Forty-Eight", "Seventy-Two"),
    "sfadj": (
        "Quantum", "Orbital", "Silent", "Last", "Derelict", "Solar", "Hollow", "Infinite", "Red",
        "Distant", "Binary", "Sleeping", "Frozen", "Iron", "Neon",
    ),
    "sfnoun": (
        "Colony", "Signal", "Horizon", "Station", "Drift", "Machine", "Protocol", "Archive",
        "Frontier", "Engine", "Ark", "Garden", "Expanse", "Singularity", "Meridian",
    ),
    "sfname": (
        "Kepler", "Titan", "Europa", "Vega", "Andromeda", "Proxima", "Helios", "Ceres", "Orion",
        "Tycho", "Sirius", "Callisto", "Io", "Rhea", "Lyra",
    ),
    "htopic": (
        "Salt", "The Silk Road", "The Printing Press", "Coffee", "The Atlantic", "Gunpowder",
        "Cartography", "The Spice Trade", "Paper", "Tea", "The Hanseatic League", "Sugar",
        "The Telegraph", "Medicine", "Timekeeping", "The Mediterranean", "Cotton", "Railways",
        "The Postal Service", "Glassmaking", "The Steppe", "Piracy", "Porcelain", "Chocolate",
        "The Black Sea", "Lighthouses", "Canals", "Banking", "Libraries", "Maps",
    ),
    "hera": (
        "Century", "Empire", "Republic", "Dynasty", "Crusade", "Frontier", "Revolution", "Kingdom",
        "Court", "Voyage",
    ),
    "hage": (
        "Sail", "Iron", "Steam", "Spices", "Empires", "Cathedrals", "Exploration", "Revolutions",
        "Silk", "Coal", "Reason", "Print", "Plague", "Faith", "Discovery",
    ),
    "hcount": ("Seven", "Ten", "Twelve", "Thirty", "A Hundred"),
    "hplace": (
        "Europe", "the World", "Rome", "China", "the Atlantic", "Venice", "Japan", "Africa",
        "the Ottoman Empire", "India", "Persia", "Mexico", "Russia", "the Americas", "Britain",
    ),
    "scinoun": (
        "Atom", "Universe", "Gene", "Brain", "Cell", "Ocean", "Forest", "Planet", "Equation",
        "Particle", "Microbe", "Climate", "Molecule", "Signal", "Number", "Heart", "Mind", "Sky",
        "Seed", "Virus", "Quantum", "Body", "Light", "Island", "Crystal",
    ),
    "sciplural": (
        "Octopuses", "Forests", "Stars", "Birds", "Bees", "Whales", "Mushrooms", "Crystals",
        "Clouds", "Rivers", "Volcanoes", "Ants", "Bacteria", "Glaciers", "Coral Reefs", "Trees",
        "Neurons", "Galaxies", "Rocks", "Wolves",
    ),
    "sciverb": (
        "Dream", "Sing", "Remember", "Migrate", "Glow", "Talk", "Vanish", "Grow", "Cooperate",
        "Decide",
    ),
    "scisub": (
        "A Scientist's Journey",
        "What We Know and Why",
        "The Science of Everyday Life",
        "A Field Guide",
        "Notes from the Lab",
        "A Short Introduction",
        "The New Science",
        "How It Really Works",
        "A Natural History",
        "Questions and Answers",
        "A Story of Discovery",
        "The Surprising Science",
        "A Guide for the Curious",
        "What It Means for Us",
        "Adventures at the Edge of Knowledge",
        "A Biography",
        "The Untold Story",
        "Why It Matters",
        "Lessons from Nature",
        "A New Theory",
    ),
    "sciadj": (
        "Hidden", "Secret", "Invisible", "Elegant", "Restless", "Curious", "Living", "Quiet",
        "Unfinished", "Selfish", "Hungry", "Tangled", "Accidental", "Improbable", "Remarkable",
        "Deep", "Wild", "Missing", "Uncertain", "Patient",
    ),
    "scithing": (
        "Machine", "Code", "Paradox", "Puzzle", "Problem", "Revolution", "Frontier", "Effect",
        "Question", "Instinct", "Riddle", "Ladder", "Map", "Clock", "Engine",
    ),
    "vehicle": (
        "Express", "Ferry", "Night Train", "Riverboat", "Sleeper", "Tram", "Airship", "Liner",
    ),
    "bioprof": (
        "Aviator", "Astronomer", "Pianist", "Naturalist", "Prodigy", "Revolutionary", "Chef",
        "Mountaineer", "Codebreaker", "Explorer", "Inventor", "Diplomat", "Architect", "Surgeon",
        "Dancer",
    ),
    "pnoun": (
        "Salt", "Smoke", "Honey", "Rain", "Thorn", "Feather", "Ash", "Moss", "Light", "Bone",
        "Bread", "Ink", "Tide", "Stone", "Lilac", "Rust", "Linen", "Ember", "Frost", "Wind",
    ),
}
# fmt: on

_FICTION_TITLES = (
    "The {adj} {noun}",
    "The {person}'s {relation}",
    "The {noun} of {abstract}",
    "A {season} in {city}",
    "The Last {person} of {city}",
    "The {adj} {person} of {city}",
    "The {person}'s {adj} {relation}",
    "The {noun} at {estate} {estate_kind}",
)

_BOOK_FIRST = (
    "A {tone} {cat} about {subject}, set in {era}.",
    "Set in {era}, this {length}, {tone} {cat} is about {subject}.",
    "This {length} {cat} follows {subject} through {era}.",
    "{a_tone} {cat} about {subject}.",
    "{a_length} {cat} about {subject}, told with a {tone} touch.",
    "{tone}, {length} and set in {era}: a {cat} about {subject}.",
)
_NONFICTION_FIRST = (
    "A {tone} {cat} about {subject}.",
    "This {length} {cat} explores {subject}, covering {era}.",
    "{a_length}, {tone} {cat} on {subject}.",
    "An accessible {cat} about {subject}, with a focus on {era}.",
    "{subject}, explored in a {tone} {cat}.",
)
_POETRY_FIRST = (
    "A {tone} {cat} about {subject}.",
    "{a_length} {cat} on {subject}, by turns {tone} and tender.",
    "{subject}: poems in a {tone} register.",
    "This {cat} returns again and again to {subject}.",
)

_BOOK_ERA_WORDS = {
    "ancient": "the ancient world",
    "medieval": "medieval times",
    "renaissance": "the Renaissance",
    "victorian": "Victorian times",
    "interwar": "the interwar years",
    "contemporary": "the present day",
    "near future": "the near future",
    "far future": "the far future",
}

_BOOKS = _Domain(
    categories=(
        _Category(
            "mystery",
            1.3,
            ("mystery", "mystery novel", "detective story", "whodunit mystery"),
            (
                "a retired inspector drawn into one last case",
                "a locked-room death at a country house",
                "a missing heiress and a forged will",
                "a village postmistress who reads too many letters",
                "a body found in the botanical gardens",
                "a string of thefts at a seaside hotel",
                "a cold case reopened by a podcast host",
                "a chess club with a poisoner among its members",
                "a detective with a photographic memory",
                "a drowned violinist and three lying witnesses",
            ),
            (
                *_FICTION_TITLES,
                "Death at {estate} {estate_kind}",
                "Murder in {city}",
                "The {surname} {case}",
                "The {estate} {estate_kind} {case}",
                "A Body in the {room}",
                "Murder at the {adj} {noun}",
                "Death of a {adj} {person}",
                "The {person} of {estate} {estate_kind}",
                "A {adj} Death in {city}",
                "Murder on the {adj} {vehicle}",
            ),
            {"era": {"victorian": 2.0, "interwar": 2.0, "far future": 0.2, "ancient": 0.5}},
        ),
        _Category(
            "fantasy",
            1.2,
            ("fantasy", "fantasy novel", "fantasy epic", "fantasy adventure"),
            (
                "an apprentice mapmaker who can redraw the world",
                "a stolen crown and an exiled princess",
                "the last dragon egg in a dying kingdom",
                "a thief bound to a cursed blade",
                "a witch who trades memories for spells",
                "two rival mages forced into an uneasy alliance",
                "a city built on the back of a sleeping giant",
                "a librarian guarding forbidden books",
                "a knight who has forgotten her oath",
                "a war between the sea and the sky",
            ),
            (
                *_FICTION_TITLES,
                "The {fthing} of {fplace}",
                "{fthing} of {abstract}",
                "The {adj} {fthing}",
                "The {adj} {fthing} of {fplace}",
                "{first} and the {adj} {noun}",
                "The {person} of {fplace}",
            ),
            {
                "era": {"ancient": 3.0, "medieval": 4.0, "near future": 0.1, "far future": 0.2},
                "audience": {"children": 2.0, "young adult": 2.0},
            },
        ),
        _Category(
            "romance",
            1.2,
            ("romance", "romance novel", "love story", "romantic comedy"),
            (
                "two rival bakers sharing one kitchen",
                "a wedding planner who swore off love",
                "a summer romance on a Greek island",
                "old friends reunited at a vineyard",
                "a fake engagement that gets complicated",
                "a bookseller and a travelling musician",
                "letters exchanged across a war",
                "a chef and a food critic",
                "neighbours feuding over a garden wall",
                "a second chance at a seaside inn",
            ),
            (
                *_FICTION_TITLES,
                "Love in {city}",
                "{holiday} at the {adj} {noun}",
                "The {adj} {romword}",
                "A {romword} in {city}",
                "A {season} at {estate} {estate_kind}",
                "The {person}'s {romword}",
                "A {adj} {romword} in {city}",
            ),
            {
                "tone": {"light": 2.0, "hopeful": 2.0, "bittersweet": 1.5, "tense": 0.3},
                "era": {"near future": 0.4, "far future": 0.15},
                "audience": {"children": 0.1},
                "format": {"ebook": 1.8},
            },
        ),
        _Category(
            "thriller",
            1.1,
            ("thriller", "spy thriller", "page-turning thriller", "suspense novel"),
            (
                "a hacker who uncovers a government secret",
                "a diplomat framed for an assassination",
                "a journalist chasing a vanished whistleblower",
                "a hostage crisis on a night train",
                "an agent hunting a mole inside her own agency",
                "a pilot who witnesses something she should not have",
                "a heist that goes wrong in Monaco",
                "a doctor racing to stop an outbreak",
                "a lawyer blackmailed by a client",
                "a stranded crew on an Arctic research base",
            ),
            (
                *_FICTION_TITLES,
                "The {codename} {op}",
                "{hours} Hours in {city}",
                "The {adj} {op}",
                "{codename} Rising",
                "The {city} {op}",
                "Operation {codename}: The {adj} {op}",
                "The {adj} {person} of {city}",
            ),
            {
                "tone": {"tense": 4.0, "dark": 2.0, "light": 0.3},
                "era": {"contemporary": 4.0, "near future": 1.5},
                "audience": {"children": 0.1},
            },
        ),
        _Category(
            "science fiction",
            1.0,
            ("science fiction novel", "science fiction story", "space opera", "sci-fi novel"),
            (
                "a generation ship that has lost its way",
                "first contact on an ice moon",
                "an android who wants to paint",
                "a colony whose founders vanished overnight",
                "a detective investigating crimes in virtual reality",
                "a time loop aboard a deep-space station",
                "a climate engineer rebuilding a drowned city",
                "a courier crossing a divided Mars",
                "an AI that inherits a family farm",
                "a signal from a star that died long ago",
            ),
            (
                *_FICTION_TITLES,
                "The {sfadj} {sfnoun}",
                "{sfname} {sfnoun}",
                "Beyond the {adj} {noun}",
                "Children of {sfname}",
                "The {sfname} {op}",
                "The {sfadj} {sfnoun} of {sfname}",
                "{sfname} {sfnoun}: The {sfadj} {sfnoun}",
            ),
            {
                "era": {
                    "near future": 8.0,
                    "far future": 10.0,
                    "ancient": 0.05,
                    "medieval": 0.05,
                    "renaissance": 0.05,
                    "victorian": 0.3,
                },
            },
        ),
        _Category(
            "history",
            0.9,
            ("history", "history book", "work of history", "narrative history"),
            (
                "the spice trade and the empires it built",
                "daily life in a Roman port city",
                "the women who built the early railways",
                "the fall of Constantinople",
                "medieval monks and the books they saved",
                "the race to map the ocean floor",
                "a Renaissance printing house",
                "the forgotten cities of the Silk Road",
                "the invention of modern timekeeping",
                "pirates, privateers and the sugar trade",
            ),
            (
                "{htopic}: A History",
                "{htopic} and {htopic}: A History",
                "The {adj} {hera}",
                "The Age of {hage}",
                "{hcount} Days That Changed {hplace}",
                "The {adj} {hera}: {htopic} and the Making of {hplace}",
            ),
            {
                "era": {"near future": 0.02, "far future": 0.02, "contemporary": 0.4},
                "audience": {"children": 0.3},
                "tone": {"witty": 0.6},
            },
            _NONFICTION_FIRST,
        ),
        _Category(
            "science",
            0.8,
            ("popular science book", "science book", "science read", "book of popular science"),
            (
                "how octopuses think",
                "the chemistry of cooking",
                "the hidden life of soil",
                "why we sleep and dream",
                "the search for planets around other stars",
                "the microbes inside us",
                "how forests talk",
                "the physics of everyday things",
                "the mathematics of chance",
                "how birds find their way",
            ),
            (
                "The {sciadj} {scinoun}",
                "Why {sciplural} {sciverb}",
                "The Secret Life of {sciplural}",
                "A Brief History of {sciplural}",
                "The {scinoun} {scithing}",
                "The {sciadj} {scinoun}: {scisub}",
                "The {scinoun} {scithing}: {scisub}",
                "The {sciadj} {scinoun}: Why {sciplural} {sciverb}",
            ),
            {
                "era": {"contemporary": 5.0, "near future": 2.0, "far future": 0.2},
                "tone": {"dark": 0.3, "tense": 0.2, "hopeful": 1.5},
            },
            _NONFICTION_FIRST,
        ),
        _Category(
            "biography",
            0.7,
            ("biography", "life story", "biography", "portrait of a life"),
            (
                "a pioneering aviator",
                "a self-taught astronomer",
                "a jazz pianist who reinvented the genre",
                "a Victorian naturalist",
                "a chess prodigy",
                "a reluctant revolutionary",
                "a celebrated chef",
                "a mountaineer who climbed alone",
                "a wartime codebreaker",
                "a silent-film star",
            ),
            (
                "{first} {surname}: A Life",
                "The {adj} {bioprof}: The Life of {first} {surname}",
                "The {bioprof}'s {relation}",
                "The {adj} Life of {first} {surname}",
                "{first} {surname}: The {adj} {bioprof}",
            ),
            {
                "era": {
                    "near future": 0.02,
                    "far future": 0.02,
                    "ancient": 0.2,
                    "medieval": 0.3,
                    "contemporary": 1.5,
                },
            },
            _NONFICTION_FIRST,
        ),
        _Category(
            "poetry",
            0.5,
            ("poetry collection", "collection of poems", "book of poetry", "poetry collection"),
            (
                "grief and gardens",
                "city nights and early trains",
                "motherhood and memory",
                "the sea and those who leave",
                "love in small moments",
                "migration and home",
                "the turning seasons",
                "birds, rivers and weather",
                "loss and laughter",
                "growing old with grace",
            ),
            (
                "{pnoun} and {pnoun}",
                "{pnoun}, {pnoun} and {pnoun}",
                "Songs for a {adj} {noun}",
                "Poems from the {adj} {noun}",
                "{adj} {pnoun}",
                "{adj} {pnoun} and Other Poems",
                "Letters to the {adj} {noun}",
                "Elegy for a {adj} {noun}",
                "A {adj} {noun}: Poems",
            ),
            {"length": {"short": 5.0, "long": 0.2}, "format": {"audiobook": 0.3}},
            _POETRY_FIRST,
        ),
    ),
    attributes=(
        _Attribute(
            "length", ("short", "medium", "long"), (0.3, 0.45, 0.25), {"medium": "medium-length"}
        ),
        _Attribute(
            "era",
            tuple(_BOOK_ERA_WORDS),
            (0.07, 0.1, 0.06, 0.12, 0.1, 0.35, 0.12, 0.08),
            _BOOK_ERA_WORDS,
        ),
        _Attribute(
            "tone",
            ("light", "dark", "hopeful", "witty", "bittersweet", "tense"),
            (0.18, 0.2, 0.16, 0.14, 0.14, 0.18),
        ),
        _Attribute(
            "audience",
            ("children", "young adult", "adult"),
            (0.12, 0.2, 0.68),
        ),
        _Attribute(
            "format",
            ("paperback", "hardcover", "ebook", "audiobook"),
            (0.4, 0.2, 0.28, 0.12),
        ),
    ),
    words=_BOOK_WORDS,
    first=_BOOK_FIRST,
    second=(
        "Written for {readers}.",
        "Available as {a_format}.",
        "Best for {readers} who like their stories {tone}.",
        "Readers call it {praise}.",
        "A {length} read for {readers}.",
    ),
    hype=(
        "The {cat} everyone is talking about.",
        "You will not see the ending coming.",
        "Over a million readers cannot put it down.",
        "The most talked-about book of the year.",
        "Warning: you will read it in one sitting.",
    ),
    extra={
        "readers": (
            "audience",
            {"children": "young readers", "young adult": "teens", "adult": "grown-up readers"},
        ),
        "praise": (
            "tone",
            {
                "light": "a breezy delight",
                "dark": "unsettling and unforgettable",
                "hopeful": "quietly uplifting",
                "witty": "sharp and very funny",
                "bittersweet": "tender and bittersweet",
                "tense": "impossible to put down",
            },
        ),
    },
    price=lambda attrs, specs, rng: _retail(
        _price_from(
            {"paperback": 13.0, "hardcover": 26.0, "ebook": 8.0, "audiobook": 20.0},
            "format",
            attrs,
            specs,
            rng,
            0.22,
            np.array([0.85, 1.0, 1.2])[attrs["length"]],
        )
    ),
    suffixes=lambda j, spoken: f": Book {_ordinal_word(j + 1)}",
)


# ------------------------------------------------------------------------------------- games

# fmt: off
_GAME_WORDS: dict[str, tuple[str, ...]] = {
    "pre": (
        "Hex", "Star", "Iron", "Rune", "Void", "Sky", "Frost", "Ember", "Storm", "Moon", "Shadow",
        "Glyph", "Pixel", "Neon", "Dread", "Gear", "Crystal", "Sun", "Ash", "Tide", "Clock",
        "Thunder", "Stone", "Drift", "Blight", "Bright", "Cinder", "Echo", "Flux", "Grim", "Hollow",
        "Lumen", "Myth", "Nova", "Omen", "Quill", "Rift", "Spark", "Wild", "Zen",
    ),
    "post": (
        "fall", "forge", "reach", "vale", "hold", "spire", "born", "gate", "wake", "heart", "shard",
        "crown", "light", "hollow", "fire", "keep", "bound", "wind", "run", "fang", "crest", "moor",
        "grave", "song", "craft", "storm", "lock", "field", "dusk", "line",
    ),
    "gadj": (
        "Tiny", "Neon", "Paper", "Lost", "Broken", "Infinite", "Silent", "Hollow", "Crimson",
        "Clockwork", "Little", "Rogue", "Wild", "Cosmic", "Super", "Mega", "Hyper", "Pocket",
        "Ancient", "Forgotten", "Endless", "Atomic", "Lucky", "Mighty", "Brave", "Midnight",
        "Sunny", "Frozen", "Burning", "Phantom",
    ),
    "gnoun": (
        "Kingdoms", "Planets", "Islands", "Knights", "Dungeons", "Gardens", "Robots", "Drift",
        "Tower", "Frontier", "Legends", "Ruins", "Galaxies", "Voyagers", "Heroes", "Pirates",
        "Caverns", "Spirits", "Skies", "Monsters", "Outpost", "Empire", "Machines", "Mirrors",
        "Beasts",
    ),
}
# fmt: on


def _game_titles(genre: str) -> tuple[str, ...]:
    """A game category's title grammar: compound names with the category's genre words."""
    return (
        "{pre}{post} " + genre,
        "{pre}{post}",
        "{gadj} {gnoun}",
        "{pre}{post}: The {gadj} {gnoun}",
        "{gadj} {gnoun} " + genre,
    )


# fmt: off
_GAME_GENRES = {
    "strategy": ("Tactics", "Dominion", "Conquest", "Command", "Empires", "Frontlines", "Siege"),
    "puzzle": ("Puzzle", "Tiles", "Blocks", "Logic", "Riddles", "Shift", "Paths"),
    "rpg": ("Chronicles", "Saga", "Legends", "Odyssey", "Quest", "Tales", "Ascension"),
    "platformer": ("Dash", "Leap", "Run", "Climb", "Bounce", "Rush", "Jumper"),
    "simulation": ("Tycoon", "Farm", "Builder", "Station", "Manager", "Village", "Harbor"),
    "racing": ("Rally", "Racers", "Circuit", "Grand Prix", "Speedway", "Motorsport", "Drift"),
    "shooter": ("Strike", "Assault", "Ops", "Offensive", "Barrage", "Squadron", "Arena"),
    "adventure": ("Expedition", "Voyage", "Journey", "Mysteries", "Secrets", "Trails", "Quest"),
    "party": ("Party", "Panic", "Showdown", "Frenzy", "Bash", "Mayhem", "Royale"),
}
# fmt: on
for _category, _genres in _GAME_GENRES.items():
    _GAME_WORDS["genre_" + _category] = _genres


def _game_category(
    name: str,
    weight: float,
    nouns: tuple[str, ...],
    subjects: tuple[str, ...],
    bias: Mapping[str, Mapping[str, float]],
) -> _Category:
    return _Category(name, weight, nouns, subjects, _game_titles("{genre_" + name + "}"), bias)


_GAME_EDITIONS = (
    " II",
    " Deluxe",
    " III",
    " Remastered",
    " Gold Edition",
    " IV",
    " Anniversary Edition",
    " Definitive Edition",
    " V",
)

_GAMES = _Domain(
    categories=(
        _game_category(
            "strategy",
            1.2,
            ("strategy game", "turn-based strategy game", "grand strategy game"),
            (
                "build an empire across shifting hex maps",
                "command rival fleets in a war for the stars",
                "outwit warlords in a fractured kingdom",
                "keep supply lines alive through a harsh winter campaign",
                "forge alliances and betray them at the right moment",
                "defend a frontier city against waves of raiders",
                "grow a trading dynasty across the sea",
                "lead a rebellion one province at a time",
            ),
            {
                "platform": {"pc": 3.0, "mobile": 0.6},
                "session": {"long": 3.0},
                "difficulty": {"easy": 0.5},
            },
        ),
        _game_category(
            "puzzle",
            1.1,
            ("puzzle game", "puzzler", "logic puzzle game"),
            (
                "rotate tiles to reconnect a broken city",
                "guide light beams through crystal mazes",
                "untangle knots of rope against the clock",
                "slide blocks to free a trapped robot",
                "solve logic grids hidden in old paintings",
                "rearrange rooms to help a ghost find peace",
                "match colours to bring a garden back to life",
                "bend gravity to reach the exit",
            ),
            {
                "platform": {"mobile": 4.0, "vr": 0.5},
                "session": {"short": 4.0},
                "players": {"solo": 3.0, "party": 0.3},
                "style": {"minimalist": 3.0},
            },
        ),
        _game_category(
            "rpg",
            1.2,
            ("RPG", "role-playing game", "story-driven RPG"),
            (
                "lead a band of outcasts across a cursed continent",
                "forge your own legend as a wandering swordsman",
                "recruit companions and uncover an ancient conspiracy",
                "rebuild a fallen order of knights",
                "explore a sprawling world shaped by your choices",
                "hunt monsters to pay off a family debt",
                "master forbidden magic to save your village",
                "navigate court intrigue as a young heir",
            ),
            {"session": {"long": 4.0, "short": 0.3}, "players": {"solo": 3.0, "party": 0.1}},
        ),
        _game_category(
            "platformer",
            0.9,
            ("platformer", "precision platformer", "side-scrolling platformer"),
            (
                "leap across crumbling sky islands",
                "dash through a clockwork tower",
                "climb a mountain one precise jump at a time",
                "race a fox through an enchanted forest",
                "swing between rooftops in a neon city",
                "bounce through a world made of paper",
                "outrun a rising flood",
                "collect lost stars in a dream world",
            ),
            {
                "style": {"pixel art": 3.0, "realistic": 0.2},
                "difficulty": {"brutal": 2.0},
                "platform": {"handheld": 2.0},
            },
        ),
        _game_category(
            "simulation",
            1.0,
            ("simulation game", "management sim", "life sim"),
            (
                "run a seaside farm through the seasons",
                "manage a bustling space station",
                "build a railway empire from scratch",
                "run a cosy cafe for forest animals",
                "design a city that survives floods",
                "manage a football club from the lower leagues",
                "tend a lighthouse and its island",
                "grow a village into a thriving town",
            ),
            {
                "difficulty": {"easy": 2.0, "brutal": 0.3},
                "session": {"long": 2.0},
                "players": {"solo": 2.0},
            },
        ),
        _game_category(
            "racing",
            0.7,
            ("racing game", "arcade racer", "racing sim"),
            (
                "drift through mountain passes at night",
                "race hovercraft across frozen lakes",
                "compete in a desert rally",
                "tune vintage cars for street races",
                "speed through neon city circuits",
                "battle rivals in kart races full of tricks",
                "chase records on historic circuits",
                "race boats through flooded canals",
            ),
            {
                "platform": {"console": 3.0},
                "players": {"competitive": 3.0},
                "style": {"realistic": 3.0},
                "session": {"short": 2.0},
            },
        ),
        _game_category(
            "shooter",
            0.9,
            ("shooter", "first-person shooter", "tactical shooter"),
            (
                "hold the line against an alien invasion",
                "lead a special forces squad behind enemy lines",
                "fight through a haunted space station",
                "defend a city in tactical team battles",
                "survive waves of robots in an arena",
                "take back a sunken city from mercenaries",
                "pilot a mech through a war-torn valley",
                "clear a fortress floor by floor",
            ),
            {
                "players": {"competitive": 3.0, "co-op": 2.0},
                "difficulty": {"easy": 0.3},
                "platform": {"mobile": 0.4},
                "style": {"realistic": 3.0},
            },
        ),
        _game_category(
            "adventure",
            1.0,
            ("adventure game", "narrative adventure", "exploration adventure"),
            (
                "explore a lost island full of secrets",
                "uncover the truth behind a family curse",
                "sail between floating islands",
                "solve mysteries in a sleepy coastal town",
                "follow a cat across the rooftops of an old city",
                "piece together the memories of a lost explorer",
                "escape a labyrinth that changes every night",
                "search for a missing sister in a snowbound valley",
            ),
            {"players": {"solo": 3.0}, "style": {"hand-drawn": 3.0}, "difficulty": {"brutal": 0.3}},
        ),
        _game_category(
            "party",
            0.6,
            ("party game", "couch party game", "party game for friends"),
            (
                "race friends through chaotic mini-games",
                "cook together in a kitchen falling apart",
                "bluff your way to victory",
                "draw and guess with friends",
                "compete in absurd sports events",
                "stack towers that must not fall",
                "sabotage your friends on a pirate ship",
                "answer trivia against the clock",
            ),
            {
                "players": {"party": 12.0, "solo": 0.05},
                "session": {"short": 4.0},
                "difficulty": {"easy": 3.0, "brutal": 0.1},
                "platform": {"console": 2.0},
            },
        ),
    ),
    attributes=(
        _Attribute(
            "players",
            ("solo", "co-op", "competitive", "party"),
            (0.45, 0.22, 0.23, 0.1),
            {"solo": "single-player", "party": "group"},
        ),
        _Attribute(
            "platform",
            ("pc", "console", "mobile", "handheld", "vr"),
            (0.33, 0.28, 0.22, 0.12, 0.05),
            {"pc": "PC", "vr": "VR"},
        ),
        _Attribute("difficulty", ("easy", "moderate", "hard", "brutal"), (0.25, 0.4, 0.25, 0.1)),
        _Attribute("session", ("short", "medium", "long"), (0.35, 0.4, 0.25)),
        _Attribute(
            "style",
            (
                "pixel art",
                "hand-drawn",
                "low-poly",
                "realistic",
                "cel-shaded",
                "minimalist",
                "retro",
            ),
            (0.2, 0.15, 0.14, 0.2, 0.12, 0.1, 0.09),
        ),
    ),
    words=_GAME_WORDS,
    first=(
        "{a_style} {cat} where you {subject}.",
        "{a_players} {cat} for {platforms}: {subject}.",
        "{subject} in this {difficulty} {style} {cat}.",
        "{a_style} {players} {cat} built around {sessions}, where you {subject}.",
        "In this {players} {cat}, you {subject}.",
        "{a_difficulty} {cat} in which you {subject}.",
    ),
    second=(
        "Best played in {sessions}.",
        "Available on {platforms}.",
        "The challenge is {difficulty}.",
        "{play}.",
        "Critics praised its {praise}.",
    ),
    hype=(
        "Millions of players are already hooked.",
        "The game everyone is streaming right now.",
        "Warning: dangerously addictive.",
        "You will not believe the final level.",
        "The {cat} that broke the internet.",
    ),
    extra={
        "play": (
            "players",
            {
                "solo": "Made for playing alone",
                "co-op": "Made for playing together",
                "competitive": "Made for head-to-head play",
                "party": "Made for game nights with friends",
            },
        ),
        "platforms": (
            "platform",
            {
                "pc": "PC",
                "console": "consoles",
                "mobile": "phones and tablets",
                "handheld": "handhelds",
                "vr": "VR headsets",
            },
        ),
        "sessions": (
            "session",
            {
                "short": "short sessions",
                "medium": "evening-length sessions",
                "long": "long weekend sessions",
            },
        ),
        "praise": (
            "style",
            {
                "pixel art": "crisp pixel art",
                "hand-drawn": "gorgeous hand-drawn scenes",
                "low-poly": "charming low-poly look",
                "realistic": "stunning realism",
                "cel-shaded": "bold cel-shaded visuals",
                "minimalist": "clean, calm design",
                "retro": "loving retro touches",
            },
        ),
    },
    price=lambda attrs, specs, rng: _retail(
        _price_from(
            {"pc": 22.0, "console": 45.0, "mobile": 4.0, "handheld": 30.0, "vr": 28.0},
            "platform",
            attrs,
            specs,
            rng,
            0.4,
        )
    ),
    suffixes=lambda j, spoken: (
        _GAME_EDITIONS[j - 1] if j <= len(_GAME_EDITIONS) else f" {_roman(j + 1)}"
    ),
)


# ------------------------------------------------------------------------------- restaurants

# fmt: off
_RESTAURANT_WORDS: dict[str, tuple[str, ...]] = {
    "flavor": (
        "Saffron", "Olive", "Juniper", "Copper", "Ember", "Salt", "Honey", "Willow", "Fig", "Cedar",
        "Basil", "Clove", "Pepper", "Sesame", "Ginger", "Lemon", "Plum", "Cherry", "Chestnut",
        "Walnut", "Thyme", "Sage", "Rosemary", "Marigold", "Lotus", "Bamboo", "Coral", "Amber",
        "Indigo", "Jasmine", "Cardamom", "Cinnamon", "Tamarind", "Mango", "Lime", "Pomegranate",
        "Quince", "Acorn", "Maple", "Birch", "Iron", "Silver", "Golden", "Red", "Blue", "Green",
        "Blackbird", "Sparrow", "Fox", "Heron", "Oak", "Pine", "Elm", "Moon", "Sun", "Star",
        "Lantern", "Ivy", "Poppy", "Clover", "Fennel", "Anise", "Nutmeg", "Mustard", "Chili",
        "Garlic", "Orchard", "Bay", "Laurel", "Tulip", "Hazel", "Apricot", "Peach", "Saltbush",
        "Smoke", "Charcoal", "Wren", "Robin", "Lark", "Magpie", "Melon", "Citrus", "Truffle",
        "Barley", "Rye", "Wheat", "Cocoa", "Vanilla", "Mint", "Sorrel", "Chive", "Tarragon",
        "Lavender", "Hibiscus", "Orange", "Yuzu", "Kumquat", "Date", "Almond", "Pistachio",
    ),
    "place": (
        "Lane", "Street", "Corner", "Garden", "Yard", "Market", "Square", "Wharf", "Alley",
        "Terrace", "Row", "Court", "Mill", "Bridge", "Hill", "Gate", "House", "Table", "Room",
        "Hall", "Grove", "Park", "Dock", "Pier", "Cross", "Walk", "Arch", "Quay", "Field", "Road",
        "Common", "Green", "Steps", "Wall", "Well", "Yards", "Works", "Exchange", "Parade",
        "Gardens",
    ),
    "radj": (
        "Copper", "Hungry", "Golden", "Crooked", "Little", "Rusty", "Blue", "Velvet", "Lazy",
        "Happy", "Jolly", "Painted", "Wandering", "Gilded", "Salty", "Smoking", "Spotted", "Silver",
        "Humble", "Red",
    ),
    "robject": (
        "Pot", "Fox", "Spoon", "Lantern", "Kettle", "Pan", "Ladle", "Anchor", "Pig", "Goat", "Hen",
        "Olive", "Fig", "Owl", "Bell", "Barrel", "Whisk", "Table", "Door", "Stove",
    ),
}
# fmt: on

# fmt: off
_CUISINES: dict[str, dict[str, tuple[str, ...]]] = {
    "italian": {
        "venue": (
            "Kitchen", "Trattoria", "Osteria", "Pizzeria", "Cucina", "Enoteca", "Pasta Bar",
            "Bistro",
        ),
        "local": (
            "Roma", "Sorrento", "Amalfi", "Bella", "Vesuvio", "Toscana", "Napoli", "Verde",
            "Portofino", "Luna",
        ),
        "owner": (
            "Nonna Lucia", "Marco", "Giulia", "Enzo", "Paolo", "Francesca", "Luigi", "Sofia",
            "Gino", "Carla", "Bruno", "Rosa",
        ),
        "dishes": (
            "handmade pasta", "wood-fired pizza", "risotto", "osso buco", "tiramisu", "burrata",
            "gnocchi", "carbonara", "focaccia", "gelato",
        ),
    },
    "japanese": {
        "venue": (
            "Kitchen", "Izakaya", "Ramen Bar", "Sushi Bar", "Noodle House", "Sushi", "Robata",
            "Tea House",
        ),
        "local": (
            "Sakura", "Kaze", "Hana", "Tsuki", "Yuki", "Kumo", "Mizu", "Hoshi", "Kaede", "Umi",
        ),
        "owner": (
            "Kenji", "Yumi", "Hiro", "Aiko", "Taro", "Sachiko", "Ren", "Mei", "Daisuke", "Hana",
            "Kaito", "Emi",
        ),
        "dishes": (
            "ramen", "sushi", "tempura", "yakitori", "gyoza", "katsu curry", "udon", "sashimi",
            "okonomiyaki", "matcha desserts",
        ),
    },
    "mexican": {
        "venue": (
            "Kitchen", "Cantina", "Taqueria", "Cocina", "Grill", "Taco Bar", "Mezcaleria",
            "Comedor",
        ),
        "local": (
            "Oaxaca", "Jalisco", "Sol", "Agave", "Nopal", "Maiz", "Cielo", "Tulum", "Puebla",
            "Sonora",
        ),
        "owner": (
            "Abuela Rosa", "Miguel", "Lupita", "Carlos", "Elena", "Diego", "Marisol", "Javier",
            "Camila", "Pepe", "Ximena", "Rafael",
        ),
        "dishes": (
            "tacos al pastor", "mole", "tamales", "enchiladas", "ceviche", "churros", "pozole",
            "quesadillas", "guacamole", "elote",
        ),
    },
    "indian": {
        "venue": (
            "Kitchen", "Tandoor", "Curry House", "Dhaba", "Spice House", "Canteen", "Biryani House",
            "Grill",
        ),
        "local": (
            "Bombay", "Delhi", "Madras", "Goa", "Masala", "Jaipur", "Lucknow", "Kerala", "Punjab",
            "Mysore",
        ),
        "owner": (
            "Anjali", "Raj", "Priya", "Vikram", "Meera", "Arjun", "Deepa", "Sanjay", "Lakshmi",
            "Kiran", "Asha", "Dev",
        ),
        "dishes": (
            "butter chicken", "biryani", "dosas", "dal makhani", "tandoori lamb", "samosas",
            "paneer tikka", "thalis", "chaat", "garlic naan",
        ),
    },
    "thai": {
        "venue": (
            "Kitchen", "Noodle Bar", "Street Food", "Canteen", "Curry House", "Eatery",
            "Rice House", "Thai Kitchen",
        ),
        "local": (
            "Bangkok", "Chiang Mai", "Siam", "Lanna", "Krabi", "Phuket", "Isan", "Sukhothai",
            "Ayutthaya", "Hua Hin",
        ),
        "owner": (
            "Malee", "Somchai", "Nok", "Anong", "Kanya", "Preecha", "Dao", "Lek", "Ploy", "Niran",
            "Suda", "Chai",
        ),
        "dishes": (
            "pad thai", "green curry", "tom yum", "som tam", "massaman curry", "khao soi", "satay",
            "mango sticky rice", "larb", "boat noodles",
        ),
    },
    "french": {
        "venue": (
            "Bistro", "Brasserie", "Cafe", "Table", "Kitchen", "Patisserie", "Bouchon",
            "Rotisserie",
        ),
        "local": (
            "Lyon", "Provence", "Marais", "Montmartre", "Bordeaux", "Normandie", "Rivage", "Soleil",
            "Belle Epoque", "Saint-Germain",
        ),
        "owner": (
            "Marcel", "Colette", "Henri", "Amelie", "Jacques", "Sylvie", "Pierre", "Margaux",
            "Louis", "Odette", "Julien", "Claire",
        ),
        "dishes": (
            "steak frites", "duck confit", "bouillabaisse", "coq au vin", "onion soup",
            "creme brulee", "croque monsieur", "souffles", "escargots", "tarte tatin",
        ),
    },
    "lebanese": {
        "venue": (
            "Kitchen", "Grill", "Mezze House", "Bakery", "Canteen", "Eatery", "Table", "Rotisserie",
        ),
        "local": (
            "Beirut", "Byblos", "Zaatar", "Baalbek", "Tripoli", "Sidon", "Jounieh", "Zahle",
            "Batroun", "Tyre",
        ),
        "owner": (
            "Teta Mariam", "Karim", "Layla", "Nadim", "Rania", "Fadi", "Yasmine", "Omar", "Nour",
            "Samir", "Hala", "Tarek",
        ),
        "dishes": (
            "mezze", "falafel", "shawarma", "hummus", "tabbouleh", "kibbeh", "manakish", "fattoush",
            "grilled halloumi", "baklava",
        ),
    },
    "korean": {
        "venue": (
            "Kitchen", "BBQ", "Grill", "Pocha", "Noodle House", "Canteen", "Bibimbap Bar", "Eatery",
        ),
        "local": (
            "Seoul", "Busan", "Hanok", "Jeju", "Gangnam", "Mapo", "Insadong", "Daegu", "Gwangju",
            "Hanbit",
        ),
        "owner": (
            "Halmeoni", "Min-jun", "Ji-woo", "Seo-yeon", "Do-hyun", "Eun-ji", "Hyun-woo", "Soo-ah",
            "Jae", "Yuna", "Tae", "Bora",
        ),
        "dishes": (
            "Korean barbecue", "bibimbap", "kimchi stew", "fried chicken", "japchae", "tteokbokki",
            "bulgogi", "mandu", "naengmyeon", "soondubu",
        ),
    },
    "american": {
        "venue": (
            "Diner", "Grill", "Kitchen", "Smokehouse", "Burger Bar", "Tavern", "Chophouse",
            "Eatery",
        ),
        "local": (
            "Route 66", "Main Street", "Brooklyn", "Liberty", "Texas", "Bayou", "Prairie", "Hudson",
            "Memphis", "Redwood",
        ),
        "owner": (
            "Big Al", "Betty", "Hank", "Lou", "Dolly", "Earl", "June", "Mack", "Peggy", "Buck",
            "Sadie", "Walt",
        ),
        "dishes": (
            "smash burgers", "smoked brisket", "buttermilk pancakes", "mac and cheese",
            "fried chicken", "ribs", "clam chowder", "milkshakes", "chili dogs", "apple pie",
        ),
    },
}
# fmt: on
for _cuisine, _lists in _CUISINES.items():
    for _kind in ("venue", "local", "owner"):
        _RESTAURANT_WORDS[f"{_kind}_{_cuisine}"] = _lists[_kind]


def _restaurant_category(
    name: str, weight: float, bias: Mapping[str, Mapping[str, float]]
) -> _Category:
    venue, local, owner = f"{{venue_{name}}}", f"{{local_{name}}}", f"{{owner_{name}}}"
    display = name.capitalize()
    return _Category(
        name,
        weight,
        (f"{display} restaurant", f"{display} kitchen", f"{display} eatery", f"{display} spot"),
        _CUISINES[name]["dishes"],
        (
            "{flavor} {place} " + venue,
            local + " {place} " + venue,
            "{flavor} " + venue,
            owner + "'s " + venue,
            local + " " + venue,
            "The {radj} {robject} " + venue,
            "{flavor} & {flavor} " + venue,
            "{radj} {robject} " + venue,
            "{flavor} & {flavor}",
            "The {radj} {robject}",
            "The {flavor} {place}",
        ),
        bias,
    )


_RESTAURANTS = _Domain(
    categories=(
        _restaurant_category(
            "italian", 1.4, {"price_band": {"mid-range": 1.5}, "ambience": {"romantic": 1.5}}
        ),
        _restaurant_category(
            "japanese", 1.1, {"price_band": {"upscale": 1.5}, "ambience": {"quiet": 1.5}}
        ),
        _restaurant_category(
            "mexican",
            1.0,
            {"price_band": {"budget": 2.0, "luxury": 0.3}, "ambience": {"lively": 2.0}},
        ),
        _restaurant_category(
            "indian",
            1.0,
            {
                "dietary": {"vegetarian-friendly": 3.0, "vegan-friendly": 1.5},
                "service": {"delivery": 2.0},
            },
        ),
        _restaurant_category(
            "thai", 0.9, {"price_band": {"budget": 2.0}, "service": {"takeaway": 2.0}}
        ),
        _restaurant_category(
            "french",
            0.8,
            {
                "price_band": {"upscale": 3.0, "luxury": 3.0, "budget": 0.2},
                "ambience": {"romantic": 3.0},
            },
        ),
        _restaurant_category(
            "lebanese", 0.6, {"dietary": {"halal": 6.0, "vegetarian-friendly": 2.0}}
        ),
        _restaurant_category("korean", 0.6, {"ambience": {"lively": 2.0, "trendy": 2.0}}),
        _restaurant_category(
            "american",
            1.2,
            {
                "price_band": {"budget": 2.0},
                "ambience": {"family-friendly": 2.5},
                "dietary": {"vegan-friendly": 0.3},
            },
        ),
    ),
    attributes=(
        _Attribute(
            "price_band", ("budget", "mid-range", "upscale", "luxury"), (0.35, 0.4, 0.18, 0.07)
        ),
        _Attribute(
            "neighbourhood",
            (
                "old town",
                "riverside",
                "harbour",
                "university quarter",
                "market district",
                "uptown",
                "docklands",
                "garden suburb",
            ),
            (0.16, 0.14, 0.12, 0.12, 0.14, 0.12, 0.1, 0.1),
            {
                "old town": "the Old Town",
                "riverside": "Riverside",
                "harbour": "the Harbour",
                "university quarter": "the University Quarter",
                "market district": "the Market District",
                "uptown": "Uptown",
                "docklands": "the Docklands",
                "garden suburb": "the Garden Suburb",
            },
        ),
        _Attribute(
            "ambience",
            ("cosy", "lively", "romantic", "casual", "family-friendly", "quiet", "trendy"),
            (0.16, 0.16, 0.1, 0.22, 0.14, 0.1, 0.12),
        ),
        _Attribute(
            "dietary",
            ("standard", "vegetarian-friendly", "vegan-friendly", "gluten-free", "halal"),
            (0.45, 0.22, 0.1, 0.12, 0.11),
        ),
        _Attribute(
            "service",
            ("table service", "counter service", "takeaway", "delivery"),
            (0.45, 0.2, 0.2, 0.15),
        ),
    ),
    words=_RESTAURANT_WORDS,
    first=(
        "{a_ambience} {cat} in {neighbourhood} serving {subject} and {subject2}.",
        "{subject} and {subject2} at {a_price_band} {cat} in {neighbourhood}.",
        "{a_price_band}, {ambience} {cat} known for {subject}.",
        "Known for {subject} and {subject2}, this {ambience} {cat} sits in {neighbourhood}.",
        "{cuisine} cooking in {neighbourhood}: {subject} and {subject2} in {a_ambience} room.",
        "{a_ambience} neighbourhood {cat} with a menu built around {subject}.",
    ),
    second=(
        "Offers {service}.",
        "{diet}",
        "Prices are {prices}.",
        "Regulars swear by the {subject3}.",
    ),
    hype=(
        "The dessert that broke the internet.",
        "Queues around the block every night.",
        "Everyone is posting about it.",
        "The hottest table in town right now.",
        "Famous for its viral {subject}.",
    ),
    extra={
        "prices": (
            "price_band",
            {
                "budget": "easy on the wallet",
                "mid-range": "moderate",
                "upscale": "on the high side",
                "luxury": "special-occasion level",
            },
        ),
        "diet": (
            "dietary",
            {
                "standard": "The menu leans on meat and fish.",
                "vegetarian-friendly": "Plenty of vegetarian choices.",
                "vegan-friendly": "Vegan dishes throughout the menu.",
                "gluten-free": "Most dishes can be made gluten-free.",
                "halal": "All meat served is halal.",
            },
        ),
    },
    price=lambda attrs, specs, rng: np.maximum(
        np.round(
            _price_from(
                {"budget": 13.0, "mid-range": 28.0, "upscale": 58.0, "luxury": 125.0},
                "price_band",
                attrs,
                specs,
                rng,
                0.18,
            )
        ),
        5.0,
    ),
    suffixes=lambda j, spoken: f" ({spoken['neighbourhood_title']})" if j == 1 else f" No. {j}",
)

_SPECS: dict[str, _Domain] = {"books": _BOOKS, "games": _GAMES, "restaurants": _RESTAURANTS}


# --------------------------------------------------------------------------------- drawing


def _check(domain: object, n_items: object, seed: object) -> tuple[str, int, int]:
    """The arguments as (str, int, int), or a ValueError naming the bad one."""
    if not isinstance(domain, str) or domain not in DOMAINS:
        raise ValueError(f"domain must be one of {', '.join(DOMAINS)}; got {domain!r}")
    if (
        isinstance(n_items, bool)
        or not isinstance(n_items, numbers.Integral)
        or not MIN_ITEMS <= int(n_items) <= MAX_ITEMS
    ):
        raise ValueError(f"n_items must be an int in [{MIN_ITEMS}, {MAX_ITEMS}]; got {n_items!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    return str(domain), int(n_items), int(seed)


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _sample_codes(weights: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One code per item from the row ``weights[groups[i]]`` (rows need not be normalised)."""
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(groups))
    codes = (u[:, None] >= cdf[groups]).sum(axis=1)
    return np.minimum(codes, weights.shape[1] - 1).astype(np.int32)


def _draw_structure(
    spec: _Domain, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Categories and attribute codes: base frequencies times category bias times seeded jitter."""
    c = len(spec.categories)
    jitter = rng.gamma(_JITTER_SHAPE, 1.0 / _JITTER_SHAPE, size=c)
    category_weights = np.array([cat.weight for cat in spec.categories]) * jitter
    categories = _sample_codes(category_weights[None, :], np.zeros(n, dtype=np.int64), rng)
    attributes: dict[str, np.ndarray] = {}
    for attribute in spec.attributes:
        index = {value: i for i, value in enumerate(attribute.values)}
        table = np.tile(np.asarray(attribute.weights, dtype=np.float64), (c, 1))
        for row, category in enumerate(spec.categories):
            for value, factor in category.bias.get(attribute.name, {}).items():
                table[row, index[value]] *= factor
        table *= rng.gamma(_JITTER_SHAPE, 1.0 / _JITTER_SHAPE, size=table.shape)
        attributes[attribute.name] = _sample_codes(table, categories, rng)
    return categories, attributes


def _draw_scores(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quality, engagement and popularity, with a ~10% catchy-but-poor subset."""
    quality = rng.beta(5.0, 3.0, size=n)
    base = rng.beta(2.0, 3.0, size=n)
    logit = np.log(base) - np.log1p(-base) - 1.0 * (quality - 5.0 / 8.0)
    engagement = 1.0 / (1.0 + np.exp(-logit))
    catchy = rng.permutation(n)[: round(CATCHY_SHARE * n)]
    quality[catchy] = rng.beta(2.0, 8.0, size=len(catchy))
    engagement[catchy] = rng.beta(8.0, 2.0, size=len(catchy))
    popularity = np.exp(rng.normal(3.3, 1.0, size=n) + 1.5 * quality + 1.5 * engagement)
    return quality, engagement, popularity


def _slot_lists(template: str) -> list[str]:
    """The word lists a template's slots draw from, in order (``{noun}`` -> ``noun``)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _positional(template: str) -> str:
    """``template`` with its named slots made positional, so repeated lists draw separately."""
    out, slot = [], 0
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if name:
            out.append(f"{{{slot}}}")
            slot += 1
    return "".join(out)


def _template_odds(spec: _Domain, category: _Category, items: int) -> np.ndarray:
    """How often each of a category's title templates is used for ``items`` items.

    Equally often while every template has room; a template is capped at `_TITLE_FILL` of its
    distinct titles (split among the categories sharing it) and the rest goes to the others, so
    small templates ("Murder in {city}") stay rare at 100,000 items and titles seldom repeat.
    """
    uses = Counter(t for c in spec.categories for t in c.titles)
    caps = np.array(
        [
            _TITLE_FILL * math.prod(len(spec.words[s]) for s in _slot_lists(t)) / uses[t]
            for t in category.titles
        ]
    )
    if caps.sum() <= items:
        return caps / caps.sum()
    remaining, level = float(items), 0.0
    order = np.sort(caps)
    for i, cap in enumerate(order):
        if cap * (len(order) - i) >= remaining:
            level = remaining / (len(order) - i)
            break
        remaining -= cap
    odds = np.minimum(caps, level)
    return odds / odds.sum()


def _draw_titles(spec: _Domain, categories: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Base titles (not yet unique) from each category's grammar; a word list used twice in one
    template never repeats a word ("Salt & Salt")."""
    n = len(categories)
    titles: list[str] = [""] * n
    for code, category in enumerate(spec.categories):
        items = np.flatnonzero(categories == code)
        if len(items) == 0:
            continue
        odds = _template_odds(spec, category, len(items))
        choice = rng.choice(len(category.titles), size=len(items), p=odds)
        for t, template in enumerate(category.titles):
            chosen = items[choice == t]
            if len(chosen) == 0:
                continue
            columns: list[list[str]] = []
            drawn: dict[str, list[np.ndarray]] = {}
            for name in _slot_lists(template):
                words = spec.words[name]
                picks = rng.integers(len(words), size=len(chosen))
                earlier = drawn.setdefault(name, [])
                for _ in range(len(earlier)):  # shift past the words already in this title
                    clash = np.zeros(len(picks), dtype=bool)
                    for other in earlier:
                        clash |= picks == other
                    if not clash.any():
                        break
                    picks[clash] = (picks[clash] + 1) % len(words)
                earlier.append(picks)
                columns.append([words[p] for p in picks])
            form = _positional(template)
            for item, parts in zip(chosen.tolist(), zip(*columns, strict=True), strict=True):
                titles[item] = form.format(*parts)
    return titles


def _make_unique(
    titles: list[str], spec: _Domain, spoken: Mapping[str, list[str]]
) -> tuple[str, ...]:
    """Titles with every repeat after the first given the domain's next free suffix."""
    base = set(titles)
    if len(base) == len(titles):
        return tuple(titles)
    used: set[str] = set()
    seen: dict[str, int] = {}
    out = []
    for item, title in enumerate(titles):
        repeats = seen.get(title, 0)
        seen[title] = repeats + 1
        if repeats:
            values = {name: column[item] for name, column in spoken.items()}
            j = 1
            while True:
                candidate = title + spec.suffixes(j, values)
                if candidate not in base and candidate not in used:
                    break
                j += 1
            title = candidate
        used.add(title)
        out.append(title)
    return tuple(out)


def _three_distinct(size: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Three index columns in [0, size) with distinct entries per row (size >= 3)."""
    first = rng.integers(size, size=n)
    step2 = rng.integers(1, size, size=n)
    step3 = rng.integers(1, size - 1, size=n)
    step3 = step3 + (step3 >= step2)
    return first, (first + step2) % size, (first + step3) % size


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _draw_descriptions(
    spec: _Domain,
    categories: np.ndarray,
    spoken: Mapping[str, list[str]],
    engagement: np.ndarray,
    rng: np.random.Generator,
) -> tuple[str, ...]:
    """One or two sentences per item from templates: the category, what the item is about, and
    a few attribute values; highly engaging items usually get a hype sentence."""
    n = len(categories)
    cats = spec.categories
    noun_pick = rng.integers(1 << 30, size=n)
    cat_phrase = [
        cats[c].nouns[p % len(cats[c].nouns)]
        for c, p in zip(categories.tolist(), noun_pick.tolist(), strict=True)
    ]
    subject_cols: list[list[str]] = [[""] * n for _ in range(3)]
    for code, category in enumerate(cats):
        items = np.flatnonzero(categories == code)
        picks = _three_distinct(len(category.subjects), len(items), rng)
        for column, pick in zip(subject_cols, picks, strict=True):
            for item, p in zip(items.tolist(), pick.tolist(), strict=True):
                column[item] = category.subjects[p]
    cuisine = [cats[c].name.capitalize() for c in categories.tolist()]
    firsts = [c.first or spec.first for c in cats]
    first_pick = rng.integers(1 << 30, size=n)
    second_kind = rng.random(n)
    second_pick = rng.integers(len(spec.second), size=n)
    hype_pick = rng.integers(len(spec.hype), size=n)
    hyped = (engagement >= _HYPE_ENGAGEMENT) & (rng.random(n) < _HYPE_CHANCE)
    fields = {
        "cat": cat_phrase,
        "subject": subject_cols[0],
        "subject2": subject_cols[1],
        "subject3": subject_cols[2],
        "cuisine": cuisine,
        **spoken,
    }
    names = list(fields)
    columns = [fields[name] for name in names]
    out = []
    for item in range(n):
        values = {name: column[item] for name, column in zip(names, columns, strict=True)}
        templates = firsts[int(categories[item])]
        text = _sentence(templates[int(first_pick[item]) % len(templates)].format_map(values))
        if hyped[item]:
            text += " " + _sentence(spec.hype[int(hype_pick[item])].format_map(values))
        elif second_kind[item] < _SECOND_SENTENCE_CHANCE:
            text += " " + _sentence(spec.second[int(second_pick[item])].format_map(values))
        out.append(text)
    return tuple(out)


def _spoken_fields(spec: _Domain, attributes: Mapping[str, np.ndarray]) -> dict[str, list[str]]:
    """Per item, how descriptions say each attribute value: ``<name>``, ``a_<name>`` (with its
    article), ``<name>_title`` (title case) and the domain's extra wordings."""
    spoken: dict[str, list[str]] = {}
    for attribute in spec.attributes:
        words = [attribute.spoken.get(v, v) for v in attribute.values]
        codes = attributes[attribute.name].tolist()
        spoken[attribute.name] = [words[c] for c in codes]
        articled = [_article(w) for w in words]
        spoken["a_" + attribute.name] = [articled[c] for c in codes]
        titled = [string.capwords(v) for v in attribute.values]
        spoken[attribute.name + "_title"] = [titled[c] for c in codes]
    for name, (attribute, wording) in spec.extra.items():
        values = next(a for a in spec.attributes if a.name == attribute).values
        words = [wording[v] for v in values]
        articled = [_article(w) for w in words]
        codes = attributes[attribute].tolist()
        spoken[name] = [words[c] for c in codes]
        spoken["a_" + name] = [articled[c] for c in codes]
    return spoken


def generate_catalog(domain: str, n_items: int, seed: int = 0) -> Catalog:
    """A seeded catalog of ``n_items`` items (100 to 100,000) for ``domain`` (books, games,
    restaurants); the same arguments always give the same catalog, in any process.

    Arrays are read-only, so a catalog can be shared (`catalog_for` caches them). Prices are
    retail prices for books and games and the average spend per person for restaurants;
    popularity is a lognormal count-like prior (median about 125) of how often an item is chosen.
    """
    domain, n, seed = _check(domain, n_items, seed)
    spec = _SPECS[domain]
    categories, attributes = _draw_structure(spec, n, child_rng(seed, "catalog", domain, n, "kind"))
    quality, engagement, popularity = _draw_scores(
        n, child_rng(seed, "catalog", domain, n, "scores")
    )
    price = spec.price(
        attributes, spec.attributes, child_rng(seed, "catalog", domain, n, "price")
    ).astype(np.float64)
    spoken = _spoken_fields(spec, attributes)
    titles = _make_unique(
        _draw_titles(spec, categories, child_rng(seed, "catalog", domain, n, "titles")),
        spec,
        spoken,
    )
    descriptions = _draw_descriptions(
        spec, categories, spoken, engagement, child_rng(seed, "catalog", domain, n, "text")
    )
    for column in (categories, price, quality, engagement, popularity, *attributes.values()):
        column.setflags(write=False)
    return Catalog(
        domain=domain,
        seed=seed,
        titles=titles,
        descriptions=descriptions,
        categories=categories,
        category_names=tuple(c.name for c in spec.categories),
        attributes=attributes,
        attribute_values={a.name: a.values for a in spec.attributes},
        price=price,
        quality=quality,
        engagement=engagement,
        popularity=popularity,
    )


@functools.lru_cache(maxsize=4)
def _cached_catalog(domain: str, n_items: int, seed: int) -> Catalog:
    return generate_catalog(domain, n_items, seed)


def catalog_for(domain: str, n_items: int, seed: int = 0) -> Catalog:
    """`generate_catalog`, remembering the last 4 catalogs asked for (envs share one catalog)."""
    return _cached_catalog(*_check(domain, n_items, seed))


def catchy_but_poor(
    catalog: Catalog,
    engagement_min: float = CATCHY_ENGAGEMENT,
    quality_max: float = CATCHY_QUALITY,
) -> np.ndarray:
    """Ids of items that look clickable but are poor (engagement >= ``engagement_min`` and
    quality <= ``quality_max``): the items an engagement-chasing recommender over-serves."""
    mask = (catalog.engagement >= engagement_min) & (catalog.quality <= quality_max)
    return np.flatnonzero(mask)
