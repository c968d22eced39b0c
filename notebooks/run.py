"""Executes every notebook of this folder headless (nbclient) against a fedser cache.

    python notebooks/run.py CACHE_DIR

Executed copies go to CACHE_DIR/notebooks/. A failing cell fails the run
(exit 1) with the notebook and the error, so `make ci-notebooks` catches a
notebook that no longer matches fedser's tables.
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cache = Path(sys.argv[1]).resolve()
    if not (cache / "report" / "results.json").exists():
        print(f"error: {cache} has no report/results.json: run the pipeline first", file=sys.stderr)
        return 1
    here = Path(__file__).resolve().parent
    out = cache / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    os.environ["FEDSER_CACHE"] = str(cache)
    os.environ.setdefault("MPLBACKEND", "Agg")
    failed = 0
    for path in sorted(here.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        t0 = time.monotonic()
        try:
            NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(here)}}).execute()
            status = "ok"
        except CellExecutionError as e:
            failed += 1
            status = "FAILED"
            print(f"error: {path.name}: {e}", file=sys.stderr)
        nbformat.write(nb, out / path.name)
        print(f"{path.name}: {status} in {time.monotonic() - t0:.1f} s -> {out / path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
