"""Plain numpy implementation of the MNIST comparison (`npm run demo:mnist`): backprop, DNI and cDNI
on the same split, the same initial parameters and the same maths as the TypeScript library
(docs/maths.md, sequential order, delay 0), float32.

It reproduces the library's data split and initial parameters bit for bit (a port of lib/rng.ts),
so the two sides train the same network on the same batches; only the kernels differ.

  python3 bench/mnist_numpy.py [--methods backprop,dni,cdni] [--epochs 20] [--json] [options]

Prints validation accuracy per epoch, then test accuracy, final training loss and the time per
epoch (training steps only, as the demo reports it). Benchmark it as the demo is benchmarked:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/mnist_numpy.py --json
(both sides may use both cores; OpenBLAS uses its default thread count.)
"""
import argparse, json, os, sys, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = os.path.join(HERE, '..', 'node_modules', 'mnist', 'src', 'digits')
M32 = 0xFFFFFFFF


class Rng:
    """lib/rng.ts: xoshiro128** seeded through splitmix32."""

    def __init__(self, seed=1):
        x = seed & M32
        self.s = [0, 0, 0, 0]
        for i in range(4):
            x = (x + 0x9E3779B9) & M32
            z = x
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
            self.s[i] = (z ^ (z >> 16)) & M32
        if not any(self.s):
            self.s[0] = 1

    def next_uint32(self):
        s = self.s
        r = (rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
        s[3] = rotl(s[3], 11)
        return r

    def uniform(self, lo, hi):
        return lo + (hi - lo) * (self.next_uint32() / 4294967296)

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.next_uint32() % (i + 1)
            items[i], items[j] = items[j], items[i]
        return items


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


def load_mnist(seed, train, test, validation):
    """lib/datasets/mnist.ts: all digits in package order, one seeded permutation, then
    [0, train) training (its last `validation` rows held out) and [train, train + test) test."""
    xs, labels = [], []
    for d in range(10):
        raw = np.asarray(json.load(open(os.path.join(DIGITS, f'{d}.json')))['data'], dtype=np.float32)
        n = raw.size // 784
        xs.append(raw[: n * 784].reshape(n, 784)); labels += [d] * n
    x, labels = np.concatenate(xs), np.asarray(labels)
    order = Rng(seed).shuffle(list(range(len(labels))))
    x, labels = x[order], labels[order]
    fit = train - validation
    part = lambda a, b: (x[a:b], labels[a:b])
    return part(0, fit), part(fit, train), part(train, train + test)


def init_params(sizes, dec, cond, seed, hidden=()):
    """lib/params.ts initParameters (same keys, same order of draws): He-uniform for relu layers,
    Glorot for the linear last layer, synthesizer output layers zero, MLP synthesizer hidden layers
    He-uniform (relu) with the labels of a conditioned one in its first layer."""
    rng, p, L = Rng(seed), {}, len(sizes) - 1
    draw = lambda a, r, c: np.array([rng.uniform(-a, a) for _ in range(r * c)], np.float32).reshape(r, c)
    for i in range(L):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        a = np.sqrt(6 / fan_in) if i < L - 1 else np.sqrt(6 / (fan_in + fan_out))
        p[f'layer{i}.W'] = draw(a, fan_in, fan_out)
        p[f'layer{i}.b'] = np.zeros(fan_out, np.float32)
    for i in range(L):
        if dec[i]:
            u = sizes[i + 1]
            p[f'synth{i}.M'] = np.zeros((hidden[-1] if hidden else u, u), np.float32); p[f'synth{i}.c'] = np.zeros(u, np.float32)
            if cond and not hidden: p[f'synth{i}.N'] = np.zeros((sizes[-1], u), np.float32)
    for i in range(L):
        if dec[i]:
            u = sizes[i + 1]
            for j, w in enumerate(hidden):
                rows = u if j == 0 else hidden[j - 1]
                fan_in = rows + (sizes[-1] if cond and j == 0 else 0)
                p[f'synth{i}.hidden{j}.W'] = draw(np.sqrt(6 / fan_in), rows, w)
                p[f'synth{i}.hidden{j}.b'] = np.zeros(w, np.float32)
                if cond and j == 0: p[f'synth{i}.hidden0.N'] = draw(np.sqrt(6 / fan_in), sizes[-1], w)
    return p


def synth_forward(p, i, h, yb, hidden, cond):
    """g_hat and the hidden activations of synthesizer i (labels enter its first layer)."""
    acts, a = [], h
    for j in range(len(hidden)):
        z = a @ p[f'synth{i}.hidden{j}.W'] + p[f'synth{i}.hidden{j}.b']
        if cond and j == 0: z = z + yb @ p[f'synth{i}.hidden0.N']
        a = np.maximum(z, 0); acts.append(a)
    g = a @ p[f'synth{i}.M'] + p[f'synth{i}.c']
    if cond and not hidden: g = g + yb @ p[f'synth{i}.N']
    return g, acts


def synth_grads(p, i, h, yb, hidden, cond, acts, err, B):
    """Gradients of the batch mean of 0.5 |g_hat - target|^2, err = g_hat - target."""
    top = acts[-1] if acts else h
    grads = {f'synth{i}.M': top.T @ err / B, f'synth{i}.c': err.mean(0)}
    if cond and not hidden: grads[f'synth{i}.N'] = yb.T @ err / B
    d = err
    W = p[f'synth{i}.M']
    for j in reversed(range(len(hidden))):
        d = (d @ W.T) * (acts[j] > 0)
        below = acts[j - 1] if j > 0 else h
        grads[f'synth{i}.hidden{j}.W'] = below.T @ d / B
        grads[f'synth{i}.hidden{j}.b'] = d.mean(0)
        if cond and j == 0: grads[f'synth{i}.hidden0.N'] = yb.T @ d / B
        W = p[f'synth{i}.hidden{j}.W']
    return grads


class Adam:
    def __init__(self, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t, self.m, self.v = lr, b1, b2, eps, {}, {}, {}

    def step(self, owner, params, grads):
        t = self.t[owner] = self.t.get(owner, 0) + 1
        c1, c2 = 1 - self.b1 ** t, 1 - self.b2 ** t
        for k, g in grads.items():
            m = self.m.setdefault(k, np.zeros_like(g)); v = self.v.setdefault(k, np.zeros_like(g))
            m *= self.b1; m += (1 - self.b1) * g
            v *= self.b2; v += (1 - self.b2) * g * g
            params[k] -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def forward(p, L, x):
    a = x
    for i in range(L):
        z = a @ p[f'layer{i}.W'] + p[f'layer{i}.b']
        a = np.maximum(z, 0) if i < L - 1 else z
    return a


def evaluate(p, L, x, labels):
    z = forward(p, L, x)
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean()), float((z.argmax(1) == labels).mean())


def train_epoch(p, L, dec, cond, x, y, B, opt, sopt, hidden):
    """One pass in the library's sequential order (delay 0: batch t's prediction sees refits <= t-1)."""
    n = x.shape[0] // B
    loss_sum = 0.0
    for t in range(n):
        xb, yb = x[t * B:(t + 1) * B], y[t * B:(t + 1) * B]
        ins, hs, a = [], [], xb
        for i in range(L):
            ins.append(a)
            z = a @ p[f'layer{i}.W'] + p[f'layer{i}.b']
            a = np.maximum(z, 0) if i < L - 1 else z
            hs.append(a)
        zmax = a - a.max(1, keepdims=True)
        e = np.exp(zmax); prob = e / e.sum(1, keepdims=True)
        loss_sum += float(-(yb * (zmax - np.log(e.sum(1, keepdims=True)))).sum(1).mean())
        g_above = prob - yb  # the true gradient at the head
        for i in reversed(range(L)):
            h, xin = hs[i], ins[i]
            if dec[i]:
                g, acts = synth_forward(p, i, h, yb, hidden, cond)
            else:
                g = g_above
            d = g * (h > 0) if i < L - 1 else g
            gx = d @ p[f'layer{i}.W'].T if i > 0 else None
            opt.step(f'layer{i}', p, {f'layer{i}.W': xin.T @ d / B, f'layer{i}.b': d.mean(0)})
            if dec[i]:
                # refit toward the gradient that came from above, at the synthesizer's current parameters
                sopt.step(f'synth{i}', p, synth_grads(p, i, h, yb, hidden, cond, acts, g - g_above, B))
            g_above = gx
    return loss_sum / n


def run(method, args, data):
    (xf, lf), (xv, lv), (xt, lt) = data
    sizes = [784] + args.hidden + [10]
    L = len(sizes) - 1
    dec = [method != 'backprop' and i in args.interfaces for i in range(L)]
    cond = method == 'cdni'
    p = init_params(sizes, dec, cond, args.seed, args.synthesizer_hidden)
    opt, sopt = Adam(args.lr, eps=args.eps), Adam(args.synthesizer_lr)
    shuffle_rng = Rng(args.shuffle_seed)
    onehot = np.eye(10, dtype=np.float32)[lf]
    seconds, curve = [], []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = list(range(len(lf)))
        if args.shuffle: shuffle_rng.shuffle(order)
        xs, ys = (xf[order], onehot[order]) if args.shuffle else (xf, onehot)
        loss = train_epoch(p, L, dec, cond, xs, ys, args.batch, opt, sopt, args.synthesizer_hidden)
        seconds.append(time.perf_counter() - t0)
        vl, va = evaluate(p, L, xv, lv) if len(lv) else (float('nan'), float('nan'))
        curve.append({'epoch': epoch + 1, 'train_loss': loss, 'validation_loss': vl, 'validation_accuracy': va})
        if not args.json: print(f'  {method:8s} epoch {epoch + 1:3d}  loss {loss:.4f}  val acc {va:.4f}  {seconds[-1]:.3f}s', file=sys.stderr)
    _, ta = evaluate(p, L, xt, lt) if args.report_test else (None, float('nan'))
    return {'test_accuracy': ta, 'train_loss': curve[-1]['train_loss'], 'validation_accuracy': curve[-1]['validation_accuracy'],
            'epochs': args.epochs, 'seconds_per_epoch': float(np.median(seconds)), 'best_seconds_per_epoch': float(min(seconds)), 'curve': curve}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--methods', default='backprop,dni,cdni')
    ap.add_argument('--epochs', type=int, default=20)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--hidden', type=lambda s: [int(v) for v in s.split(',')], default=[256, 256])
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--eps', type=float, default=1e-8, help="the layers' Adam epsilon")
    ap.add_argument('--interfaces', type=lambda s: [int(v) for v in s.split(',') if v], default=None, help='decoupled layers (default: every hidden layer)')
    ap.add_argument('--synthesizer-lr', type=float, default=3e-3)
    ap.add_argument('--synthesizer-hidden', type=lambda s: [int(v) for v in s.split(',') if v], default=[], help='MLP synthesizers: hidden widths, e.g. 256')
    ap.add_argument('--seed', type=int, default=1, help='initial parameters')
    ap.add_argument('--split-seed', type=int, default=1)
    ap.add_argument('--shuffle-seed', type=int, default=1)
    ap.add_argument('--no-shuffle', dest='shuffle', action='store_false')
    ap.add_argument('--train', type=int, default=8000)
    ap.add_argument('--test', type=int, default=2000)
    ap.add_argument('--validation', type=int, default=1000)
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--no-test', dest='report_test', action='store_false', help='tuning: never look at the test split')
    args = ap.parse_args()
    if args.interfaces is None: args.interfaces = list(range(len(args.hidden)))
    data = load_mnist(args.split_seed, args.train, args.test, args.validation)
    out = {'network': [784] + args.hidden + [10], 'batch': args.batch, 'blas_threads': os.environ.get('OPENBLAS_NUM_THREADS', 'default'), 'methods': {}}
    for m in args.methods.split(','):
        r = run(m, args, data)
        out['methods'][m] = r
        if not args.json:
            print(f"{m:8s} test {r['test_accuracy']:.4f}  val {r['validation_accuracy']:.4f}  loss {r['train_loss']:.4f}  {r['seconds_per_epoch']:.3f} s/epoch")
    if args.json:
        for r in out['methods'].values():
            r.pop('curve')
            for k, v in r.items():
                if isinstance(v, float) and v != v: r[k] = None  # NaN is not JSON
        print(json.dumps(out))


if __name__ == '__main__':
    main()
