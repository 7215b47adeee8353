"""The core's speed and memory targets as PASS/FAIL rows, computed from the measured rows of one run."""

from __future__ import annotations

from typing import Any

TARGET_N = 8  # the learner targets are stated at N = 8 agents
MANY_AGENTS = 20  # from here on independent and shared networks must cost the same, within a band
PADDING_MAPS_N = (3, 8)  # skipping padded steps is promised on 3m and 8m


def _find(rows: list[dict[str, Any]], bench: str, **match: Any) -> dict[str, Any] | None:
    for r in rows:
        if r["bench"] == bench and all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def _target(name: str, case: str, measured: float, op: str, limit: float, detail: str = "",
            applies: bool = True) -> dict[str, Any]:
    ok = measured <= limit if op == "<=" else measured >= limit
    return {"target": name, "case": case, "measured": measured, "op": op, "limit": limit,
            "result": ("PASS" if ok else "FAIL") if applies else "info", "detail": detail}


def evaluate_targets(rows: list[dict[str, Any]], interval: int) -> list[dict[str, Any]]:
    out = []
    learner = [r for r in rows if r["bench"] == "learner_update"]
    for dev in dict.fromkeys(r["device"] for r in learner):
        for n in dict.fromkeys(r["n_agents"] for r in learner if r["device"] == dev):
            get = {r["variant"]: r for r in learner if r["device"] == dev and r["n_agents"] == n}
            sfx = f"N={n} ({get[next(iter(get))]['map']}, {dev})"
            if "shared" in get and "independent" in get:
                ratio = get["independent"]["value"] / get["shared"]["value"]
                out.append(_target("independent / shared update time", sfx, ratio, "<=", 1.3,
                                   applies=n == TARGET_N))
                if n >= MANY_AGENTS:  # the band's two ends as two rows
                    out.append(_target("independent / shared update time, many agents", sfx, ratio, "<=", 1.25))
                    out.append(_target("independent / shared update time, many agents", sfx, ratio, ">=", 0.8))
            for variant in ("shared", "independent"):
                every = get.get(f"{variant} every row")
                if variant in get and every is not None:
                    out.append(_target(f"skipping padded steps ({variant}): every-row / active-row time", sfx,
                                       every["value"] / get[variant]["value"], ">=", 1.3,
                                       detail=f"{get[variant].get('filled', 1.0):.2f} of the batch filled",
                                       applies=n in PADDING_MAPS_N))
            if "independent" in get and "reference-loop" in get:
                out.append(_target("speed-up vs per-agent loop", sfx,
                                   get["reference-loop"]["value"] / get["independent"]["value"], ">=", 4.0,
                                   applies=n == TARGET_N))
    for r in rows:
        if r["bench"] == "aggregation" and r["method"] == "rs-pps":
            upd = _find(rows, "learner_update", map=r["map"], variant="independent", device="cpu")
            env = _find(rows, "train_collect", map=r["map"])
            if upd is None or env is None:
                continue
            event_s = r["value"] / 1e3
            train_s = interval * (upd["value"] / 1e3 + env["value"] / 1e3)
            out.append(_target(f"RS-PPS overhead at K={interval}", f"{r['map']} N={r['n_agents']}",
                               event_s / train_s, "<=", 0.10,
                               detail=f"event {event_s:.3f} s / ({interval} x ({upd['value']:.1f} ms update + "
                                      f"{env['value']:.1f} ms env episode)) = {event_s:.3f} / {train_s:.1f} s"))
    for r in rows:
        if r["bench"] == "end_to_end" and r["method"] == "a-pps":
            q = _find(rows, "end_to_end", map=r["map"], method="qmix")
            if q is not None and r["value"]:
                out.append(_target("qmix / a-pps end-to-end steps/s", r["map"], q["value"] / r["value"], "<=", 1.2,
                                   detail=f"qmix {q['value']:.0f}, a-pps {r['value']:.0f} steps/s"))
    for r in rows:
        if r["bench"] == "env_throughput" and r["impl"] == "backend":
            bare = _find(rows, "env_throughput", map=r["map"], n_envs=r["n_envs"], impl="bare")
            if bare is not None:
                out.append(_target("SMAX backend / bare jit", f"{r['map']} B={r['n_envs']}",
                                   r["value"] / bare["value"], ">=", 0.8,
                                   detail=f"backend {r['value']:.0f}, bare {bare['value']:.0f} steps/s"))
            synced = _find(rows, "env_throughput", map=r["map"], n_envs=r["n_envs"], impl="bare_synced")
            if synced is not None:
                out.append(_target("SMAX backend / bare jit blocked per step", f"{r['map']} B={r['n_envs']}",
                                   r["value"] / synced["value"], ">=", 0.8, applies=False,
                                   detail=f"backend {r['value']:.0f}, bare blocked {synced['value']:.0f} steps/s"))
    for r in rows:
        if r["bench"] == "buffer_memory" and r["layout"] == "compact":
            f32 = _find(rows, "buffer_memory", map=r["map"], layout="float32")
            if f32 is not None:
                out.append(_target("buffer compact / float32 bytes", r["map"],
                                   r["bytes_per_episode"] / f32["bytes_per_episode"], "<=", 0.5,
                                   detail=f"{r['bytes_per_episode']:,} vs {f32['bytes_per_episode']:,} B/episode"))
    return out
