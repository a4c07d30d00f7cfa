"""Plain numpy implementation of docs/maths.md's "Recurrent interfaces" (truncated BPTT, boundary
synthesizer, bootstrapped targets, refit one window late), for the tanh and LSTM cells, one layer.
Written independently of lib/recurrent (batch-major arrays, a Python loop over steps).

  python3 bench/rnn_numpy.py CASE.json [--dtype float32]  -> max deviations from the case's answers
  python3 bench/rnn_numpy.py --emit-lstm OUT.json          -> writes an LSTM + DNI + Adam + clip case
  python3 bench/rnn_numpy.py --time [--hidden 256 --batch 16 --truncation 8 --width 8 --length 10 --steps N]
                                                           -> µs per window (one step), LSTM, DNI, Adam, float32
It is the numpy side of `npm run bench -- rnn`; run it with OPENBLAS_NUM_THREADS=1.

LSTM: z = x Wx + h Wh + b in gate blocks [i | f | o | g]; c = f c' + i g; h = o tanh(c); the
carried state is [h | c] and the synthesizer predicts the gradient with respect to both.
"""
import json, sys, time
import numpy as np


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


class Adam:
    def __init__(self, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t, self.m, self.v = lr, b1, b2, eps, 0, {}, {}

    def __call__(self, p, grads):
        # in place, bias corrections folded into the step size and eps (same maths as m̂ / (√v̂ + ε))
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, np.sqrt(1 - self.b2 ** self.t)
        lr, eps = self.lr * c2 / c1, self.eps * c2
        for k, g in grads.items():
            if k not in self.m:
                self.m[k], self.v[k] = np.zeros_like(g), np.zeros_like(g)
            m, v = self.m[k], self.v[k]
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * (g * g)
            d = np.sqrt(v)
            d += eps
            np.divide(m, d, out=d)
            d *= lr
            p[k] -= d


class Sgd:
    def __init__(self, lr):
        self.lr = lr

    def __call__(self, p, grads):
        for k, g in grads.items():
            p[k] = p[k] - self.lr * g


def optimizer(spec, lr):
    if spec and spec['kind'] == 'adam':
        return Adam(spec['lr'], spec.get('beta1', 0.9), spec.get('beta2', 0.999), spec.get('eps', 1e-8))
    return Sgd(spec['lr'] if spec else lr)


def clipped(grads, clip):
    if clip is None:
        return grads
    norm = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))
    return {k: g * (clip / norm) for k, g in grads.items()} if norm > clip else grads


def train(cfg, x, y, mask, params, steps, dtype=np.float64):
    p = {k: np.array(v, dtype=dtype) for k, v in params.items()}
    x, y, mask = (np.asarray(a, dtype=dtype) for a in (x, y, mask))
    N, L, _ = x.shape
    cell, H, T, B = cfg['cell'], cfg['hidden'], cfg['truncation'], cfg['batch']
    lstm = cell == 'lstm'
    W = -(-L // T)
    nb = N // B
    clip = cfg.get('clip')
    opt_core = optimizer(cfg.get('optimizer'), cfg['lr'])
    opt_read = optimizer(cfg.get('optimizer'), cfg['lr'])
    opt_syn = optimizer(cfg.get('optimizer_synthesizer'), cfg['lr_synthesizer'])
    S = 2 * H if lstm else H
    state = np.zeros((B, S), dtype)
    losses, slosses = [], []
    for s in range(steps):
        j, k = divmod(s, W)
        r0 = (j % nb) * B
        t0, n = k * T, min(T, L - k * T)
        xb, yb, mb = x[r0:r0 + B, t0:t0 + n], y[r0:r0 + B, t0:t0 + n], mask[r0:r0 + B, t0:t0 + n]
        s_in = np.zeros((B, S), dtype) if k == 0 else state
        h, c = s_in[:, :H], (s_in[:, H:] if lstm else None)
        hs, cs, acts = [h], [c], []
        # (1) forward
        for t in range(n):
            z = xb[:, t] @ p['core.Wx'] + hs[-1] @ p['core.Wh'] + p['core.b']
            if lstm:
                i, f, o, g = sig(z[:, :H]), sig(z[:, H:2 * H]), sig(z[:, 2 * H:3 * H]), np.tanh(z[:, 3 * H:])
                cn = f * cs[-1] + i * g
                tc = np.tanh(cn)
                hs.append(o * tc); cs.append(cn); acts.append((i, f, o, g, tc))
            else:
                hs.append(np.tanh(z))
        s_last = np.concatenate([hs[-1], cs[-1]], 1) if lstm else hs[-1]
        logits = [hs[t + 1] @ p['readout.W'] + p['readout.b'] for t in range(n)]
        loss = sum(float((mb[:, t] * (np.logaddexp(0, logits[t]) - yb[:, t] * logits[t]).sum(1)).sum()) for t in range(n)) / B
        losses.append(loss)
        # (2) prediction for the boundary, none after the last window
        g_hat = s_last @ p['synth.M'] + p['synth.c'] if cfg['dni'] and k < W - 1 else np.zeros((B, S), dtype)
        # (3) BPTT, per-example gradients
        # readout gradients of every step at once (step-major rows), then BPTT step by step
        Hcur = np.concatenate(hs[1:])
        dZ = (sig(np.concatenate(logits)) - yb.transpose(1, 0, 2).reshape(n * B, -1)) * mb.T.reshape(n * B, 1)
        dWy, dby = Hcur.T @ dZ, dZ.sum(0)
        dH = dZ @ p['readout.W'].T
        dpres = [None] * n
        dh_next, dc_next = g_hat[:, :H].copy(), (g_hat[:, H:].copy() if lstm else None)
        for t in reversed(range(n)):
            dh = dh_next + dH[t * B:(t + 1) * B]
            if lstm:
                i, f, o, g, tc = acts[t]
                dc = dc_next + dh * o * (1 - tc * tc)
                dpre = np.concatenate([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dh * tc * o * (1 - o), dc * i * (1 - g * g)], 1)
                dc_next = dc * f
            else:
                dpre = dh * (1 - hs[t + 1] ** 2)
            dpres[t] = dpre
            dh_next = dpre @ p['core.Wh'].T
        D = np.concatenate(dpres)
        dWx = xb.transpose(1, 0, 2).reshape(n * B, -1).T @ D
        dWh = np.concatenate(hs[:-1]).T @ D
        db = D.sum(0)
        delta_in = np.concatenate([dh_next, dc_next], 1) if lstm else dh_next
        # (4) refit on (s_in, delta_in) for k > 0, at current parameters
        sl = 0.0
        if cfg['dni'] and k > 0:
            e = s_in @ p['synth.M'] + p['synth.c'] - delta_in
            sl = float(0.5 * (e ** 2).sum(1).mean())
            opt_syn(p, {'synth.M': s_in.T @ e / B, 'synth.c': e.mean(0)})
        slosses.append(sl)
        # (5) batch-mean steps on the core and the readout
        opt_core(p, clipped({'core.Wx': dWx / B, 'core.Wh': dWh / B, 'core.b': db / B}, clip))
        opt_read(p, clipped({'readout.W': dWy / B, 'readout.b': dby / B}, clip))
        state = s_last
    return p, losses, slosses


def check(path, dtype):
    d = json.load(open(path))
    p, losses, sl = train(d['config'], d['x'], d['y'], d['mask'], d['initial'], d['config']['steps'], dtype)
    dp = max(float(np.abs(p[k] - np.array(v)).max()) for k, v in d['final'].items())
    rel = lambda a, b: max(abs(u - v) / max(abs(v), 1e-3) for u, v in zip(a, b))
    print(f"{d.get('case', path)} {np.dtype(dtype).name}: max|param diff| {dp:.2e}  max rel loss diff {rel(losses, d['losses']):.2e}  max rel synth loss diff {rel(sl, d['synthesizer_losses']):.2e}")


def copy_task(rng, N, n, w):
    L = 2 * n + 1
    x, y, m = np.zeros((N, L, w + 1)), np.zeros((N, L, w)), np.zeros((N, L))
    bits = rng.integers(0, 2, (N, n, w))
    x[:, :n, :w] = bits
    x[:, n, w] = 1
    y[:, n + 1:, :] = bits
    m[:, n + 1:] = 1
    return x, y, m


def init(rng, cfg):
    H, I, O, lstm = cfg['hidden'], cfg['inputs'], cfg['outputs'], cfg['cell'] == 'lstm'
    G, S = (4 * H, 2 * H) if lstm else (H, H)
    b = np.zeros(G)
    if lstm:
        b[H:2 * H] = cfg.get('forget_bias', 1.0)
    p = {'core.Wx': rng.normal(0, 1 / np.sqrt(I), (I, G)), 'core.Wh': rng.normal(0, 1 / np.sqrt(H), (H, G)), 'core.b': b,
         'readout.W': rng.normal(0, 1 / np.sqrt(H), (H, O)), 'readout.b': np.zeros(O)}
    if cfg['dni']:
        # a small non-zero synthesizer, so the first windows already exercise the g_hat paths
        p['synth.M'] = rng.normal(0, 0.05, (S, S))
        p['synth.c'] = np.zeros(S)
    return p


def emit_lstm(out):
    rng = np.random.default_rng(7)
    cfg = {'kind': 'rnn', 'cell': 'lstm', 'inputs': 5, 'hidden': 12, 'outputs': 4, 'loss': 'sigmoid-cross-entropy', 'truncation': 3,
           'dni': True, 'batch': 4, 'lr': 0.0, 'lr_synthesizer': 0.0, 'optimizer': {'kind': 'adam', 'lr': 0.01},
           'optimizer_synthesizer': {'kind': 'adam', 'lr': 0.001}, 'clip': 1.0, 'forget_bias': 1.0, 'steps': 60, 'seed': 7,
           'task': {'name': 'copy', 'length': 4, 'width': 4}}
    x, y, m = copy_task(rng, 12, 4, 4)
    p0 = init(rng, cfg)
    p, losses, sl = train(cfg, x, y, m, p0, cfg['steps'])
    tolist = lambda a: a.tolist()
    case = {'case': 'rnn-lstm-dni', 'config': cfg, 'x': tolist(x), 'y': tolist(y), 'mask': tolist(m),
            'initial': {k: tolist(v) for k, v in p0.items()}, 'losses': losses, 'synthesizer_losses': sl,
            'final': {k: tolist(v) for k, v in p.items()}}
    with open(out, 'w') as f:
        json.dump(case, f)


def time_lstm(hidden, batch, truncation, width, length, steps):
    rng = np.random.default_rng(1)
    cfg = {'cell': 'lstm', 'inputs': width + 1, 'hidden': hidden, 'outputs': width, 'truncation': truncation, 'batch': batch, 'dni': True,
           'lr': 0.0, 'lr_synthesizer': 0.0, 'optimizer': {'kind': 'adam', 'lr': 1e-3}, 'optimizer_synthesizer': {'kind': 'adam', 'lr': 1e-4},
           'clip': 1.0}
    x, y, m = copy_task(rng, batch, length, width)
    p = {k: v.astype(np.float32) for k, v in init(rng, cfg).items()}
    train(cfg, x, y, m, p, 20, np.float32)  # warm-up
    best = float('inf')
    for _ in range(5):
        t0 = time.perf_counter()
        train(cfg, x, y, m, p, steps, np.float32)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


if __name__ == '__main__':
    args = sys.argv[1:]
    opt = lambda name, default: type(default)(args[args.index(name) + 1]) if name in args else default
    if args and args[0] == '--time':
        a = dict(hidden=opt('--hidden', 256), batch=opt('--batch', 16), truncation=opt('--truncation', 8), width=opt('--width', 8),
                 length=opt('--length', 10), steps=opt('--steps', 200))
        us = time_lstm(**a) * 1e6
        print(json.dumps({'us_per_step_float32': us, 'numpy': np.__version__, **a}))
    elif args and args[0] == '--emit-lstm':
        emit_lstm(args[1])
    else:
        for path in [a for a in args if a.endswith('.json')]:
            check(path, np.float32 if opt('--dtype', 'float64') == 'float32' else np.float64)
