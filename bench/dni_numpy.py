"""Plain numpy implementation of the DNI maths in docs/maths.md (sequential order): chains and graphs.

Modes (run with OPENBLAS_NUM_THREADS=1):
  python3 bench/dni_numpy.py CASE.json... [--dtype float32]
      train each case and print its max deviations from the case's answers
      (parameters absolute, losses relative, synthesizer losses absolute)
  python3 bench/dni_numpy.py CASE.json --emit OUT.json
      train the case in float64 and write {final, losses, synthesizer_losses}
  python3 bench/dni_numpy.py --time [--steps N] [--json]
      time per batch step of the seed network with DNI (the numpy side of `npm run bench -- seed`)
  python3 bench/dni_numpy.py --random-graph SEED [--steps N] [--out CASE.json]
      write a random graph case (answers computed in float64) to CASE.json, or to stdout without --out
  python3 bench/dni_numpy.py --random-graph FIRST-LAST [--steps N] --out DIR
      write the cases of seeds FIRST..LAST as DIR/random-graph-SEED.json (one process: python and
      numpy start once, ~0.2 s, where a case takes ~5 ms)
  python3 bench/dni_numpy.py --random-graph SEED [--steps N] --print
      print that case's structure, and how far float32 lands from its float64 answers
  python3 bench/dni_numpy.py --chain-as-graph CHAIN.json --out GRAPH.json
      write a chain case (answers included) as the graph case it is: nodes layer{i}, head `head`
  python3 bench/dni_numpy.py --selftest
      check the graph code against the reference files, the chain code, float32 and finite
      differences; exits non-zero on a failure

A case is a graph case when `config.kind == "graph"` (docs/maths.md, "Graphs": bench/dni_graph_numpy.py,
which shares no code with the chain `train()` below); otherwise it is a chain case (`config.sizes`).
Random graph cases and chains written as graphs: bench/graph_cases.py; the self-test:
bench/graph_selftest.py.
"""
import json, os, sys, time
import numpy as np
from dni_graph_numpy import train_graph
from graph_cases import chain_as_graph, describe, random_graph_case

ACT = {
    'sigmoid': (lambda z: 1 / (1 + np.exp(-z)), lambda h: h * (1 - h)),
    'tanh': (np.tanh, lambda h: 1 - h * h),
    'relu': (lambda z: np.maximum(z, 0), lambda h: (h > 0).astype(h.dtype)),
    'linear': (lambda z: z, lambda h: np.ones_like(h)),
}


def train(cfg, x, y, params, steps, dtype=np.float64):
    p = {k: np.array(v, dtype=dtype) for k, v in params.items()}
    x = np.asarray(x, dtype=dtype); y = np.asarray(y, dtype=dtype)
    sizes, acts, dec = cfg['sizes'], cfg['activations'], cfg['decoupled']
    L, B, lr, lrs, delay = len(sizes) - 1, cfg['batch'], cfg['lr'], cfg['lr_synthesizer'], cfg['delay']
    cond = cfg.get('conditioned', False)
    n = x.shape[0] // B
    pending = {i: [] for i in range(L) if dec[i]}  # (batch, h, y, target)
    losses, slosses = [], []

    def refit(i, h, yb, g):
        M, c = p[f'synth{i}.M'], p[f'synth{i}.c']
        e = h @ M + c + (yb @ p[f'synth{i}.N'] if cond else 0) - g
        p[f'synth{i}.M'] = M - lrs * h.T @ e / B
        p[f'synth{i}.c'] = c - lrs * e.mean(0)
        if cond: p[f'synth{i}.N'] -= lrs * yb.T @ e / B

    for t in range(steps):
        r = (t % n) * B
        xb, yb = x[r:r + B], y[r:r + B]
        hs, preds, a = [], {}, xb
        for i in range(L):
            h = ACT[acts[i]][0](a @ p[f'layer{i}.W'] + p[f'layer{i}.b'])
            hs.append((a, h))
            if dec[i]:
                while pending[i] and pending[i][0][0] <= t - 1 - delay:
                    _, ph, py, pg = pending[i].pop(0); refit(i, ph, py, pg)
                g_hat = h @ p[f'synth{i}.M'] + p[f'synth{i}.c'] + (yb @ p[f'synth{i}.N'] if cond else 0)
                preds[i] = g_hat
            a = h
        losses.append(float(0.5 * ((a - yb) ** 2).sum(1).mean()))
        # gradients: decoupled layers update with g_hat, others with what comes from above
        g_above = a - yb
        upstream = [None] * L
        for i in reversed(range(L)):
            xin, h = hs[i]
            g = preds[i] if dec[i] else g_above
            d = g * ACT[acts[i]][1](h)
            gx = d @ p[f'layer{i}.W'].T
            p[f'layer{i}.W'] -= lr * xin.T @ d / B
            p[f'layer{i}.b'] -= lr * d.mean(0)
            target = g_above
            if dec[i]: pending[i].append((t, h, yb, target))
            g_above = gx
        sl = 0.0
        for i in pending:
            bt, ph, py, pg = pending[i][-1]
            sl += float(0.5 * ((preds[i] - pg) ** 2).sum(1).mean())
        slosses.append(sl)
    for i in pending:
        while pending[i]:
            _, ph, py, pg = pending[i].pop(0); refit(i, ph, py, pg)
    return p, losses, slosses


def is_graph(case):
    return case['config'].get('kind') == 'graph'


def train_case(d, dtype=np.float64):
    """(final, losses, synthesizer_losses) of a chain or graph case."""
    c = d['config']
    if is_graph(d):
        return train_graph(c, d['x'], d['y'], d['initial'], c['steps'], dtype)
    return train(c, d['x'], d['y'], d['initial'], c['steps'], dtype)


def check(path, dtype):
    d = json.load(open(path))
    if d['config'].get('kind') == 'rnn':
        print(f"{d['case']:12s} skipped: recurrent cases are not implemented here")
        return
    p, losses, sl = train_case(d, dtype)
    dp = max(float(np.abs(p[k] - np.array(v)).max()) for k, v in d['final'].items())
    rl = max(abs(a - b) / abs(b) for a, b in zip(losses, d['losses']))
    ds = max(abs(a - b) for a, b in zip(sl, d['synthesizer_losses']))
    print(f"{d['case']:12s} {np.dtype(dtype).name}: max|param diff| {dp:.2e}  max rel loss diff {rl:.2e}  max synth loss diff {ds:.2e}")


def random_graph(args):
    """--random-graph SEED [--steps N] [--out FILE | --print], or --random-graph FIRST-LAST --out DIR"""
    seeds = args[args.index('--random-graph') + 1]
    steps = int(args[args.index('--steps') + 1]) if '--steps' in args else 30
    if steps < 1: sys.exit('--random-graph: --steps must be at least 1')
    if '-' in seeds:
        first, last = (int(s) for s in seeds.split('-'))
        if '--out' not in args: sys.exit('--random-graph FIRST-LAST needs --out DIR')
        out = args[args.index('--out') + 1]
        os.makedirs(out, exist_ok=True)
        for seed in range(first, last + 1):
            with open(os.path.join(out, f'random-graph-{seed}.json'), 'w') as f: json.dump(random_graph_case(seed, steps), f)
        return
    seed = int(seeds)
    case = random_graph_case(seed, steps)
    if '--print' in args:
        print(describe(case['config']))
        print(f"  rows {len(case['x'])}, losses {case['losses'][0]:.4g} -> {case['losses'][-1]:.4g}")
        p, losses, sl = train_graph(case['config'], case['x'], case['y'], case['initial'], steps, np.float32)
        dp = max(float(np.abs(p[k] - np.array(v)).max()) for k, v in case['final'].items())
        rl = max(abs(a - b) / max(abs(b), 1e-3) for a, b in zip(losses + sl, case['losses'] + case['synthesizer_losses']))
        print(f'  float32 vs these float64 answers: max|param diff| {dp:.1e}, max rel loss diff {rl:.1e}')
    elif '--out' in args:
        with open(args[args.index('--out') + 1], 'w') as f: json.dump(case, f)
    else:
        json.dump(case, sys.stdout)


def time_seed(steps, dtype):
    """Time per batch step of the seed network (24-128-64-12 sigmoid, batch 10, DNI after layers 0, 1)."""
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2048, 1000), rng.integers(0, 2048, 1000)
    bits = lambda v: ((v[:, None] >> np.arange(11, -1, -1)) & 1)
    x, y = np.hstack([bits(a), bits(b)]).astype(dtype), bits(a + b).astype(dtype)
    sizes = [24, 128, 64, 12]
    params = {}
    for i in range(3):
        lim = np.sqrt(6 / (sizes[i] + sizes[i + 1]))
        params[f'layer{i}.W'] = rng.uniform(-lim, lim, (sizes[i], sizes[i + 1]))
        params[f'layer{i}.b'] = np.zeros(sizes[i + 1])
    for i in range(2):
        params[f'synth{i}.M'] = np.zeros((sizes[i + 1], sizes[i + 1]))
        params[f'synth{i}.c'] = np.zeros(sizes[i + 1])
    cfg = {'sizes': sizes, 'activations': ['sigmoid'] * 3, 'decoupled': [True, True, False], 'conditioned': False,
           'delay': 0, 'batch': 10, 'lr': 0.5, 'lr_synthesizer': 0.01}
    train(cfg, x, y, params, 200, dtype)  # warm-up
    best = float('inf')
    for _ in range(5):
        t0 = time.perf_counter()
        train(cfg, x, y, params, steps, dtype)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


if __name__ == '__main__':
    args = sys.argv[1:]
    if args and args[0] == '--time':
        steps = int(args[args.index('--steps') + 1]) if '--steps' in args else 2000
        info = {}
        try:
            from threadpoolctl import threadpool_info
            info = [{k: p.get(k) for k in ('internal_api', 'num_threads', 'architecture', 'version')} for p in threadpool_info()]
        except Exception as e:  # threadpoolctl is optional
            info = f'threadpoolctl unavailable ({type(e).__name__})'
        import os
        print(json.dumps({
            'us_per_step_float32': time_seed(steps, np.float32) * 1e6,
            'us_per_step_float64': time_seed(steps, np.float64) * 1e6,
            'numpy': np.__version__,
            'blas': info,
            'env': {k: os.environ.get(k) for k in ('OPENBLAS_NUM_THREADS', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')},
        }))
        sys.exit(0)
    if args and args[0] == '--selftest':
        from graph_selftest import selftest
        sys.exit(1 if selftest(train) else 0)
    if '--random-graph' in args:
        random_graph(args)
    elif '--chain-as-graph' in args:
        graph = chain_as_graph(json.load(open(args[args.index('--chain-as-graph') + 1])))
        json.dump(graph, open(args[args.index('--out') + 1], 'w'))
    elif '--emit' in args:
        d = json.load(open(args[0]))
        p, losses, sl = train_case(d)
        out = {'final': {k: v.tolist() for k, v in p.items()}, 'losses': losses, 'synthesizer_losses': sl}
        json.dump(out, open(args[args.index('--emit') + 1], 'w'))
    elif args and args[0] != '--time':
        dtype = np.float32 if '--dtype' in args and args[args.index('--dtype') + 1] == 'float32' else np.float64
        for a in args:
            if a.endswith('.json'): check(a, dtype)
