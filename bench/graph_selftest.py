"""`python3 bench/dni_numpy.py --selftest`: the graph code checked against what it cannot fool.

  (a) graph-branch.json, the graph reference case, float64 and float32; and the random case
      generator, given graph-branch's config, redraws its data and initial weights bit for bit;
  (b) the five chain reference cases written as graphs, through the graph code; and random chains
      (every activation, any decoupling, conditioned, delays 0-2): graph code against the chain train();
  (c) random graph cases: float32 within 1e-5 of their float64 answers;
  (d) random graphs, every edge backprop, one batch: the step the graph code applies equals a
      central finite difference of the weighted loss;
  (e) graph-unlock.json (forward and complete unlocks, lambda, a warm-up), float64 and float32; and
      on graph-unlock's graph, lambda = 1 on every dni edge, or a warm-up longer than the run, gives
      backprop's node parameters exactly, while lambda = 0.5 does not.
Prints one line per check and returns the number of failures.
"""
import json, os, time
import numpy as np
from dni_graph_numpy import train_graph
from graph_cases import chain_as_graph, draw_case_data, random_graph_case, random_graph_config

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'reference')
CHAIN_CASES = ('backprop', 'dni', 'dni-all', 'cdni', 'dni-delay2')


def deviations(got, case, relative_synth=False):
    """(max |param diff|, max relative loss diff, max synthesizer loss diff) of (final, losses, synth)
    against a case's answers; the synthesizer loss diff relative to max(|answer|, 1e-3) if asked
    (the TypeScript tests' measure), absolute otherwise (the reference files' measure)."""
    final, losses, synth = got
    if sorted(final) != sorted(case['final']): raise KeyError(f'parameter keys differ: {sorted(final)}')
    dp = max(float(np.abs(final[k] - np.asarray(v)).max()) for k, v in case['final'].items())
    rl = max(abs(a - b) / abs(b) for a, b in zip(losses, case['losses']))
    scale = (lambda b: max(abs(b), 1e-3)) if relative_synth else (lambda b: 1.0)
    ds = max(abs(a - b) / scale(b) for a, b in zip(synth, case['synthesizer_losses']))
    return dp, rl, ds


def run_case(case, dtype=np.float64):
    c = case['config']
    return train_graph(c, case['x'], case['y'], case['initial'], c['steps'], dtype)


class Table:
    def __init__(self):
        self.failures = 0

    def row(self, name, ok, what):
        self.failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:34s} {what}", flush=True)


def fmt(dp, rl, ds, synth='synth loss'):
    return f'param {dp:.1e}  rel loss {rl:.1e}  {synth} {ds:.1e}'


def check_reference(table):
    path = os.path.join(REFERENCE, 'graph-branch.json')
    case = json.load(open(path))
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        d = deviations(run_case(case, dtype), case)
        table.row(f'(a) graph-branch {np.dtype(dtype).name}', max(d) < tol, fmt(*d))
    x, y, initial = draw_case_data(case['config'], len(case['x']))
    same = (np.array_equal(x, case['x']) and all(np.array_equal(y[k], v) for k, v in case['y'].items())
            and sorted(initial) == sorted(case['initial'])
            and all(np.array_equal(initial[k], v) for k, v in case['initial'].items()))
    table.row('(a) graph-branch data redrawn', same, 'x, y, initial bit for bit' if same else 'differ')


def check_chains(table):
    for name in CHAIN_CASES:
        case = chain_as_graph(json.load(open(os.path.join(REFERENCE, name + '.json'))))
        d = deviations(run_case(case), case)
        table.row(f'(b) {name} as a graph', max(d) < 1e-14, fmt(*d))


def random_chain(rng):
    """A random chain case in the chain format (no answers): every activation, any decoupling."""
    L = int(rng.integers(1, 5))
    sizes = [int(rng.integers(2, 17)) for _ in range(L + 1)]
    rows, B = 24, 4
    cfg = {'sizes': sizes, 'activations': [str(a) for a in rng.choice(['sigmoid', 'tanh', 'relu', 'linear'], L)],
           'decoupled': [bool(d) for d in rng.random(L) < 0.6], 'conditioned': bool(rng.random() < 0.5),
           'delay': int(rng.integers(0, 3)), 'batch': B, 'lr': 0.1, 'lr_synthesizer': 0.05, 'steps': 20}
    init = {}
    for i in range(L):
        init[f'layer{i}.W'] = rng.uniform(-0.5, 0.5, (sizes[i], sizes[i + 1]))
        init[f'layer{i}.b'] = rng.uniform(-0.1, 0.1, sizes[i + 1])
        if cfg['decoupled'][i]:
            init[f'synth{i}.M'] = rng.uniform(-0.05, 0.05, (sizes[i + 1], sizes[i + 1]))
            init[f'synth{i}.c'] = rng.uniform(-0.05, 0.05, sizes[i + 1])
            if cfg['conditioned']: init[f'synth{i}.N'] = rng.uniform(-0.05, 0.05, (sizes[-1], sizes[i + 1]))
    return {'case': 'random chain', 'config': cfg, 'x': rng.uniform(-1, 1, (rows, sizes[0])),
            'y': rng.uniform(-1, 1, (rows, sizes[-1])), 'initial': init}


def check_random_chains(table, train_chain, count=50):
    rng, worst = np.random.default_rng(2024), (0.0, 0.0, 0.0)
    for _ in range(count):
        chain = random_chain(rng)
        final, losses, synth = train_chain(chain['config'], chain['x'], chain['y'], chain['initial'], 20)
        chain.update(final={k: v for k, v in final.items()}, losses=losses, synthesizer_losses=synth)
        graph = chain_as_graph(chain)
        d = deviations(run_case(graph), graph)
        worst = tuple(max(a, b) for a, b in zip(worst, d))
    table.row(f'(b) {count} random chains vs train()', max(worst) < 1e-13, fmt(*worst))


def check_float32(table, seeds=range(20)):
    worst = (0.0, 0.0, 0.0)
    for s in seeds:
        case = random_graph_case(s)
        d = deviations(run_case(case, np.float32), case, relative_synth=True)
        worst = tuple(max(a, b) for a, b in zip(worst, d))
    table.row(f'(c) random graphs {seeds.start}-{seeds.stop - 1} float32', max(worst) < 1e-5, fmt(*worst, synth='rel synth loss'))


def applied_and_numerical(seed, h=1e-6, per_matrix=25):
    """One batch, every edge backprop: (step applied / lr, central differences of the loss) at sampled entries."""
    cfg, rows = random_graph_config(seed, steps=1)
    cfg['interfaces'] = []
    x, y, initial = draw_case_data(cfg, rows)
    final, _, _ = train_graph(cfg, x, y, initial, 1)
    loss = lambda p: train_graph(cfg, x, y, p, 1)[1][0]  # losses[0] is batch 0's loss before any update
    rng, applied, numerical = np.random.default_rng([seed, 99]), [], []
    for key, w in initial.items():
        flat = rng.choice(w.size, min(per_matrix, w.size), replace=False)
        for i in flat:
            idx = np.unravel_index(i, w.shape)
            up, down = dict(initial), dict(initial)
            up[key], down[key] = w.copy(), w.copy()
            up[key][idx] += h
            down[key][idx] -= h
            numerical.append((loss(up) - loss(down)) / (2 * h))
            applied.append((w[idx] - final[key][idx]) / cfg['lr'])
    return np.array(applied), np.array(numerical)


def check_finite_differences(table, seeds=range(100, 120)):
    worst, scale = 0.0, 0.0
    for s in seeds:
        applied, numerical = applied_and_numerical(s)
        worst, scale = max(worst, float(np.abs(applied - numerical).max())), max(scale, float(np.abs(numerical).max()))
    table.row(f'(d) finite differences, {len(seeds)} graphs', worst < 1e-7,
              f'max |applied - numerical| {worst:.1e} (gradients up to {scale:.1e})')


def check_unlocks(table):
    case = json.load(open(os.path.join(REFERENCE, 'graph-unlock.json')))
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        d = deviations(run_case(case, dtype), case, relative_synth=True)
        table.row(f'(e) graph-unlock {np.dtype(dtype).name}', max(d) < tol, fmt(*d, synth='rel synth loss'))
    c, steps = case['config'], 60
    nodes = {k: v for k, v in case['initial'].items() if ':' not in k}

    def node_params(interfaces):
        cfg = {**c, 'interfaces': interfaces}
        init = dict(nodes)
        for i in interfaces:  # zero synthesizers, as the reference files start them
            w = next(n['units'] for n in c['nodes'] if n['id'] == i['from'])
            init[f"synth:{i['from']}>{i['to']}.M"], init[f"synth:{i['from']}>{i['to']}.c"] = np.zeros((w, w)), np.zeros(w)
        final = train_graph(cfg, case['x'], case['y'], init, steps)[0]
        return {k: final[k] for k in nodes}

    edges = [('l0', 'l1'), ('l1', 'm'), ('m', 'o')]
    backprop = node_params([])
    for name, mixing, want in (('lambda = 1', {'lambda': 1.0}, True), ('warm-up > steps', {'warmup': steps + 1}, True), ('lambda = 0.5', {'lambda': 0.5}, False)):
        got = node_params([{'from': u, 'to': v, 'kind': 'dni', 'delay': 1, **mixing} for u, v in edges])
        same = all(np.array_equal(got[k], backprop[k]) for k in nodes)
        table.row(f'(e) {name} vs backprop', same == want, ('identical' if same else 'differs') + f' over {steps} steps')


def selftest(train_chain):
    t0, table = time.perf_counter(), Table()
    check_reference(table)
    check_chains(table)
    check_random_chains(table, train_chain)
    check_float32(table)
    check_finite_differences(table)
    check_unlocks(table)
    print(f'{table.failures} failed, {time.perf_counter() - t0:.1f} s')
    return table.failures
