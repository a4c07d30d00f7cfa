"""numpy's side of `npm run bench -- kernels`: float32 A·B, Aᵀ·B and A·Bᵀ with the same timing scheme.

Usage: python3 bench/numpy_kernels.py '{"sizes": [[m, k, n], ...], "warmup": s, "budget": s}'
Prints one JSON object: the settings numpy ran with and seconds per call (best and median round).
Run it with OPENBLAS_NUM_THREADS=1 (bench/kernels.ts does, and removes OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE from this process only: on this machine they make OpenBLAS 25-35% slower).
"""
import json
import os
import sys
import time

import numpy as np


def blas_info():
    info = {"numpy": np.__version__}
    try:
        from threadpoolctl import threadpool_info

        info["threadpoolctl"] = [
            {k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            for p in threadpool_info()
        ]
    except ImportError:
        info["threadpoolctl"] = "not importable: the OpenBLAS kernel (architecture) is not reported"
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration") if k in blas}
    except Exception as err:  # older numpy: no mode="dicts"
        info["blas"] = f"unknown ({err})"
    info["corename"] = openblas_corename()
    info["env"] = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}
    return info


def openblas_corename():
    """The kernel OpenBLAS picked at run time, asked through ctypes (works without threadpoolctl)."""
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            libs = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return "unknown (no /proc/self/maps)"
    for path in libs:
        lib = ctypes.CDLL(path)
        for sym in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(lib, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return "unknown (no OpenBLAS library loaded)"


def time_call(fn, warmup, budget):
    """(best, median) seconds per call over rounds of ~10 ms after `warmup` seconds of calls."""
    end = time.perf_counter() + warmup
    calls = 0
    while calls < 3 or time.perf_counter() < end:
        fn()
        calls += 1
    t = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t, 1e-7)
    reps = max(1, int(0.01 / once))
    rounds = []
    end = time.perf_counter() + budget
    while len(rounds) < 3 or time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        rounds.append((time.perf_counter() - t) / reps)
    rounds.sort()
    return rounds[0], rounds[len(rounds) // 2]


def main():
    cfg = json.loads(sys.argv[1])
    rng = np.random.default_rng(1)
    results = []
    for m, k, n in cfg["sizes"]:
        c = np.empty((m, n), np.float32)
        a = rng.standard_normal((m, k), dtype=np.float32)
        at = rng.standard_normal((k, m), dtype=np.float32)  # stored k×m, used as Aᵀ
        b = rng.standard_normal((k, n), dtype=np.float32)
        bt = rng.standard_normal((n, k), dtype=np.float32)  # stored n×k, used as Bᵀ
        ops = {
            "matmul": lambda: np.matmul(a, b, out=c),
            "matmulTA": lambda: np.matmul(at.T, b, out=c),
            "matmulTB": lambda: np.matmul(a, bt.T, out=c),
        }
        for op, fn in ops.items():
            best, median = time_call(fn, cfg["warmup"], cfg["budget"])
            results.append({"op": op, "m": m, "k": k, "n": n, "seconds": best, "medianSeconds": median})
    print(json.dumps({"settings": blas_info(), "results": results}))


if __name__ == "__main__":
    main()
