"""The protective rules: anomaly, quarantine and failover (spec §B.4.3 rules 1–3) (pure).

They run before any promotion, so a failing or anomalous model is dealt with before
anyone is compared against it; failover ignores the cool-down.
"""

from __future__ import annotations

from dataclasses import replace

from lifeline_governance.evaluation import Decision, ModelStats, Scalar, iso
from lifeline_governance.registry import TERMINAL, Change, rank_key
from lifeline_governance.samples import Counters
from lifeline_governance.stats import T_CAP, welch_t
from lifeline_governance.tick import TickState, rnd
from lifeline_governance.windows import Figures


def register_unseen(t: TickState) -> None:
    if not t.rules.auto_register:
        return
    for model_id in sorted(t.stats):
        if model_id not in t.places and t.stats[model_id].current.calls > 0:
            t.change(
                Change(model_id, None, "SHADOW"),
                "auto_register",
                f"auto_register: {model_id} seen in calls for this intent; tracked in SHADOW",
            )


def anomaly(t: TickState, model_id: str) -> None:
    r, p = t.rules, t.places[model_id]
    cur = t.stats.get(model_id, ModelStats()).current
    prev = t.stats.get(model_id, ModelStats()).previous
    if cur.scored < r.min_scored or prev.scored < r.min_scored:
        return
    fc, fp = Figures.of(cur, 1.0), Figures.of(prev, 1.0)
    drop = (fp.score_mean or 0.0) - (fc.score_mean or 0.0)
    t_stat = welch_t(
        fp.score_mean or 0.0, fp.score_sd, fp.scored, fc.score_mean or 0.0, fc.score_sd, fc.scored
    )
    t.extra.setdefault(model_id, {}).update(
        previous_score_mean=rnd(fp.score_mean), score_drop=rnd(drop), welch_t=rnd(t_stat)
    )
    if not _drop_reaches(prev, cur, r.anomaly_drop):
        return
    if r.anomaly_min_welch_t > 0 and t_stat < r.anomaly_min_welch_t:
        return
    if p.last_anomaly_at is not None and t.tick - p.last_anomaly_at < r.anomaly_cooldown_s:
        return
    t.places[model_id] = replace(p, last_anomaly_at=t.tick, streak=0)
    detail = (
        f"n_prev={prev.scored} n_cur={cur.scored} welch_t={min(t_stat, T_CAP):.2f} "
        f"sd_prev={fp.score_sd:.2f} sd_cur={fc.score_sd:.2f}"
    )
    t.decisions.append(
        Decision(
            kind="anomaly",
            rule="anomaly",
            model_id=model_id,
            from_state=p.state,
            to_state=p.state,
            reason=f"anomaly: mean score fell {drop:.3f} (≥ {r.anomaly_drop}) against the previous window",
            effective_score=rnd(t.figures(model_id).effective_score),
            inputs=t.inputs(
                model_id,
                "anomaly",
                previous_score=rnd(fp.score_mean),
                drop=rnd(drop),
                welch_t=rnd(t_stat),
                anomaly_drop=r.anomaly_drop,
            ),
            anomaly={
                "previous_score": round(min(10.0, fp.score_mean or 0.0), 4),
                "current_score": round(min(10.0, fc.score_mean or 0.0), 4),
                "drop": round(min(10.0, max(0.0, drop)), 4),
                "window_start": iso(t.current.start),
                "window_end": iso(t.current.end),
                "detail": detail,
            },
        )
    )
    if p.state == "PRIMARY" and r.anomaly_action == "failover" and not t.snap.frozen and not p.pinned:
        heir = best_successor(t, exclude=model_id)
        if heir is not None:
            t.change(
                Change(model_id, "PRIMARY", "ACTIVE"),
                "anomaly_failover",
                "anomaly_failover: the anomalous PRIMARY steps down to ACTIVE",
            )
            make_primary(t, heir, "failover", f"failover: {model_id} anomalous; {heir} takes over")


def _drop_reaches(prev: Counters, cur: Counters, threshold: float) -> bool:
    """mean_prev − mean_cur ≥ threshold, decided in exact integer arithmetic (2.0 fires, 1.999 not)."""
    milli = round(threshold * 1000)
    lhs = prev.score_milli_sum * cur.scored - cur.score_milli_sum * prev.scored
    return lhs >= milli * prev.scored * cur.scored


def quarantine(t: TickState) -> None:
    r = t.rules
    for model_id in sorted(t.places):
        p = t.places[model_id]
        if p.state == TERMINAL:
            continue
        failing, why = t.g.quarantine_failing(model_id)
        streak = p.quarantine_streak + 1 if failing else 0
        t.places[model_id] = replace(p, quarantine_streak=streak)
        if streak < r.quarantine_consecutive:
            if failing:
                t.verdict(model_id, "quarantine_pending", f"{why}; {streak}/{r.quarantine_consecutive} ticks")
            continue
        if t.snap.frozen:
            t.verdict(model_id, "frozen:would_quarantine", why)
            continue
        was_primary = p.state == "PRIMARY"
        t.change(
            Change(model_id, p.state, TERMINAL),
            "quarantine",
            f"quarantine: {why} on {streak} consecutive ticks",
            quarantine_streak=streak,
        )
        t.verdict(model_id, "quarantined", why)
        if was_primary:
            heir = best_successor(t, exclude=model_id)
            if heir is not None:
                make_primary(
                    t, heir, "failover", f"failover: PRIMARY {model_id} quarantined; {heir} takes over"
                )


def best_successor(t: TickState, exclude: str) -> str | None:
    pool = [
        p
        for p in t.places.values()
        if p.model_id != exclude
        and p.state in ("ACTIVE", "CANDIDATE")
        and not p.pinned
        and t.g.may_promote(p)
        and t.g.failover_ok(p, t.tick) is None
    ]
    pool.sort(key=lambda p: rank_key(p.state, t.figures(p.model_id).effective_score, p.model_id))
    return pool[0].model_id if pool else None


def make_primary(t: TickState, model_id: str, rule: str, reason: str, **more: Scalar) -> None:
    p = t.places[model_id]
    t.change(Change(model_id, p.state, "PRIMARY"), rule, reason, **more)
    t.verdict(model_id, "promoted", rule)


def failover(t: TickState) -> None:
    if t.primary() is not None or not any(p.state == "ACTIVE" for p in t.places.values()):
        return
    heir = best_successor(t, exclude="")
    if heir is None:
        for p in t.places.values():
            if p.state == "ACTIVE":
                t.verdict(p.model_id, "inconclusive", "no_primary: no ACTIVE or CANDIDATE passes the guards")
        return
    if t.snap.frozen:
        t.verdict(heir, "frozen:would_failover", "intent has no PRIMARY")
        return
    make_primary(t, heir, "failover", f"failover: intent has no PRIMARY; {heir} is the best qualified")
