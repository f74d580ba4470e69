"""Feedback on the demo's traces: end-user thumbs, escalations, support overrides and
resolutions on the assistant's answers, reviewer audits of the classifier's labels.

Events arrive after their trace: thumbs within seconds to hours, escalations within minutes,
resolutions and audits hours to days later. An event that would arrive after "now" has not
arrived yet and is left out (recent escalations stay open). Event IDs derive from the trace ID,
so sending the same demo twice stores each event once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._demo_apps import Outcome
from ._demo_world import THUMBS_DOWN_RATE, Scenario

RATED_SHARE = 0.35  # support answers the end user rates
REVIEWED_SHARE = 0.12  # classifier labels a reviewer audits
DOWN_COMMENTS = (
    "that's not what I asked",
    "the policy it quoted is out of date",
    "too long, didn't answer the question",
    "wrong order number",
    "it made up a setting that doesn't exist",
)
ESCALATION_REASONS = (
    "customer asked for a human",
    "policy question the assistant could not answer",
    "answer did not solve the problem",
)
DENIED_ESCALATIONS = {
    "issue_refund": "refund needs an agent's approval",
    "reset_password": "password reset needs an identity check",
    "route_ticket": "urgent ticket waiting for on-call approval",
}
RESOLUTIONS = ("answered by an agent", "refund issued by an agent", "no action needed", "bug filed")


@dataclass(frozen=True)
class FeedbackEvent:
    """One call to ``spyglass.feedback``."""

    trace_id: str
    event_id: str
    timestamp: float  # seconds since the epoch
    source: str = "end_user"
    span_id: str | None = None
    thumbs: str | None = None
    score: float | None = None
    comment: str | None = None
    escalation_reason: str | None = None
    override: str | None = None
    resolution: str | None = None


class _Planner:
    def __init__(self, now_ns: int) -> None:
        self.rng = random.Random()
        self.now_s = now_ns / 1e9
        self.events: list[FeedbackEvent] = []
        self.down_credit = dict.fromkeys(THUMBS_DOWN_RATE, 0.0)

    def thumbs_down(self, prompt_version: str) -> bool:
        """Randomized rounding with carried credit: each answer is down with probability
        ~rate, yet the count per version stays within one of rate x answers, so the planted
        gap shows at any demo size instead of drowning in binomial noise at small ones."""
        credit = self.down_credit[prompt_version] + THUMBS_DOWN_RATE[prompt_version]
        down = self.rng.random() < credit
        self.down_credit[prompt_version] = credit - down
        return down

    def after(self, seconds_median: float, sigma: float) -> float:
        return seconds_median * self.rng.lognormvariate(0.0, sigma)

    def add(self, out: Outcome, kind: str, at: float, **fields: object) -> None:
        if at <= self.now_s:  # later events have not arrived yet
            self.events.append(
                FeedbackEvent(
                    trace_id=out.trace_id,
                    event_id=f"demo-{out.trace_id}-{kind}",
                    timestamp=round(at, 3),
                    **fields,  # type: ignore[arg-type]
                )
            )

    def escalate(self, out: Outcome, at: float, reason: str) -> None:
        """An escalation, then maybe an agent's corrected answer and a resolution."""
        self.add(out, "escalation", at, escalation_reason=reason)
        if self.rng.random() < 0.4:
            self.add(
                out,
                "override",
                at + self.after(1800, 1.0),
                source="support",
                span_id=out.answer_span_id,
                override="agent replaced the answer with the current policy and a direct link",
            )
        if self.rng.random() < 0.85:
            self.add(
                out,
                "resolution",
                at + self.after(6 * 3600, 1.0),
                source="support",
                resolution=self.rng.choice(RESOLUTIONS),
            )

    def support(self, out: Outcome) -> None:
        end = out.end_ns / 1e9
        if out.failed:
            if self.rng.random() < 0.5:
                self.escalate(out, end + self.after(120, 1.0), "the assistant failed to answer")
            return
        if self.rng.random() < RATED_SHARE:
            down = self.thumbs_down(out.request.prompt_version)
            comment = None
            if down and self.rng.random() < 0.45:
                comment = self.rng.choice(DOWN_COMMENTS)
            elif not down and self.rng.random() < 0.06:
                comment = "thanks, that solved it"
            self.add(
                out,
                "thumbs",
                end + self.after(40, 1.3),
                span_id=out.answer_span_id,
                thumbs="down" if down else "up",
                comment=comment,
            )
        # Escalations depend on what the assistant could not do, not on the prompt version.
        if out.denied_tool and self.rng.random() < 0.35:
            self.escalate(out, end + self.after(300, 1.0), DENIED_ESCALATIONS[out.denied_tool])
        elif self.rng.random() < 0.03:
            self.escalate(out, end + self.after(300, 1.0), self.rng.choice(ESCALATION_REASONS))

    def triage(self, out: Outcome) -> None:
        if out.denied_tool and self.rng.random() < 0.5:
            self.escalate(out, out.end_ns / 1e9 + self.after(600, 1.0), DENIED_ESCALATIONS[out.denied_tool])
        if self.rng.random() >= REVIEWED_SHARE:
            return
        correct = out.label == out.request.intent
        self.add(
            out,
            "review",
            out.end_ns / 1e9 + self.after(20 * 3600, 0.7),
            source="reviewer",
            span_id=out.answer_span_id,
            score=1.0 if correct else 0.0,
            override=None if correct else out.request.intent,
            comment=None if correct else f"miscategorized as {out.label}",
        )


def plan_feedback(scenario: Scenario, outcomes: list[Outcome]) -> list[FeedbackEvent]:
    """The feedback events for ``outcomes``, oldest first. Each trace's feedback has its own
    seeded generator, apart from the traces': changing feedback rules changes no trace."""
    planner = _Planner(scenario.now_ns)
    for out in outcomes:
        planner.rng = scenario.rng("feedback", out.request.index)
        if out.request.app == "support":
            planner.support(out)
        else:
            planner.triage(out)
    return sorted(planner.events, key=lambda e: e.timestamp)
