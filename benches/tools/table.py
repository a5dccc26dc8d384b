#!/usr/bin/env python3
"""Markdown tables from a benches/run.sh results.tsv.

    table.py results/latest/results.tsv [--ref werk]

Each line of the TSV is `server, scenario, run, metric, value`. With several
runs, a cell is the median over the runs (the run count is shown). --ref names
the server the ratios are taken for (default: the first server whose name
starts with "werk"); a ratio is the reference's req/s divided by the other
server's req/s in the same scenario: above 1, the reference served more.
"""
import argparse
import statistics
from collections import OrderedDict, defaultdict

WRK_SCENARIOS = ["ka1", "ka16", "ka256", "ka1024", "close16", "pipe16", "idle64ka16"]

# A run is "clean" when other work took less than this share (%) of the
# server's core, and of wrk's core, during the scenario; cells use the clean
# runs when there are any.
CLEAN_PCT = 10.0


def load(path):
    data = defaultdict(lambda: defaultdict(list))  # (server, scenario) -> metric -> [values by run]
    servers = OrderedDict()
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5 or parts[0] == "-":
                continue
            server, scenario, _run, metric, value = parts
            servers[server] = None
            data[(server, scenario)][metric].append(value)
    return data, list(servers)


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(values):
    xs = [num(v) for v in values or []]
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_rps(x):
    if x is None:
        return "n/a"
    return f"{x / 1000:.1f}k" if x >= 10000 else f"{x:.0f}"


def fmt_ms(x):
    if x is None or x == 0:
        # 0: wrk recorded no latency sample (in pipe16, the server closed each
        # connection before a whole batch was answered)
        return "n/a"
    return f"{x:.2f}" if x < 10 else f"{x:.0f}"


def fmt_mib(kb):
    return "n/a" if kb is None else f"{kb / 1024:.1f} MiB"


def clean_view(m):
    """The metrics of the clean runs only (all runs if none is clean), and
    (clean runs, all runs)."""
    others = [num(v) for v in m.get("other_cpu_pct", [])]
    clients = [num(v) for v in m.get("client_other_cpu_pct", [])]
    n = len(m.get("rps", []))
    keep = [i for i, o in enumerate(others) if o is not None and o < CLEAN_PCT
            and (i >= len(clients) or clients[i] is None or clients[i] < CLEAN_PCT)]
    if not others or not keep:
        return m, (0 if others else n), n
    view = {k: [vs[i] for i in keep if i < len(vs)] for k, vs in m.items()}
    return view, len(keep), n


def wrk_tables(data, servers, ref):
    scenarios = [s for s in WRK_SCENARIOS if any(data.get((sv, s), {}).get("rps") for sv in servers)]
    if not scenarios:
        return
    print("### Requests/s and latency (wrk)\n")
    print(f"Medians over the clean runs: those where other work (other processes, interrupts) took "
          f"less than {CLEAN_PCT:.0f} % of the server's core and of wrk's core (*runs* = clean/all; "
          f"§ = no clean run, all runs used). *other CPU*: that share on the server's core / on wrk's "
          f"core, median. † wrk's latency samples contradict its "
          f"own request count (occupancy > 1.2), so that p99 is not true. ‡ occupancy < 0.5: most "
          f"connections had no request in flight.\n")
    head = "| scenario | server | runs | req/s | p50 ms | p99 ms | errors | other CPU |"
    rule = "|---|---|---:|---:|---:|---:|---|---:|"
    if ref:
        head += f" {ref} ÷ server |"
        rule += "---:|"
    print(head)
    print(rule)
    for sc in scenarios:
        ref_rps = med(clean_view(data[(ref, sc)])[0].get("rps")) if ref and data.get((ref, sc)) else None
        for sv in servers:
            m = data.get((sv, sc))
            if not m or not m.get("rps"):
                continue
            m, clean, total = clean_view(m)
            rps = med(m["rps"])
            occ = med(m.get("occupancy")) or 0.0
            mark = ""
            if sc != "pipe16" and occ > 1.2:
                mark = " †"
            elif sc != "pipe16" and 0 < occ < 0.5:
                mark = " ‡"
            errs = [int(num(e) or 0) for e in m.get("errors", [])]
            err_cell = "0" if not any(errs) else "/".join(str(e) for e in errs) + " (" + "; ".join(m.get("error_kinds", [])) + ")"
            other = med(m.get("other_cpu_pct"))
            cother = med(m.get("client_other_cpu_pct"))
            runs = f"{clean}/{total}" + (" §" if clean == 0 else "")
            row = (f"| {sc} | {sv} | {runs} | {fmt_rps(rps)} | {fmt_ms(med(m.get('p50_ms')))} | "
                   f"{fmt_ms(med(m.get('p99_ms')))}{mark} | {err_cell} | {'n/a' if other is None else f'{other:.0f}'}/{'n/a' if cother is None else f'{cother:.0f}'} % |")
            if ref:
                row += f" {ref_rps / rps:.2f} |" if ref_rps and rps else " n/a |"
            print(row)
    print()

    peers = [s for s in servers if s != ref]
    if ref and peers:
        print(f"### Ratios: {ref} req/s ÷ peer req/s (medians)\n")
        print("| scenario | " + " | ".join(peers) + " |")
        print("|---|" + "---:|" * len(peers))
        for sc in scenarios:
            ref_rps = med(clean_view(data[(ref, sc)])[0].get("rps")) if data.get((ref, sc)) else None
            cells = []
            for p in peers:
                rps = med(clean_view(data[(p, sc)])[0].get("rps")) if data.get((p, sc)) else None
                cells.append(f"{ref_rps / rps:.2f}" if ref_rps and rps else "n/a")
            print(f"| {sc} | " + " | ".join(cells) + " |")
        print()


def starve_cell(st, prefix):
    oks = st.get(f"{prefix}_fresh_ok", [])
    if not oks:
        return "—" if not st.get("check_failed") else "check failed"
    good = sum(1 for o in oks if o == "1")
    times = [num(v) for v in st.get(f"{prefix}_fresh_ms", []) if num(v) is not None]
    spread = f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms" if times else "no time"
    if good == len(oks):
        cell = f"ok in {good}/{len(oks)} runs ({spread})"
    else:
        cell = f"**STARVED** in {len(oks) - good}/{len(oks)} runs ({spread})"
    opened = [int(num(v) or 0) for v in st.get(f"{prefix}_open", [])]
    if any(o < 64 for o in opened):
        cell += f"; connections opened: {'/'.join(map(str, opened))}"
    if prefix == "idle":
        answered = [int(num(v) or 0) for v in st.get("idle_answered", [])]
        if answered != opened:
            cell += f"; first requests answered: {'/'.join(map(str, answered))}"
    return cell


def idle_tables(data, servers):
    print("### Idle and silent connections, memory\n")
    print("Fresh request: time for one `GET /` on a new connection while 64 others wait (5 s cap; "
          "median over the runs). Idle during load: 64 idle keep-alive connections held while "
          "`wrk -c16` ran, then each sent a request.\n")
    print("| server | 64 idle keep-alive → fresh request | 64 silent → fresh request | idle during ka16 load → next request | peak RSS | startup |")
    print("|---|---|---|---|---:|---:|")
    for sv in servers:
        st = data.get((sv, "starve"), {})
        hold = data.get((sv, "idle64ka16"), {})
        if hold.get("held"):
            def total(k):
                return sum(int(num(v) or 0) for v in hold.get(k, []))
            worst = max((num(v) or 0) for v in hold.get("after_worst_ms", ["0"]))
            hv = (f"{total('after_served')}/{total('held')} served (worst {worst:.1f} ms), "
                  f"{total('after_closed')} closed, {total('after_hung')} hung")
        else:
            hv = "—"
        hello = data.get((sv, "hello"), {})
        rss = med(hello.get("rss_kb"))
        startup = med(hello.get("startup_ms"))
        print(f"| {sv} | {starve_cell(st, 'idle')} | {starve_cell(st, 'silent')} | {hv} | {fmt_mib(rss)} | "
              f"{'n/a' if startup is None else f'{startup:.0f} ms'} |")
    print()


def transfer_table(data, servers):
    rows = []
    for sv in servers:
        cells = []
        for kind in ("upload", "download"):
            vals = [v for k, vs in data.get((sv, kind), {}).items() if k.startswith("mibs.") for v in vs]
            good = [num(v) for v in vals if num(v) is not None]
            if not vals:
                cells.append("—")
            elif good:
                fails = len(vals) - len(good)
                cells.append(f"{statistics.median(good):.0f} ({min(good):.0f}–{max(good):.0f})"
                             + (f", {fails} failed" if fails else ""))
            else:
                cells.append(f"FAILED ×{len(vals)}")
        if cells != ["—", "—"]:
            rows.append((sv, cells, med(data.get((sv, "transfer"), {}).get("rss_kb"))))
    if rows:
        print("### Transfers (curl, MiB/s: median (min–max) over every repetition)\n")
        print("| server | upload | download | peak RSS |")
        print("|---|---:|---:|---:|")
        for sv, cells, rss in rows:
            print(f"| {sv} | {cells[0]} | {cells[1]} | {fmt_mib(rss)} |")
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tsv")
    ap.add_argument("--ref")
    args = ap.parse_args()
    data, servers = load(args.tsv)
    ref = args.ref or next((s for s in servers if s.startswith("werk")), None)
    wrk_tables(data, servers, ref)
    idle_tables(data, servers)
    transfer_table(data, servers)


if __name__ == "__main__":
    main()
