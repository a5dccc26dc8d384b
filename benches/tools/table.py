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

WRK_SCENARIOS = ["ka1", "ka16", "ka256", "ka1024", "close16", "pipe16", "idle64ka16", "neighbour16"]

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
    rows = [sv for sv in servers if any(data.get((sv, k)) for k in ("starve", "idle64ka16", "hello"))]
    if not rows:
        return
    print("### Idle and silent connections, memory\n")
    print("Fresh request: time for one `GET /` on a new connection while 64 others wait (5 s cap; "
          "median over the runs). Idle during load: 64 idle keep-alive connections held while "
          "`wrk -c16` ran, then each sent a request.\n")
    print("| server | 64 idle keep-alive → fresh request | 64 silent → fresh request | idle during ka16 load → next request | peak RSS |")
    print("|---|---|---|---|---:|")
    for sv in rows:
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
        print(f"| {sv} | {starve_cell(st, 'idle')} | {starve_cell(st, 'silent')} | {hv} | {fmt_mib(rss)} |")
    print()


def rates(m):
    """Every repetition's MiB/s of a transfer scenario: (all values, numbers)."""
    vals = [v for k, vs in m.items() if k.startswith("mibs.") for v in vs]
    return vals, [num(v) for v in vals if num(v) is not None]


def rate_cell(m):
    vals, good = rates(m)
    if not vals:
        return "—"
    if not good:
        return f"FAILED ×{len(vals)}"
    fails = len(vals) - len(good)
    return (f"{statistics.median(good):.0f} ({min(good):.0f}–{max(good):.0f})"
            + (f", {fails} failed" if fails else ""))


def cpu_cell(m):
    """The server's CPU time per repetition, median in ms."""
    x = med([v for k, vs in m.items() if k.startswith("cpu_ms.") for v in vs])
    return "—" if x is None else f"{x:.1f}"


def sizes(data, servers, scenario, key="size_mib"):
    got = sorted({v for sv in servers for v in data.get((sv, scenario), {}).get(key, [])}, key=num)
    return "/".join(got) if got else "?"


def transfer_table(data, servers):
    rows = []
    for sv in servers:
        cells = [rate_cell(data.get((sv, kind), {})) for kind in ("upload", "download")]
        if "no" in data.get((sv, "download"), {}).get("same_bytes", []):
            cells[1] += " (not the pattern's bytes)"
        cells += [cpu_cell(data.get((sv, kind), {})) for kind in ("upload", "download")]
        if cells[:2] != ["—", "—"]:
            rows.append((sv, cells, med(data.get((sv, "transfer"), {}).get("rss_kb"))))
    if rows:
        print(f"### Transfers ({sizes(data, servers, 'transfer')} MiB with curl, MiB/s: median (min–max) "
              f"over every repetition)\n")
        print("Upload: the server reads the body, discards it and answers the byte count (werk: the echo "
              "app's `/discard`). Download: the alphabet repeated, sent from a precomputed block in "
              f"{sizes(data, servers, 'transfer', 'piece_kib')} KiB pieces "
              "(werk: `/bytes/N`), checked to be the same bytes for every server.\n")
        print("| server | upload | download | server CPU ms per upload / download (median) | peak RSS |")
        print("|---|---:|---:|---:|---:|")
        for sv, cells, rss in rows:
            print(f"| {sv} | {cells[0]} | {cells[1]} | {cells[2]} / {cells[3]} | {fmt_mib(rss)} |")
        print()


def static_table(data, servers):
    rows = [sv for sv in servers if rates(data.get((sv, "static"), {}))[0]]
    if not rows:
        return
    _, ceiling = rates(data.get(("copy", "static"), {}))
    ceiling = statistics.median(ceiling) if ceiling else None
    print(f"### Static file ({sizes(data, servers, 'static')} MiB from the page cache, curl -o /dev/null, "
          f"MiB/s: median (min–max))\n")
    print("`copy` is the ceiling: `std::io::copy(&mut File, &mut TcpStream)` after a minimal head "
          "(benches/peers `peer-copy`; std does not use `sendfile` there, it is a loop of 8 KiB "
          "`read`/`send`); `copy-nodelay` the same with `TCP_NODELAY`, which werk sets on every "
          "connection. werk: `serve hello --static /files=DIR`, which sends the file with "
          "`sendfile(2)` and the socket corked.\n")
    print("| server | MiB/s | ÷ copy |")
    print("|---|---:|---:|")
    for sv in rows:
        _, good = rates(data[(sv, "static")])
        ratio = f"{statistics.median(good) / ceiling:.2f}" if good and ceiling else "n/a"
        print(f"| {sv} | {rate_cell(data[(sv, 'static')])} | {ratio} |")
    print()


def alloc_table(data, servers):
    rows = [sv for sv in servers if data.get((sv, "allocs"), {}).get("ka_allocs")]
    if not rows:
        return
    print("### Heap allocations per request (werk-alloc: the hello app under a counting allocator)\n")
    print("Medians over the runs (each run the median of its rounds). allocs = `alloc` + "
          "`alloc_zeroed` calls; bytes = bytes asked for, `realloc`s included at their new size. "
          "The counter reads are subtracted.\n")
    print("| server | keep-alive: allocs | reallocs | bytes | new connection: allocs | reallocs | bytes | requests |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for sv in rows:
        m = data[(sv, "allocs")]

        def cell(k, digits=1):
            x = med(m.get(k))
            return "n/a" if x is None else f"{x:.{digits}f}"
        print(f"| {sv} | {cell('ka_allocs')} | {cell('ka_reallocs')} | {cell('ka_bytes', 0)} | "
              f"{cell('new_allocs')} | {cell('new_reallocs')} | {cell('new_bytes', 0)} | "
              f"{'/'.join(m.get('n', []))} keep-alive, {'/'.join(m.get('m', []))} new |")
    print()


def startup_table(data, servers):
    rows = [sv for sv in servers if data.get((sv, "startup"), {}).get("n")]
    if not rows:
        return
    print("### Start-up (tools/startup.py)\n")
    print("From just before `posix_spawn` of the server (vfork + exec) to the first `connect()` "
          "that succeeds, polling every 0.5 ms (`STARTUP_POLL`; the figures are that coarse); "
          "first response: to the first byte of the answer to `GET /` on that connection. Median "
          "(min–max) over every start.\n")
    print("| server | listening | first response | starts |")
    print("|---|---:|---:|---:|")
    for sv in rows:
        m = data[(sv, "startup")]
        samples = [num(x) for v in m.get("samples", []) for x in v.split(",") if num(x) is not None]
        listen = (f"{statistics.median(samples):.1f} ms ({min(samples):.1f}–{max(samples):.1f})"
                  if samples else "n/a")
        first = med(m.get("first_ms"))
        failed = sum(int(num(v) or 0) for v in m.get("failed", []))
        starts = f"{len(samples)}" + (f", {failed} failed" if failed else "")
        print(f"| {sv} | {listen} | {'n/a' if first is None else f'{first:.1f} ms'} | {starts} |")
    print()


def idle1024_table(data, servers):
    rows = [sv for sv in servers if data.get((sv, "idle1024"))]
    if not rows:
        return
    print("### Memory with idle keep-alive connections (tools/idleconns.py rss)\n")
    print("A fresh server; n connections each make one `GET /` and stay open, idle; 1 s later the "
          "server's VmRSS and VmHWM (summed over its process tree). Medians over the runs.\n")
    print("| server | connections (answered / still open) | RSS before | RSS with them | peak (VmHWM) | per connection |")
    print("|---|---|---:|---:|---:|---:|")
    for sv in rows:
        m = data[(sv, "idle1024")]
        if m.get("failed"):
            print(f"| {sv} | failed | | | | |")
            continue
        before, rss, hwm = med(m.get("rss_before_kb")), med(m.get("rss_kb")), med(m.get("hwm_kb"))
        opened = med(m.get("open"))
        per = (f"{(rss - before) / opened:.1f} KiB" if None not in (rss, before) and opened else "n/a")
        conns = (f"{'/'.join(m.get('open', []))} ({'/'.join(m.get('answered', []))} / "
                 f"{'/'.join(m.get('still_open', []))})")
        print(f"| {sv} | {conns} | {fmt_mib(before)} | {fmt_mib(rss)} | {fmt_mib(hwm)} | {per} |")
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
    static_table(data, servers)
    alloc_table(data, servers)
    startup_table(data, servers)
    idle1024_table(data, servers)


if __name__ == "__main__":
    main()
