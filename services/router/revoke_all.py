"""The FCC's revoke-all rule: a revocation in reply to one program's text ends consent to all of
the tenant's robotexts on unrelated matters, except what the rule lets a sender keep.

Source: 47 CFR 64.1200(a)(10), adopted in the TCPA Consent Order (FCC 24-24, CG Docket No. 02-278,
February 2024; 89 FR 15756): a called party may revoke consent "using any reasonable method to
clearly express a desire not to receive further calls or text messages from the caller or
sender"; a reply of stop, quit, end, revoke, opt out, cancel or unsubscribe does so per se; and a
revocation made in response to one type of message applies to all future robocalls and robotexts
from that caller on unrelated matters. The rest of (a)(10) took effect on 11 April 2025; that last
part was delayed by the Consumer and Governmental Affairs Bureau to 11 April 2026 (order of
7 April 2025) and again to 31 January 2027 (DA 26-12, 6 January 2026) while the Commission
reconsiders it in its 2025 Further Notice of Proposed Rulemaking.

What the rule lets a sender keep, and how Parley keeps it:
- messages exempt from the consent requirement (47 CFR 64.1200(a)(3) and (a)(9): e.g. certain
  healthcare, package-delivery and fraud-alert texts), unless the revocation was sent in reply to
  one of them: programs marked `consent_exempt` stay, except the one the subscriber replied to;
- the one confirmation text of 47 CFR 64.1200(a)(12), sent at once (within five minutes),
  confirming the revocation with no marketing (it names the programs that stay);
- a program the subscriber opts back into (START to its number; consent is per program).

Tenants choose when the rule applies to them with `revoke_all_from` (default 2027-01-31, the
effective date; null turns it off, an earlier date turns it on sooner). It is in force from
00:00 UTC that day, which is still the evening before everywhere in the 50 states.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

RULE = "47 CFR 64.1200(a)(10)"
ORDER = "FCC 24-24; effective date of revoke-all: DA 26-12"
EFFECTIVE = date(2027, 1, 31)


def in_force(revoke_all_from: date | None, now: datetime) -> bool:
    return revoke_all_from is not None and now >= datetime.combine(revoke_all_from, time(0), UTC)


def scope(replied_to: str, programs: dict[str, bool]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(programs revoked, programs kept) for a revocation sent to `replied_to`; `programs` maps
    each of the tenant's programs to whether it is consent-exempt."""
    kept = tuple(p for p, exempt in programs.items() if exempt and p != replied_to)
    return tuple(p for p in programs if p not in kept), kept


def evidence(replied_to: str, kept: tuple[str, ...], revoke_all_from: date) -> dict:
    """What the audit trail records with each row a revoke-all writes."""
    return {"rule": RULE, "order": ORDER, "in_force_from": revoke_all_from.isoformat(),
            "replied_to_program": replied_to, "kept": list(kept)}
