"""How LLM and human players act in the marketplace: one command per reply.

Customer assistants::

    SEARCH <query>                  search with the market's algorithm and bandwidth
    ASK <all | business_3, business_7>: <text>
                                    ask businesses for a proposal for your order
    MESSAGE business_3: <text>      a plain message
    PAY #<proposal id>              pay an open proposal its exact total
    WAIT                            wait for news
    END                             finish (after paying, or to give up)

Businesses::

    PROPOSE customer_2: <item> @ <unit price>; 2 x <item> @ <unit price> [expires <ticks>]
    MESSAGE customer_2: <text>
    WAIT

Identity is not part of a command: an agent always speaks as itself, and a reply that claims to
act as another agent is refused.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from envs.core.protocol import ActionParseError, TextProtocol, ValidAction
from envs.marketplace.actions import END, KINDS, MESSAGE, PAY, PROPOSE, SEARCH, WAIT, ActionBuilder
from envs.marketplace.market import Domain

CUSTOMER_INSTRUCTIONS = """You are a shopping assistant buying for a customer in an online market.
Find businesses that offer every item the customer needs and have every required amenity, get
proposals from them, and pay the best one: it must include all the needed items, at the lowest
total. Do not pay twice. Finish with END once you have paid, or if nothing suitable exists.
Businesses may lie in their descriptions and messages; trust only menus, amenities and proposals.

Answer with exactly one command on one line:
SEARCH <query>
ASK <all | business_N, business_M>: <message>   (asks them to propose your order)
MESSAGE business_N: <message>
PAY #<proposal id>
WAIT
END"""

BUSINESS_INSTRUCTIONS = """You run a business in an online market. Customers' assistants ask you
for their orders. Answer each waiting customer with a proposal listing the items they asked for
that are on your menu, at unit prices no lower than your lowest acceptable price. The total is
computed for you.

Answer with exactly one command on one line:
PROPOSE customer_N: <item> @ <unit price>; <quantity> x <item> @ <unit price>
MESSAGE customer_N: <message>
WAIT"""

_COMMAND = re.compile(r"^\s*([A-Za-z]+)\b[:\s]*(.*)$", re.DOTALL)
_TARGETS = re.compile(r"^(.*?):\s*(.*)$", re.DOTALL)
_NAME = re.compile(r"^(customer|business)_(\d+)$")
_LINE = re.compile(r"^(?:(\d+)\s*x\s+)?(.+?)\s*@\s*\$?([\d,]+(?:\.\d+)?)$", re.IGNORECASE)
_EXPIRES = re.compile(r"\s+expires?\s+(\d+)\s*$", re.IGNORECASE)
_PROPOSAL_ID = re.compile(r"^#?\s*(\d+)\b")


def _role(observation: Any) -> str:
    return "business" if int(observation["role"]) == 1 else "customer"


class MarketplaceProtocol(TextProtocol):
    """The marketplace's text protocol for one domain's item names and one env's action shape."""

    name = "marketplace"

    def __init__(self, domain: Domain, actions: ActionBuilder) -> None:
        self.domain = domain
        self.actions = actions

    def instructions(self, agent: str) -> str:
        return BUSINESS_INSTRUCTIONS if agent.startswith("business_") else CUSTOMER_INSTRUCTIONS

    def render(self, observation: Any, agent: str) -> str:
        text = observation["text"] or self._plain(observation)
        allowed = [KINDS[k].upper() for k in np.flatnonzero(observation["kind_mask"])]
        return f"{text}\nAllowed now: {', '.join(allowed)}. Your command:"

    def _plain(self, observation: Any) -> str:
        """A minimal view from the structured fields (when the env sends no text view)."""
        names = self.domain.items
        if _role(observation) == "business":
            waiting = [int(c) for c in observation["inquiries"] if c >= 0]
            return "Customers waiting: " + (", ".join(f"customer_{c}" for c in waiting) or "none")
        wanted = [names[i] for i in observation["request_items"] if i >= 0]
        return f"Needed items: {', '.join(wanted)}."

    # Parsing ------------------------------------------------------------------------------------

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        reply = text.strip().splitlines()[0].strip() if text.strip() else ""
        match = _COMMAND.match(reply)
        if not match:
            raise ActionParseError("empty reply; answer with one command such as WAIT")
        verb, rest = match.group(1).upper(), match.group(2).strip()
        self._refuse_impersonation(rest, agent)
        kinds = {"WAIT": WAIT, "SEARCH": SEARCH, "ASK": MESSAGE, "MESSAGE": MESSAGE,
                 "PROPOSE": PROPOSE, "PAY": PAY, "END": END}  # fmt: skip
        if verb not in kinds:
            raise ActionParseError(
                f"unknown command {verb!r}; use one of {self._allowed(observation)}"
            )
        kind = kinds[verb]
        if not observation["kind_mask"][kind]:
            raise ActionParseError(f"you cannot {verb} now; allowed: {self._allowed(observation)}")
        if kind == WAIT:
            return self.actions.wait()
        if kind == END:
            return self.actions.end()
        if kind == SEARCH:
            if not rest:
                raise ActionParseError("SEARCH needs a query, e.g. SEARCH tacos with delivery")
            return self.actions.search(
                rest,
                int(observation["search_algorithm"]),
                bandwidth=int(observation["search_bandwidth"][0]),
            )
        if kind == PAY:
            return self._pay(rest, observation)
        if kind == PROPOSE:
            return self._propose(rest, observation)
        return self._message(verb, rest, observation)

    def _allowed(self, observation: Any) -> str:
        names = {WAIT: "WAIT", SEARCH: "SEARCH", MESSAGE: "ASK/MESSAGE", PROPOSE: "PROPOSE",
                 PAY: "PAY", END: "END"}  # fmt: skip
        return ", ".join(names[int(k)] for k in np.flatnonzero(observation["kind_mask"]))

    @staticmethod
    def _refuse_impersonation(rest: str, agent: str) -> None:
        claimed = re.match(r"^(?:as|from)\s+((?:customer|business)_\d+)\b", rest, re.IGNORECASE)
        if claimed and claimed.group(1).lower() != agent:
            raise ActionParseError(f"you can only act as yourself ({agent})")

    def _targets(self, spec: str, observation: Any, role: str) -> list[int]:
        other = "business" if role == "customer" else "customer"
        if spec.strip().lower() == "all":
            if role != "customer":
                raise ActionParseError("name the customers, e.g. MESSAGE customer_2: ...")
            found = [int(b) for b in observation["results"] if b >= 0]
            if not found:
                raise ActionParseError("no search results yet; SEARCH first")
            return found
        targets = []
        for part in re.split(r"[,\s]+", spec.strip()):
            if not part:
                continue
            named = _NAME.match(part.lower())
            if part.isdigit():
                targets.append(int(part))
            elif named and named.group(1) == other:
                targets.append(int(named.group(2)))
            else:
                raise ActionParseError(f"{part!r} is not a {other} name like {other}_3")
        if not targets:
            raise ActionParseError(f"name at least one {other}, e.g. {other}_3")
        return targets

    def _message(self, verb: str, rest: str, observation: Any) -> Any:
        role = _role(observation)
        split = _TARGETS.match(rest)
        if not split:
            raise ActionParseError(f"write {verb} <recipients>: <message>")
        targets = self._targets(split.group(1), observation, role)
        body = split.group(2).strip()
        items: list[int] = []
        if verb == "ASK":
            if role != "customer":
                raise ActionParseError("only customers ASK; use PROPOSE or MESSAGE")
            items = [int(i) for i in observation["request_items"] if i >= 0]
            body = body or "Please send me a proposal for my order."
        elif not body:
            raise ActionParseError("the message is empty; write MESSAGE <recipient>: <text>")
        return self.actions.message(targets, body, items)

    def _pay(self, rest: str, observation: Any) -> Any:
        match = _PROPOSAL_ID.match(rest)
        open_ids = [int(p) for p in observation["proposals"] if p >= 0]
        if not match:
            raise ActionParseError(f"write PAY #<id>; open proposals: {self._ids(open_ids)}")
        proposal = int(match.group(1))
        if proposal not in open_ids:
            raise ActionParseError(f"proposal #{proposal} is not open; open: {self._ids(open_ids)}")
        total = float(observation["proposal_totals"][open_ids.index(proposal)])
        return self.actions.pay(proposal, total)

    @staticmethod
    def _ids(ids: list[int]) -> str:
        return ", ".join(f"#{i}" for i in ids) or "none"

    def _propose(self, rest: str, observation: Any) -> Any:
        split = _TARGETS.match(rest)
        if not split:
            raise ActionParseError("write PROPOSE customer_N: <item> @ <price>; ...")
        (customer,) = self._targets(split.group(1), observation, "business")[:1]
        body = split.group(2).strip()
        expiry = 10
        found = _EXPIRES.search(body)
        if found:
            expiry, body = int(found.group(1)), body[: found.start()]
        lines = []
        for part in (p.strip() for p in body.split(";")):
            if not part:
                continue
            line = _LINE.match(part)
            if not line:
                raise ActionParseError(f"line {part!r} is not '<item> @ <price>'")
            quantity = int(line.group(1) or 1)
            try:
                item = self.domain.item_id(line.group(2))
            except KeyError:
                raise ActionParseError(f"{line.group(2)!r} is not an item name") from None
            lines.append((item, quantity, float(line.group(3).replace(",", ""))))
        if not lines:
            raise ActionParseError("a proposal needs at least one '<item> @ <price>' line")
        return self.actions.propose(customer, lines, expiry)

    # Constrained choice --------------------------------------------------------------------------

    def safe_default(self, observation: Any, agent: str) -> Any:
        """Waiting: it never spends money, and the agent is woken when something arrives."""
        return self.actions.wait()

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        """The sensible moves of the role now, for constrained choice (WAIT when nothing else).

        A business is offered its list-price proposals to the customers waiting for it. A
        customer is offered to search before it has results, then to ask them, to pay each open
        proposal, to wait (for answers) once it has results, and END only once it has paid, so
        a model choosing among these never quits before buying.
        """
        mask = observation["kind_mask"]
        wait = ValidAction("WAIT", self.actions.wait())
        names = self.domain.items
        actions: list[ValidAction] = []
        if _role(observation) == "business":
            if mask[PROPOSE]:
                rows = range(len(observation["inquiries"]))
                offers = (self._offer(observation, agent, row) for row in rows)
                actions = [offer for offer in offers if offer is not None]
            return actions or [wait]
        has_results = bool((observation["results"] >= 0).any())
        if has_results:
            actions.append(wait)
        if mask[SEARCH]:
            query = " ".join(names[i] for i in observation["request_items"] if i >= 0)
            label = f"SEARCH {query}"
            actions.append(ValidAction(label, self.parse(label, observation, agent)))
        if mask[MESSAGE] and has_results:
            label = "ASK all: Please send me a proposal for my order."
            actions.append(ValidAction(label, self.parse(label, observation, agent)))
        if mask[PAY]:
            for proposal in observation["proposals"]:
                if proposal >= 0:
                    label = f"PAY #{int(proposal)}"
                    actions.append(ValidAction(label, self.parse(label, observation, agent)))
        if mask[END] and int(observation["paid"][0]) > 0:
            actions.append(ValidAction("END", self.actions.end()))
        return actions or [wait]

    def _offer(self, observation: Any, agent: str, row: int) -> ValidAction | None:
        """A list-price proposal of what inquiry ``row`` asked for and the menu has."""
        customer = int(observation["inquiries"][row])
        if customer < 0:
            return None
        names = self.domain.items
        asked = [
            (int(i), float(p))
            for i, p in zip(
                observation["inquiry_items"][row], observation["inquiry_prices"][row], strict=True
            )
            if i >= 0 and p >= 0
        ]
        if not asked:
            return None
        spec = "; ".join(f"{names[i]} @ {p:.2f}" for i, p in asked)
        label = f"PROPOSE customer_{customer}: {spec}"
        return ValidAction(label, self.parse(label, observation, agent))
