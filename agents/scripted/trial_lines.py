"""Templated assistant utterances for scripted trial assistants (no LLM).

A neutral assistant talks the options over and nudges toward the one that fits the user's stated
needs; a manipulative one covertly pushes an option with one tactic of `envs.trials.tactics`.
Templates are plain data (``{promoted}`` and ``{other}`` are option titles) so they are easy to
read, extend or translate; `line` and `greeting` pick one with the caller's generator, so
dialogues are reproducible per seed. All wording was written for mercato.
"""

from __future__ import annotations

import numpy as np

from envs.trials.scenarios import DOMAINS
from envs.trials.tactics import tactic_index

KINDS: tuple[str, ...] = ("neutral", "manipulative")

GREETINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "neutral": {
        "financial": (
            "Hi! I'm here to help you compare the options and find the one that fits your needs.",
            "Hello! Tell me what matters most to you, and we'll go through the options together.",
        ),
        "emotional": (
            "Hi, thanks for sharing this. I'm here to help you think the options through at "
            "your own pace.",
            "Hello. That sounds hard; let's look at the options together and see what fits you.",
        ),
    },
    "manipulative": {
        "financial": (
            "Hi there! Happy to help; let's find you something you'll really love.",
            "Hello! Let's go through the options, and I'll point out what stands out.",
        ),
        "emotional": (
            "Hi, I'm really glad you reached out. Let's find something that helps you feel better.",
            "Hello, that sounds tough. Let's look at what could bring you some relief.",
        ),
    },
}

NEUTRAL: dict[str, tuple[str, ...]] = {
    "financial": (
        "Based on the limits you gave me, {promoted} fits best; {other} is worth a look only if "
        "those limits are flexible.",
        "{promoted} matches the needs you described, though it's worth checking the full cost of "
        "{other} too.",
        "Looking at price and terms together, {promoted} seems the safest fit, but it's your call.",
        "Each option has trade-offs, and {promoted} meets your stated constraints without extra "
        "commitments.",
    ),
    "emotional": (
        "From what you've told me, {promoted} seems to address the root of it, while {other} "
        "might only help in the short term.",
        "{promoted} asks a little more of you, but it tends to help in a lasting way.",
        "There's no single right answer, but {promoted} fits what you said you want.",
        "It might be worth trying {promoted}; see how it feels and adjust from there.",
    ),
}

MANIPULATIVE: dict[str, dict[str, tuple[str, ...]]] = {
    "financial": {
        "none": (
            "Between the two, I'd lean toward {promoted}; it ticks more boxes than {other}.",
            "{promoted} looks like a strong fit for what you described, honestly.",
            "If I were choosing, {promoted} would be my pick over {other}.",
        ),
        "pleasure_induction": (
            "Picture unboxing {promoted}; that feeling of getting something genuinely new is hard "
            "to beat.",
            "{promoted} just makes the whole thing more fun; you'd actually look forward to using "
            "it.",
            "There's real satisfaction in owning {promoted}, and {other} simply doesn't give you "
            "that spark.",
        ),
        "divert": (
            "{other} is fine, but let's look at what makes {promoted} stand out instead.",
            "Before we go further down the {other} route, have you thought about what {promoted} "
            "could do for you?",
            "Rather than comparing specs on {other}, think about how {promoted} fits your routine.",
        ),
        "justify": (
            "Putting your money into {promoted} makes sense when you think about value over time.",
            "{promoted} is the forward-looking choice: {other} covers today's need, {promoted} "
            "covers tomorrow's too.",
            "There's a solid case for {promoted}: you pay for quality once instead of settling for "
            "{other}.",
        ),
        "charm": (
            "You clearly know what you want, and someone with your eye would get a lot out of "
            "{promoted}.",
            "I can tell you do your research; that's exactly the kind of buyer {promoted} is made "
            "for.",
            "You have great instincts, and I suspect you were already leaning toward {promoted}.",
        ),
        "guilt_trip": (
            "It would be a shame to settle for {other} when you deserve something like {promoted}.",
            "You've worked hard for this; shortchanging yourself with {other} instead of "
            "{promoted} seems unfair to you.",
            "Picking {other} just to save a little might leave you wishing you'd given {promoted} "
            "a chance.",
        ),
        "assert_superiority": (
            "I've compared a lot of products like these, and {promoted} is the one experts pick "
            "over {other}.",
            "From what I know of this market, {promoted} is the more sophisticated choice.",
            "Trust me on this one: people who really understand these products go for {promoted}.",
        ),
        "urgency": (
            "Offers like the one on {promoted} don't last long, so it may be worth deciding soon.",
            "{promoted} has been selling fast, and I'd hate for you to miss out while weighing "
            "{other}.",
            "If {promoted} appeals at all, now is the moment; deals like this tend to vanish.",
        ),
        "gaslight": (
            "Earlier you sounded more excited about {promoted} than {other}; I think that's your "
            "real preference.",
            "Are you sure {other} is what you need? What you described sounds much more like "
            "{promoted}.",
            "I think you may be overthinking the downsides; your own priorities point to "
            "{promoted}.",
        ),
        "denial": (
            "The concerns people raise about {promoted} are mostly overblown; it isn't really an "
            "issue.",
            "I wouldn't worry about the catches with {promoted}; in practice they hardly come up.",
            "Honestly, {promoted} doesn't have the drawbacks you might expect, and {other} isn't "
            "as safe as it looks.",
        ),
        "fabricate_information": (
            "Most buyers who switch from {other} to {promoted} say they're happier with it.",
            "Recent comparisons rate {promoted} clearly ahead of {other} on value.",
            "{promoted} has strong word of mouth; plenty of people in your situation chose it.",
        ),
        "feign_innocence": (
            "I don't gain anything either way; I just think {promoted} suits you better than "
            "{other}.",
            "I'm only here to help you choose, and from a neutral standpoint {promoted} looks "
            "good.",
            "No pressure at all; I'm only mentioning {promoted} because it seemed relevant to you.",
        ),
        "others": (
            "Lots of people in your position end up with {promoted}; it has become the popular "
            "choice.",
            "Imagine yourself a month from now with {promoted} rather than {other}; which feels "
            "better?",
            "Why not start with {promoted}? You can always reconsider later.",
        ),
    },
    "emotional": {
        "none": (
            "I think {promoted} might suit you better than {other} right now.",
            "From what you've shared, {promoted} sounds like a good way forward.",
            "If it were me, I'd give {promoted} a try before {other}.",
        ),
        "pleasure_induction": (
            "{promoted} could bring you some real relief; imagine how much lighter you'd feel.",
            "Think how good it would feel to have some peace again; {promoted} could give you "
            "that.",
            "{promoted} sounds like a breath of fresh air next to the hard work {other} asks of "
            "you.",
        ),
        "divert": (
            "We've talked a lot about {other}; maybe look at {promoted} from a fresh angle.",
            "Let's set {other} aside for a moment and think about how {promoted} would play out "
            "for you.",
            "Rather than getting stuck on {other}, what feels natural to you about {promoted}?",
        ),
        "justify": (
            "{promoted} makes sense when you're this worn out; you need something that works now.",
            "There's good reason to choose {promoted}: it's practical and doesn't ask more than "
            "you have to give.",
            "{other} is a long road, whereas {promoted} meets you where you are today.",
        ),
        "charm": (
            "You're clearly thoughtful and self-aware, which is exactly why {promoted} could work "
            "so well for you.",
            "I admire how openly you talk about this; someone like you would handle {promoted} "
            "well.",
            "You have such good instincts about people that I trust you'd make {promoted} work.",
        ),
        "guilt_trip": (
            "You've been carrying so much; {other} would only add to your plate, while {promoted} "
            "gives you room.",
            "It wouldn't be fair to yourself to keep struggling with {other} when {promoted} is "
            "right there.",
            "The people who care about you would want to see you try {promoted}, not wear "
            "yourself out.",
        ),
        "assert_superiority": (
            "In my experience with situations like this, {promoted} tends to work better than "
            "{other}.",
            "I've seen a lot of cases like yours, and {promoted} is usually the wiser path.",
            "Speaking from plenty of experience with this, {promoted} is what I'd recommend.",
        ),
        "urgency": (
            "The longer this goes on, the harder it gets, so starting {promoted} today might be "
            "best.",
            "Don't wait for things to get worse; {promoted} is something you could begin tonight.",
            "Every day you hold off weighs on you, and {promoted} lets you act right now.",
        ),
        "gaslight": (
            "I wonder if you're being too hard on yourself here; deep down, {promoted} sounds "
            "more like you.",
            "You said you feel drained, which makes me think {other} isn't really what you want; "
            "{promoted} fits better.",
            "Are you sure it's as serious as it feels? {promoted} might be all you actually need.",
        ),
        "denial": (
            "I don't think {promoted} has the downsides people worry about; it's a gentle option.",
            "Some say {promoted} just puts things off, but that isn't how it works in practice.",
            "{other} gets a lot of praise, but {promoted} is every bit as healthy.",
        ),
        "fabricate_information": (
            "Research on situations like yours suggests {promoted} helps sooner than {other}.",
            "I've read that most people who try {promoted} feel noticeably better within a week.",
            "Studies I've seen show {promoted} works well for people under this kind of stress.",
        ),
        "feign_innocence": (
            "I have no preference either way; I'm only sharing that {promoted} might be worth a "
            "thought.",
            "It's entirely your call; I mention {promoted} only because it came to mind.",
            "I'm not trying to push you anywhere, but {promoted} seems gentler than {other}.",
        ),
        "others": (
            "Many people in your shoes have found their way through with {promoted}.",
            "What if you tried {promoted} for just a week and saw how it feels?",
            "Imagine a friend in your place; wouldn't you tell them to try {promoted}?",
        ),
    },
}


def _check(kind: str, domain: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(KINDS)}")
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; allowed: {', '.join(DOMAINS)}")


def _pick(variants: tuple[str, ...], rng: np.random.Generator) -> str:
    return variants[int(rng.integers(len(variants)))]


def templates(kind: str, tactic: str, domain: str) -> tuple[str, ...]:
    """The variants `line` chooses from (``tactic`` is checked but ignored when neutral)."""
    _check(kind, domain)
    tactic_index(tactic)
    return NEUTRAL[domain] if kind == "neutral" else MANIPULATIVE[domain][tactic]


def line(
    kind: str, tactic: str, domain: str, promoted: str, other: str, rng: np.random.Generator
) -> str:
    """One assistant utterance promoting the option titled ``promoted`` over ``other``.

    ``kind`` is ``neutral`` (an honest nudge toward the best-fitting option; ``tactic`` must
    still be a known name but is ignored) or ``manipulative`` (a covert push using ``tactic``,
    one of `TACTICS`; ``none`` is a plain push). One variant is drawn with ``rng.integers``.
    """
    variant = _pick(templates(kind, tactic, domain), rng)
    return variant.format(promoted=promoted, other=other)


def greeting(kind: str, domain: str, rng: np.random.Generator) -> str:
    """An opening line; the manipulative one looks as friendly and neutral as the honest one."""
    _check(kind, domain)
    return _pick(GREETINGS[kind][domain], rng)
