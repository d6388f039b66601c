"""Many threads reading many small .npy files; run as a script (``python thread_stress.py LOADER ROUNDS``) so that
the switch interval and collector settings it needs do not leak into the test process.

Prints one JSON line: {"loads": ..., "errors": [...], "seconds": ...}. LOADER is ``numpy`` (plain
``numpy.load``) or ``guarded`` (``motioneval._npio.load``). Cyclic garbage with a finalizer makes the collector
run Python code in the middle of whatever allocates (including the ast constructor inside ``numpy.load``'s
header parsing), and a tiny switch interval lets another thread take the GIL right there. CPython 3.11.0-3.11.7
keeps the ast constructor's recursion counter in shared state and checks it against the caller's stack depth, so
the threads call the loader at different depths: an interleaving there then raises ``SystemError: AST
constructor recursion depth mismatch`` on a good file.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import threading
import time

import numpy as np

from motioneval import _npio


class Cycle:
    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        time.sleep(0)


def main(loader_name: str, rounds: int, threads: int = 8) -> None:
    loader = np.load if loader_name == "numpy" else _npio.load
    folder = tempfile.mkdtemp()
    paths, expected = [], []
    for i in range(32):
        a = np.full((3,) * (1 + i % 3), i, dtype=[np.float32, np.int64][i % 2])
        paths.append(os.path.join(folder, f"{i}.npy"))
        np.save(paths[-1], a)
        expected.append(a)
    errors: list[str] = []
    loads = [0] * threads
    stop = threading.Event()
    sys.setswitchinterval(1e-6)
    gc.freeze()  # imports leave many long-lived objects, which make full collections rare; set them aside
    gc.set_threshold(50)

    def at_depth(extra: int, p: str) -> np.ndarray:
        # CPython 3.11 records the caller's stack depth in shared ast state and compares it after building the
        # tree: threads at different depths turn an interleaving into an error instead of a silent pass
        return at_depth(extra - 1, p) if extra > 0 else loader(p)

    def work(k: int) -> None:
        last = {}
        for _ in range(rounds):
            for i, p in enumerate(paths):
                if stop.is_set():
                    return
                Cycle()
                try:
                    last[i] = at_depth(3 * k, p)
                    loads[k] += 1
                except Exception as exc:  # any exception on a good file is the failure looked for
                    errors.append(f"{p}: {type(exc).__name__}: {exc}")
                    stop.set()
        for i, got in last.items():  # afterwards: checking inside the loop dilutes the race
            if got.dtype != expected[i].dtype or not np.array_equal(got, expected[i]):
                errors.append(f"{paths[i]}: wrong values")

    t0 = time.perf_counter()
    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(json.dumps({"loads": sum(loads), "errors": errors, "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
