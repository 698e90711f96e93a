"""The promoting rules: candidate → PRIMARY and shadow → CANDIDATE (spec §B.4.3 rules 4–5) (pure).

The candidate rule is a Schmitt trigger over `ratio = ES(c) / ES(P)`: above
PROMOTE_MARGIN a look counts (only with SUSTAIN_MIN_NEW_CALLS fresh outcomes since the
last counted one), between HOLD_MARGIN and PROMOTE_MARGIN the streak holds, below
HOLD_MARGIN it resets. Promotion needs the streak, low risk, the intent's cool-down,
no pin and no freeze; at most one PRIMARY change per intent and tick.
"""

from __future__ import annotations

from dataclasses import replace

from lifeline_governance.guards import GuardFailure
from lifeline_governance.registry import Change, Placement
from lifeline_governance.safety import make_primary
from lifeline_governance.stats import T_CAP
from lifeline_governance.tick import TickState, rnd


def _comparison(t: TickState, model_id: str) -> tuple[str, float | None, GuardFailure | None]:
    """('above'|'hold'|'below', ratio, failing guard) against the current PRIMARY (or bootstrap)."""
    r, p = t.rules, t.primary()
    if failed := t.g.enough(model_id):
        return "guard", None, failed
    if p is None:
        q = t.figures(model_id).quality or 0.0
        return ("above" if q >= r.bootstrap_min_quality else "below"), None, None
    if failed := t.g.enough(p.model_id):
        return (
            "guard",
            None,
            GuardFailure("primary_insufficient_data:" + failed.guard, failed.value, failed.threshold),
        )
    mine = t.figures(model_id).effective_score or 0.0
    theirs = t.figures(p.model_id).effective_score or 0.0
    ratio = min(T_CAP, mine / theirs) if theirs > 0 else (T_CAP if mine > 0 else 1.0)
    band = "above" if ratio > r.promote_margin else "hold" if ratio >= r.hold_margin else "below"
    return band, ratio, None


def _blocked(t: TickState, c: Placement) -> str | None:
    """Why a candidate whose streak is complete may still not be promoted."""
    r, p = t.rules, t.primary()
    risk = (
        t.g.anomaly_block(c, t.tick)
        or t.g.success(c.model_id)
        or t.g.latency(c.model_id, p.model_id if p else None)
    )
    if risk is not None:
        return f"blocked_{'anomaly' if risk.guard == 'anomaly_block_s' else 'risk'}: {risk}"
    if not t.g.may_promote(c):
        return "blocked_unregistered: auto-seen models are never promoted"
    if c.pinned or (p is not None and p.pinned):
        return "blocked_pinned"
    if t.primary_changed:
        return "blocked_cooldown: the PRIMARY changed this tick"
    last = t.last_primary_change
    if p is not None and last is not None and t.tick - last < r.primary_cooldown_s:
        return f"blocked_cooldown: last PRIMARY change {t.tick - last}s ago < {r.primary_cooldown_s}s"
    return None


def promote_candidates(t: TickState) -> None:
    r = t.rules
    ready: list[tuple[float, str, float | None]] = []
    for model_id in sorted(m for m, pl in t.places.items() if pl.state == "CANDIDATE"):
        c = t.places[model_id]
        band, ratio, failed = _comparison(t, model_id)
        fresh = t.stats[model_id].fresh_outcomes if model_id in t.stats else 0
        t.extra.setdefault(model_id, {}).update(
            ratio=rnd(ratio),
            margin=r.promote_margin,
            hold_margin=r.hold_margin,
            fresh_outcomes=fresh,
            sustain_required=r.sustain_evaluations,
        )
        if band == "guard":
            t.verdict(model_id, "inconclusive", str(failed))
            continue
        if band == "below":
            t.places[model_id] = c = replace(c, streak=0)
            t.verdict(model_id, "below_hold", f"ratio {rnd(ratio)} < {r.hold_margin}")
            continue
        if band == "above":
            if fresh >= r.sustain_min_new_calls:
                t.places[model_id] = c = replace(c, streak=c.streak + 1, counted_until=t.current.end)
            elif c.streak < r.sustain_evaluations:
                t.verdict(
                    model_id,
                    "waiting_fresh_evidence",
                    f"streak {c.streak}/{r.sustain_evaluations}, "
                    f"{r.sustain_min_new_calls - fresh} new outcomes needed",
                )
                continue
        if c.streak < r.sustain_evaluations:
            t.verdict(
                model_id,
                "held" if band == "hold" else "counting",
                f"streak {c.streak}/{r.sustain_evaluations}, ratio {rnd(ratio)}",
            )
            continue
        if band == "hold":
            t.verdict(model_id, "held", f"streak complete but ratio {rnd(ratio)} ≤ {r.promote_margin}")
            continue
        if why := _blocked(t, c):
            t.verdict(model_id, why.split(":")[0], why)
            continue
        ready.append((-(ratio if ratio is not None else t.figures(model_id).quality or 0.0), model_id, ratio))
    if not ready:
        return
    _, winner, ratio = min(ready)
    for _, other, _ in sorted(ready)[1:]:
        t.verdict(other, "held", f"{winner} promoted this tick")
    if t.snap.frozen:
        t.verdict(winner, "frozen:would_promote", f"ratio {rnd(ratio)} sustained")
        return
    p = t.primary()
    es = t.figures(winner).effective_score or 0.0
    if p is not None:
        pes = t.figures(p.model_id).effective_score or 0.0
        t.change(
            Change(p.model_id, "PRIMARY", "ACTIVE"),
            "displaced",
            f"displaced: {winner} promoted (ratio {rnd(ratio)})",
            promoted_model_id=winner,
        )
        reason = (
            f"promote_candidate: ES {es:.2f} > {r.promote_margin} × {pes:.2f} for "
            f"{r.sustain_evaluations} evaluations, no anomaly"
        )
        make_primary(
            t,
            winner,
            "promote_candidate",
            reason,
            displaced_model_id=p.model_id,
            primary_effective_score=rnd(pes),
            ratio=rnd(ratio),
        )
    else:
        make_primary(
            t,
            winner,
            "promote_candidate",
            f"promote_candidate: bootstrap, quality {t.figures(winner).quality or 0:.2f} ≥ "
            f"{r.bootstrap_min_quality} for {r.sustain_evaluations} evaluations",
        )


def promote_shadows(t: TickState) -> None:
    r = t.rules
    eligible: list[tuple[float, str]] = []
    for model_id in sorted(m for m, pl in t.places.items() if pl.state == "SHADOW"):
        s = t.places[model_id]
        if s.pinned or not t.g.may_promote(s):
            t.verdict(model_id, "tracked", "pinned" if s.pinned else "unregistered: tracked, never promoted")
            continue
        band, ratio, failed = _comparison(t, model_id)
        failed = failed or (t.g.success(model_id) if band == "above" else None)
        t.extra.setdefault(model_id, {}).update(ratio=rnd(ratio), margin=r.promote_margin)
        if failed is not None:
            t.verdict(model_id, "inconclusive", str(failed))
            continue
        if band != "above":
            t.places[model_id] = replace(s, enter_streak=0)
            t.verdict(model_id, "none", f"ratio {rnd(ratio)} ≤ {r.promote_margin}")
            continue
        t.places[model_id] = s = replace(s, enter_streak=s.enter_streak + 1)
        if s.enter_streak < r.enter_consecutive:
            t.verdict(model_id, "counting", f"enter {s.enter_streak}/{r.enter_consecutive}")
            continue
        eligible.append((-(t.figures(model_id).effective_score or 0.0), model_id))
    slots = r.max_candidates - sum(1 for p in t.places.values() if p.state == "CANDIDATE")
    for rank, (_, model_id) in enumerate(sorted(eligible)):
        if rank >= slots:
            t.verdict(model_id, "blocked_max_candidates", f"{r.max_candidates} candidates already")
        elif t.snap.frozen:
            t.verdict(model_id, "frozen:would_promote_shadow", "ES above the margin")
        else:
            p = t.primary()
            es = t.figures(model_id).effective_score or 0.0
            base = (
                f"{r.promote_margin} × {t.figures(p.model_id).effective_score or 0:.2f}"
                if p
                else f"bootstrap quality {r.bootstrap_min_quality}"
            )
            t.change(
                Change(model_id, "SHADOW", "CANDIDATE"),
                "promote_shadow",
                f"promote_shadow: ES {es:.2f} > {base}",
                primary_model_id=p.model_id if p else None,
            )
            t.verdict(model_id, "promoted", "promote_shadow")
