"""Re-scoring of docs/geometry.md (see benchmarks/rescore.py for the convention)."""

LIBRARIES = ("ripser", "giotto-ph", "giotto-ph-2threads", "gudhi")


def ph_libraries(block, data):
    """Seconds and peak extra MB per (n, library) from benchmarks/bench_ph_libraries.py's rows."""
    _, rows = data("geometry/ph_libraries")
    by = {}
    for r in rows:
        by.setdefault(r["n"], {})[r["library"]] = r
    for i, n in enumerate(sorted(by)):
        block.cell(i, 0).numbers(n)
        for j, lib in enumerate(LIBRARIES, start=1):
            r = by[n].get(lib)
            if r is None:
                block.cell(i, j).expect_text("not run")
            else:
                block.cell(i, j).numbers(r["seconds"], r["peak_extra_mb"])




def cost(block, data):
    """The cost table from bench_geometry.py's profile, gride and ph rows."""
    _, pr = data("geometry/profile")
    _, gr = data("geometry/gride")
    _, hr = data("geometry/ph")
    lid = next(r for r in pr if r["path"] == "lid512")
    prof = next(r for r in pr if r["path"] == "profile")
    ours = next(r for r in gr if r["path"] == "gride-ours")
    dad = next(r for r in gr if r["path"] == "gride-dadapy")
    ph = hr[0]
    block.cell(0, "cloud").numbers(lid["n"], lid["d"])
    block.cell(0, "lidscope").numbers(prof["seconds"])
    block.cell(0, "peer").numbers(lid["seconds"])
    block.cell(0, "ratio").numbers(prof["seconds"] / lid["seconds"])
    block.cell(1, "cloud").numbers(ours["n"], ours["d"])
    block.cell(1, "lidscope").numbers(ours["seconds"], ours["peak_extra_mb"])
    block.cell(1, "peer").numbers(dad["seconds"], dad["peak_extra_mb"])
    block.cell(1, "ratio").numbers(ours["seconds"] / dad["seconds"])
    block.cell(2, "cloud").numbers(ph["n"], ph["d"])
    block.cell(2, "lidscope").numbers(ph["seconds"])


def measure_cost(block, data):
    """Quick measure with and without --metrics all, from bench_geometry.py --parts measure."""
    _, rows = data("geometry/measure")
    lid = next(r for r in rows if r["path"].endswith("lid"))
    full = next(r for r in rows if r["path"].endswith("all"))
    block.cell(0, "total").numbers(lid["timings_s"]["total"])
    block.cell(0, "forward").numbers(lid["timings_s"]["extract"])
    block.cell(1, "total").numbers(full["timings_s"]["total"])
    block.cell(1, "forward").numbers(full["timings_s"]["extract"])
    block.cell(1, "descriptors").numbers(full["timings_s"]["geometry"])


CHECKS = {"ph-libraries": ph_libraries, "cost": cost, "measure-cost": measure_cost}
HISTORICAL = {}
