"""The world the demo applications live in: tenants, users, releases, prompt versions, when
requests arrive, how long things take, and the two problems planted for analytics to find.

Everything random is drawn from generators seeded by the ``Scenario`` (seed, size, days and
the moment the window ends), so the same scenario always gives the same requests.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from spyglass.testing import VirtualClock

DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9

# Traffic share of each tenant. Apart from volume (and the planted slow tool) tenants behave
# identically: same intents, same app mix, same error rates.
TENANTS: dict[str, float] = {"acme": 0.30, "globex": 0.22, "initech": 0.18, "umbrella": 0.16, "hooli": 0.14}
USERS_PER_TENANT = 40
INTENTS: dict[str, float] = {
    "refund": 0.25,
    "shipping": 0.25,
    "account": 0.2,
    "billing": 0.15,
    "technical": 0.15,
}
APPS: dict[str, float] = {"support": 0.7, "triage": 0.3}

OLD_RELEASE, NEW_RELEASE = "2026.11.1", "2026.11.2"
# The new release rolls out gradually between these fractions of the window. The rollout is
# deliberately not aligned with the slow-tool week, so analytics can tell time from release.
ROLLOUT = (0.55, 0.8)

PROMPT_VERSIONS = ("v3", "v4")  # the answer prompt's A/B test, bucketed by user
PRIMARY_MODEL, FALLBACK_MODEL = "gpt-4o", "gpt-4o-mini"

SLOW_TOOL_TENANT = "globex"
SLOW_TOOL = "lookup_customer"
SLOW_TOOL_SHARE = 0.08
SLOW_TOOL_SECONDS = (2.0, 6.0)
SLOW_TOOL_DAYS = 7.0  # the newest week (the newest half of a window shorter than two weeks)

NEGATIVE_PROMPT_VERSION = "v4"
THUMBS_DOWN_RATE = {"v3": 0.06, "v4": 0.18}  # among rated answers that did not fail

PLANTED: dict[str, dict[str, Any]] = {
    "slow_tool": {
        "what": "one tenant's p99 latency is driven by a slow tool, only in the newest week",
        "tenant": SLOW_TOOL_TENANT,
        "tool": SLOW_TOOL,
        "span_name": f"execute_tool {SLOW_TOOL}",
        "share_of_requests": SLOW_TOOL_SHARE,
        "tool_seconds": SLOW_TOOL_SECONDS,
        "window": f"the last {SLOW_TOOL_DAYS:g} days (the newest half when --days < 14)",
        "elsewhere": f"{SLOW_TOOL} takes ~90 ms (log-normal) for every tenant and week",
    },
    "negative_prompt": {
        "what": "one prompt version gets clearly more negative feedback",
        "prompt_name": "answer",
        "prompt_version": NEGATIVE_PROMPT_VERSION,
        "thumbs_down_rate": THUMBS_DOWN_RATE[NEGATIVE_PROMPT_VERSION],
        "baseline": {"prompt_version": "v3", "thumbs_down_rate": THUMBS_DOWN_RATE["v3"]},
        "measured_on": "end-user thumbs on support answers that did not fail",
        "elsewhere": "v3 and v4 are otherwise identical: latency, tokens, errors, escalations",
    },
}
"""The problems planted in the demo data, exactly; everything else is statistically the same
between tenants, prompt versions and releases."""


@dataclass(frozen=True)
class Request:
    """One incoming request, decided before it runs."""

    index: int
    start_ns: int
    app: str  # "support" (the retrieval-augmented assistant) or "triage" (the ticket classifier)
    tenant: str
    intent: str
    release: str
    user: str
    session: str
    prompt_version: str
    slow_tool: bool  # planted problem 1 hits this request


class Sim:
    """Simulated randomness and time for the apps: ``wait`` is a sleep on the virtual clock."""

    def __init__(self, rng: random.Random, clock: VirtualClock) -> None:
        self.rng = rng
        self.clock = clock

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(self.rng.gauss(0.0, sigma))

    def wait(self, median: float, sigma: float = 0.5) -> float:
        """Advance the clock by a log-normal duration (the latency of real calls is skewed)."""
        seconds = self.lognormal(median, sigma)
        self.clock.advance(seconds)
        return seconds

    def pick(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]


def _traffic(t_ns: int) -> float:
    """Relative request rate at a moment: busy afternoons (UTC), quiet nights and weekends."""
    hours = (t_ns / HOUR_NS) % 24
    daily = 0.25 + 0.75 * math.exp(-(((hours - 15) / 4.5) ** 2))
    weekday = int(t_ns // DAY_NS + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    return daily * (0.55 if weekday >= 5 else 1.0)


def _release(roll: float, fraction: float) -> str:
    lo, hi = ROLLOUT
    share_new = min(1.0, max(0.0, (fraction - lo) / (hi - lo)))
    return NEW_RELEASE if roll < share_new else OLD_RELEASE


@dataclass(frozen=True)
class Scenario:
    """One demo run: ``traces`` requests over the ``days`` before ``now_ns``, from ``seed``."""

    traces: int
    days: float
    seed: int
    now_ns: int

    def rng(self, stream: str, index: int = -1) -> random.Random:
        """The generator of one ``stream`` ("arrivals", "ids", "app", "feedback"...) of
        request ``index``. One stream per request keeps each request's data independent of
        the others' (feedback rules cannot change a trace)."""
        key = f"spyglass-demo/{self.seed}/{self.traces}/{self.days:g}/{self.now_ns}/{stream}/{index}"
        return random.Random(key)


def anchor(now_ns: int) -> int:
    """The end of the demo's window: ``now_ns`` rounded down to the hour. Runs within one hour
    send identical data (re-sending is idempotent: the store keeps one copy of a span or a
    feedback event with the same ID); a later run gets a window, and IDs, of its own rather
    than old IDs at new times (which would duplicate spans across the store's day partitions)."""
    return now_ns - now_ns % HOUR_NS


def plan_requests(scenario: Scenario) -> list[Request]:
    """The scenario's requests, oldest first."""
    now_ns, days = scenario.now_ns, scenario.days
    window_end = now_ns - 10 * 60 * 10**9  # the newest request has finished by now
    window_start = now_ns - round(days * DAY_NS)
    slow_since = now_ns - round(min(SLOW_TOOL_DAYS, days / 2) * DAY_NS)
    arrivals = scenario.rng("arrivals")
    starts: list[int] = []
    while len(starts) < scenario.traces:  # rejection sampling against the traffic curve (its max is 1)
        t = arrivals.randrange(window_start, window_end)
        if arrivals.random() < _traffic(t):
            starts.append(t)
    starts.sort()

    users = {
        tenant: [(f"{tenant}-u{i:03d}", PROMPT_VERSIONS[i % 2]) for i in range(USERS_PER_TENANT)]
        for tenant in TENANTS
    }
    tenant_names, tenant_weights = list(TENANTS), list(TENANTS.values())
    # Randomized rounding with carried credit: each request is hit with probability ~8%, and
    # the count stays within one of 8% of the tenant's newest-week requests at any size.
    slow_credit = 0.0
    requests = []
    for index, start in enumerate(starts):
        rng = scenario.rng("request", index)
        tenant = rng.choices(tenant_names, weights=tenant_weights)[0]
        user, prompt_version = rng.choice(users[tenant])
        app = rng.choices(list(APPS), weights=list(APPS.values()))[0]
        intent = rng.choices(list(INTENTS), weights=list(INTENTS.values()))[0]
        session = f"sess-{rng.getrandbits(40):010x}"
        release_roll, slow_roll = rng.random(), rng.random()
        fraction = (start - window_start) / (window_end - window_start)
        slow = False
        if tenant == SLOW_TOOL_TENANT and start >= slow_since:
            slow_credit += SLOW_TOOL_SHARE
            slow = slow_roll < slow_credit
            slow_credit -= slow
        requests.append(
            Request(
                index=index,
                start_ns=start,
                app=app,
                tenant=tenant,
                intent=intent,
                release=_release(release_roll, fraction),
                user=user,
                session=session,
                prompt_version=prompt_version,
                slow_tool=slow,
            )
        )
    return requests
