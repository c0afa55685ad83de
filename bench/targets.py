"""The Targets table of bench/RESULTS.md: each target with this round's figure
(from the drivers' NAME.json files) next to the previous round's (a round
file, bench/last_round.json), and a verdict. Reporting, never asserting.

A round file: {"commit": ..., "source": ..., "figures": {KEY: {"text": ...,
optionally "commit" and "source" where that figure came from elsewhere}}}.
round_file() writes this round's figures in the same shape, so the next round
can take it as its last round.
"""

import json
import os

import common as c


def load(d, name):
    return c.load_result(d, name)


def load_round(path):
    """The previous round's figures, or None (no file). A malformed file is an error."""
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        r = json.load(f)
    if not isinstance(r, dict) or not isinstance(r.get("figures"), dict):
        raise SystemExit(f"{path}: expected an object with a 'figures' object")
    for k, v in r["figures"].items():
        if not isinstance(v, dict) or not isinstance(v.get("text"), str):
            raise SystemExit(f"{path}: figure {k!r} needs a 'text' string")
    return r


def verdict(ok):
    if ok is None:
        return "not measured"
    return "**met**" if ok else "**missed**"


def per_round(s, fmt="{:.2f}×"):
    return f"; per-round median {fmt.format(s['median'])}" if s else ""


def one_row(rows, wc):
    """1-row committed UPDATE, p50, wait_for_bump on and off."""
    st = (wc or {}).get("update_one_stats") or {}
    p50, pr = st.get("p50", {}), st.get("paired", {})
    mean = (wc or {}).get("update_one", {})
    n, o = p50.get("none"), p50.get("noop")
    for v, label in (("fraiseql", "on"), ("fraiseql_nowait", "off")):
        f = p50.get(v)
        e = pr.get(v, {})
        key = f"one_row_{label}"
        name = f"1-row committed UPDATE, wait_for_bump = {label}:"
        if f and n:
            d = f["median"] - n["median"]
            rows.append((f"{key}_delta", f"{name} ≤ +0.1 ms p50 over no trigger",
                         f"{d:+.3f} ms ({f['median']:.3f} vs {n['median']:.3f} ms; "
                         f"{f['median'] / n['median']:.2f}×"
                         f"{per_round(e.get('minus_none_ms'), '{:+.3f} ms')}"
                         + (f"; mean per statement {mean[v]['median'] - mean['none']['median']:+.3f}"
                            " ms" if v in mean and "none" in mean else "") + ")", d <= 0.1))
        else:
            rows.append((f"{key}_delta", f"{name} ≤ +0.1 ms p50 over no trigger", "–", None))
        if f and o:
            r = f["median"] / o["median"]
            rows.append((f"{key}_noop", f"{name} ≤ 1.15× the no-op C trigger (p50)",
                         f"{r:.2f}× ({f['median']:.3f} vs {o['median']:.3f} ms"
                         f"{per_round(e.get('x_noop'))})", r <= 1.15))
        else:
            rows.append((f"{key}_noop", f"{name} ≤ 1.15× the no-op C trigger (p50)", "–", None))


def writers(rows, cc):
    """8 writers with 1 ms of application time: TPS against no trigger."""
    for v, label, goal in (("fraiseql", "on", 0.95), ("fraiseql_nowait", "off", 0.98)):
        name = (f"8 concurrent writers (pgbench, 1 ms application time), wait_for_bump = "
                f"{label}: ≥ {goal:.2f}× no-trigger TPS")
        t = (cc or {}).get("tps", {})
        if v in t and "none" in t:
            f, n = t[v]["median"], t["none"]["median"]
            rows.append((f"writers_{label}", name,
                         f"{f / n:.2f}× ({f:,.0f} vs {n:,.0f} TPS"
                         f"{per_round(cc.get('paired', {}).get(v))})", f / n >= goal))
        else:
            rows.append((f"writers_{label}", name, "–", None))


def worker_batch(rows, wc):
    w = ((wc or {}).get("update_one_stats") or {}).get("worker_cpu", {}).get("fraiseql")
    name = ("worker CPU per batch of one 1-pair transaction ≤ 50 µs (one session of 1-row "
            "committed UPDATEs, wait_for_bump = on; /proc CPU ÷ stats().batches)")
    if w:
        pr = w["per_round_us_per_batch"]
        rows.append(("worker_cpu_batch", name,
                     f"{w['us_per_batch']:.0f} µs per batch ({w['batches']:,} batches; per "
                     f"round {pr['median']:.0f} [{pr['min']:.0f} – {pr['max']:.0f}]; "
                     f"{w['xacts_per_batch']:.2f} transactions, {w['bumps_per_batch']:.2f} "
                     "pair bumps per batch)", w["us_per_batch"] <= 50))
    else:
        rows.append(("worker_cpu_batch", name, "–", None))


def bumps_per_cpu(rows, d):
    for name, key, label in (("throughput", "bumps_cpu_sustained", "sustained, default settings"),
                             ("throughput_single", "bumps_cpu_single",
                              "one 100k-tenant transaction")):
        tp = load(d, name)
        target = f"≥ 250,000 pair bumps per worker CPU-second ({label})"
        cpu = (tp or {}).get("worker_cpu", {})
        if tp and cpu.get("bumps_per_cpu_s"):
            pr = cpu.get("per_run_bumps_per_cpu_s")
            b = tp["bumps_per_s"]
            rows.append((key, target,
                         f"{cpu['bumps_per_cpu_s']:,.0f} per worker CPU-second "
                         f"({cpu['us_per_bump']:.1f} µs per bump"
                         + (f"; per-run median {pr['median']:,.0f}" if pr else "")
                         + f"); {b['median']:,.0f} pair bumps/s", cpu["bumps_per_cpu_s"] >= 250000))
        else:
            rows.append((key, target, "–", None))


def rows_of(d):
    """[(key, target, this round's figure, ok or None)] in the table's order."""
    rows = []
    wc = load(d, "write_cost")
    one_row(rows, wc)
    writers(rows, load(d, "concurrency"))
    worker_batch(rows, wc)
    bumps_per_cpu(rows, d)

    u = (wc or {}).get("update_all")
    if u and all(k in u for k in ("fraiseql", "none", "noop")):
        f, n, o = u["fraiseql"]["median"], u["none"]["median"], u["noop"]["median"]
        rows.append(("update_10k_noop", "10k-row UPDATE within 5% of the no-op C trigger",
                     f"{f / o:.2f}× ({f:.1f} vs {o:.1f} ms)", f / o <= 1.05))
        ten_k_none = ("update_10k_none", "10k-row UPDATE ≤ 1.25× no trigger",
                      f"{f / n:.2f}× ({f:.1f} vs {n:.1f} ms)", f / n <= 1.25)
    else:
        rows.append(("update_10k_noop", "10k-row UPDATE within 5% of the no-op C trigger", "–",
                     None))
        ten_k_none = ("update_10k_none", "10k-row UPDATE ≤ 1.25× no trigger", "–", None)

    rd = load(d, "reads")
    pk_name = "current_version() ≥ 10× faster per call than a PK lookup (in the server)"
    s1_name = "current_version() ≥ 0.95× SELECT 1 end to end (pgbench -M prepared)"
    if rd:
        ln = rd["loop_ns"]
        cv, pk = ln["current_version"]["net"]["median"], ln["pk"]["net"]["median"]
        cvr, pkr = ln["current_version"]["raw"]["median"], ln["pk"]["raw"]["median"]
        raw = f"{pkr / cvr:.1f}× with the loop's own {ln['empty']['raw']['median']:.0f} ns"
        if cv > 0:
            rows.append(("cv_vs_pk", pk_name, f"{pk / cv:.0f}× net of the loop ({cv:.0f} vs "
                         f"{pk:.0f} ns); {raw}", pk / cv >= 10))
        else:   # the loop's own noise exceeded current_version()'s time
            rows.append(("cv_vs_pk", pk_name, f"net of the loop not resolved in this run "
                         f"({cv:.0f} vs {pk:.0f} ns); {raw}", None))
        e = rd["e2e_tps"]
        r = e["current_version"]["median"] / e["select1"]["median"]
        pr = rd.get("e2e_paired", {}).get("current_version")
        s1 = (f"{r:.2f}× ({e['current_version']['median']:,.0f} vs "
              f"{e['select1']['median']:,.0f} TPS{per_round(pr)})", r >= 0.95)
    else:
        rows.append(("cv_vs_pk", pk_name, "–", None))
        s1 = ("–", None)

    # The other targets, as before.
    rows.append(ten_k_none)
    cc = load(d, "concurrency")
    t = (cc or {}).get("tps", {})
    pl = [(k, t[k]["median"] / t["none"]["median"]) for k in ("naive", "tracker")
          if k in t and "none" in t]
    rows.append(("plpgsql", "PL/pgSQL baselines fall below 0.5× no-trigger TPS (8 writers)",
                 ", ".join(f"{c.VARIANTS[k]} {r:.2f}×" for k, r in pl) if pl else "–",
                 all(r < 0.5 for _, r in pl) if pl else None))
    rows.append(("cv_vs_select1", s1_name) + s1)

    lg = load(d, "lag")
    lag_name = "lag COMMIT → NOTIFY p99 ≤ 5 ms (200 commits/s)"
    if lg:
        on, off = lg["on"]["lag_sent"], lg["off"]["lag_sent"]
        rows.append(("lag", lag_name,
                     f"wait_for_bump on: p99 {on['p99']['median']:.2f} ms (runs "
                     f"{on['p99']['min']:.2f} – {on['p99']['max']:.2f}; pooled "
                     f"{on['pooled_p99']:.2f}), p50 {on['p50']['median']:.2f} ms; COMMIT's own "
                     f"round trip p99 {lg['on']['commit_ms']['p99']['median']:.2f} ms. "
                     f"wait_for_bump off: p99 {off['p99']['median']:.2f} ms, from COMMIT "
                     f"returned p99 {lg['off']['lag_returned']['p99']['median']:.2f} ms. "
                     "Commit time = when the COMMIT was sent", on["p99"]["median"] <= 5.0))
    else:
        rows.append(("lag", lag_name, "–", None))

    sh = load(d, "shmem")
    sh_name = "≤ 128 bytes of shared memory per pair (default settings)"
    if sh:
        rows.append(("shmem", sh_name,
                     f"{sh['per_pair_segment']:.0f} bytes (segment {sh['segment_bytes']:,} ÷ "
                     f"({sh.get('max_databases', 1)} databases × max_entries "
                     f"{sh['max_entries']:,})); version table alone "
                     f"{sh['per_pair_table']:.0f}", sh["per_pair_segment"] <= 128))
    else:
        rows.append(("shmem", sh_name, "–", None))
    return rows


def last_text(last, key):
    if not last:
        return "–"
    f = last["figures"].get(key)
    if not f:
        return "–"
    if f.get("commit") and f["commit"] != last.get("commit"):
        return f"{f['text']} (at {f['commit']}, {f.get('source', 'another run')})"
    return f["text"]


def table(d, last):
    rows = rows_of(d)
    head = "last round" + (f" ({last['commit']})" if last and last.get("commit") else "")
    return c.table(["target", "this round (median)", head, "verdict"],
                   [[t, m, last_text(last, k), verdict(ok)] for k, t, m, ok in rows], "llll")


def round_file(d, commit, source):
    """This round's figures in the round-file shape (for the next round)."""
    return {"about": "Figures of one make benchmark run (bench/report.py); copy over "
                     "bench/last_round.json to compare the next round with this one.",
            "commit": commit, "source": source,
            "figures": {k: {"text": m} for k, _, m, ok in rows_of(d) if ok is not None}}
