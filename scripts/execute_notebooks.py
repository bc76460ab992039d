"""Restart-and-run-all for chapter notebooks, then strip metadata noise.

Usage: python scripts/execute_notebooks.py chapters/08_position_wise_ffn.ipynb [...]

Each notebook runs top to bottom in a fresh kernel with the notebook's folder as working
directory (as nbval does), and is written back only if every cell succeeds (cells tagged
`raises-exception` may raise). Execution timestamps are not recorded, and the notebook
metadata is reduced to what the book and nbval need, so diffs show only real changes.
"""

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {
    "name": "python",
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
NOISY_CELL_KEYS = ("execution", "collapsed", "scrolled", "ExecuteTime")


def normalise(nb):
    """Keep only stable metadata: kernelspec, language_info, and cell tags/nbgrader fields."""
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO})
    for cell in nb.cells:
        for key in NOISY_CELL_KEYS:
            cell.metadata.pop(key, None)
    return nb


def execute(path, timeout):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.validate(nb)
    nbformat.write(normalise(nb), path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)

    missing = [str(p) for p in args.notebooks if not p.is_file() or p.suffix != ".ipynb"]
    if missing:
        sys.exit(f"error: not a notebook file: {', '.join(missing)} (give paths like chapters/08_position_wise_ffn.ipynb)")

    failed = []
    for path in args.notebooks:
        print(f"executing {path} ...", flush=True)
        try:
            execute(path, args.timeout)
        except CellExecutionError as err:
            failed.append(str(path))
            print(f"error: {path} failed and was not written back:\n{err}", file=sys.stderr)
        except Exception as err:  # a kernel that dies, invalid JSON, a timeout: say which notebook
            failed.append(str(path))
            print(f"error: {path}: {type(err).__name__}: {err}", file=sys.stderr)
    if failed:
        sys.exit(f"error: {len(failed)} notebook(s) failed: {', '.join(failed)}; fix the cell shown above and rerun")
    print(f"ok: {len(args.notebooks)} notebook(s) executed and normalised")


if __name__ == "__main__":
    main()
