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


CHECKS = {"ph-libraries": ph_libraries}
HISTORICAL = {}
