"""Graph DNI in plain numpy: docs/maths.md, "Graphs", in the sequential order.

A graph case's config has `nodes [{id, units, activation, inputs, merge}]` in topological order,
`heads [{id, node, loss, labels, weight}]` and `interfaces [{from, to, kind, delay, context}]`; an
edge u->v (v a node or a head) not listed learns by backprop. `train_graph` is written from the text
alone: it shares no code with the chain `train()` in dni_numpy.py (which it is checked against by
writing chains as graphs) nor with the TypeScript library.

One batch step t, in this order:
  1. forward: every node in listed order computes h = f(merge(sources) W + b); after a node's
     forward, each decoupled edge out of it applies its refits of batches s <= t-1-delay (oldest
     first) and predicts g_hat from h (and the context labels for cdni);
  2. heads: weighted loss and weighted true gradient of every head;
  3. backward: every node in reverse order sums over its outgoing edges g_hat (decoupled edge) or
     what the consumer sent back (backprop edge), sends d W^T (pre-update W) to each node source,
     then takes its SGD step;
  4. every decoupled edge queues (h, context, target) for a later refit, where the target is what
     the consumer sent back (a head: its weighted true gradient).
All refits still queued when training ends are applied, oldest first.

The paper's other unlocks (DESIGN.md, "Unlocks and mixing on graph edges"): a `forward` edge u->v
(v a node) gives v the input x_hat = x M + c (x: the data batch) of a forward synthesizer in place
of u's output; before step 1 every forward synthesizer applies its refits of batches
s <= t-1-delay and predicts; in step 4 it queues (x, real h_u) for its refit toward h_u, and its
loss 0.5 mean_rows(sum((x_hat - h_u)^2)) joins the synthesizer losses. `complete` is a forward
synthesizer plus a dni (cdni with a context) one on the same edge. On an edge with a backward
synthesizer, u's part in step 3 is lam * (what v sent back) + (1 - lam) * g_hat, lam = 1 for
t < warmup, else the interface's `lambda` (default 0).
"""
import numpy as np

ACTIVATIONS = {  # f(z), and f'(z) written in terms of h = f(z)
    'sigmoid': (lambda z: 1 / (1 + np.exp(-z)), lambda h: h * (1 - h)),
    'tanh': (np.tanh, lambda h: 1 - h * h),
    'relu': (lambda z: np.maximum(z, 0), lambda h: (h > 0).astype(h.dtype)),
    'linear': (lambda z: z, lambda h: np.ones_like(h)),
}
LOSSES = ('mse', 'softmax-cross-entropy')
DECOUPLED = ('dni', 'cdni', 'complete')  # a backward synthesizer on the edge
FORWARD = ('forward', 'complete')  # a forward synthesizer on the edge


# ---------------------------------------------------------------- topology

def edges_out(cfg):
    """Every edge u->v with u a node, grouped by u: node consumers in listed order, then heads."""
    out = {n['id']: [] for n in cfg['nodes']}
    for n in cfg['nodes']:
        for s in n['inputs']:
            if s != 'input': out[s].append(n['id'])
    for h in cfg['heads']:
        out[h['node']].append(h['id'])
    return out


def input_columns(cfg):
    """For each node, the columns of its input that each source fills (slice for concat, all for sum)."""
    width = {'input': cfg['inputs'], **{n['id']: n['units'] for n in cfg['nodes']}}
    cols = {}
    for n in cfg['nodes']:
        at = 0
        for s in n['inputs']:
            if n['merge'] == 'concat':
                cols[s, n['id']] = slice(at, at + width[s]); at += width[s]
            else:
                cols[s, n['id']] = slice(0, width[s])
    return cols


def interfaces_by_edge(cfg, kinds=DECOUPLED):
    """(from, to) -> interface, for the edges whose kind is one of `kinds` (default: a backward synthesizer)."""
    return {(i['from'], i['to']): i for i in cfg['interfaces'] if i['kind'] in kinds}


def synth_key(u, v):
    return f'synth:{u}>{v}'


def forward_key(u, v):
    return f'fwd:{u}>{v}'


def lambda_at(iface, t):
    """The weight of the true gradient at step t: 1 during the warm-up, else lambda."""
    return 1.0 if t < iface.get('warmup', 0) else iface.get('lambda', 0.0)


def validate_graph(cfg, label_sets):
    """Raise ValueError unless the topology is one docs/maths.md describes."""
    def fail(msg): raise ValueError(f'graph: {msg}')
    width, heads = {'input': cfg['inputs']}, {}
    for n in cfg['nodes']:
        if n['id'] in width or n['id'] == 'input': fail(f"node id {n['id']!r} repeated or reserved")
        if n['activation'] not in ACTIVATIONS: fail(f"node {n['id']}: activation {n['activation']!r}")
        if n['merge'] not in ('concat', 'sum'): fail(f"node {n['id']}: merge {n['merge']!r}")
        if not n['inputs'] or len(set(n['inputs'])) != len(n['inputs']):
            fail(f"node {n['id']}: inputs must be distinct and not empty")
        for s in n['inputs']:
            if s not in width: fail(f"node {n['id']}: source {s!r} is not 'input' or an earlier node")
        if n['merge'] == 'sum' and len({width[s] for s in n['inputs']}) != 1:
            fail(f"node {n['id']}: sum of sources of different widths")
        width[n['id']] = n['units']
    for h in cfg['heads']:
        if h['id'] in width or h['id'] in heads: fail(f"head id {h['id']!r} repeated or used by a node")
        if h['node'] not in width or h['node'] == 'input': fail(f"head {h['id']}: no node {h['node']!r}")
        if h['loss'] not in LOSSES: fail(f"head {h['id']}: loss {h['loss']!r}")
        if h['labels'] not in label_sets: fail(f"head {h['id']}: no label set {h['labels']!r}")
        if np.shape(label_sets[h['labels']])[1] != width[h['node']]:
            fail(f"head {h['id']}: labels {h['labels']} do not match node {h['node']}'s width")
        heads[h['id']] = h
    out, seen = edges_out(cfg), set()
    for i in cfg['interfaces']:
        e = (i['from'], i['to'])
        if i['from'] not in out or i['to'] not in out[i['from']]: fail(f'interface on {e}: no such edge')
        if e in seen: fail(f'interface on {e} listed twice')
        seen.add(e)
        if i['kind'] not in ('backprop', 'dni', 'cdni', 'forward', 'complete'): fail(f"interface on {e}: kind {i['kind']!r}")
        if i['kind'] == 'cdni' and i.get('context') not in heads: fail(f'interface on {e}: context must name a head')
        if i['kind'] == 'complete' and 'context' in i and i['context'] not in heads: fail(f'interface on {e}: context must name a head')
        if i['kind'] in FORWARD and i['to'] in heads: fail(f'interface on {e}: a forward synthesizer feeds a node, not a head')
        if ('lambda' in i or 'warmup' in i) and i['kind'] not in DECOUPLED: fail(f'interface on {e}: lambda/warmup without a backward synthesizer')
        if not (0 <= i.get('lambda', 0) <= 1): fail(f'interface on {e}: lambda outside [0, 1]')
        if not (isinstance(i.get('warmup', 0), int) and i.get('warmup', 0) >= 0): fail(f'interface on {e}: warmup')
        if not (isinstance(i.get('delay', 0), int) and i.get('delay', 0) >= 0): fail(f'interface on {e}: delay')
    for u, vs in out.items():
        if not vs: fail(f'node {u} feeds nothing: it would never get a gradient')


# ---------------------------------------------------------------- maths of one piece

def merge_inputs(node, outputs, synthetic=None):
    """A node's input: its sources side by side (concat, listed order) or added (sum); a source
    behind a forward synthesizer contributes that synthesizer's x_hat (`synthetic[source, node]`)."""
    synthetic = synthetic or {}
    parts = [synthetic.get((s, node['id']), outputs[s]) for s in node['inputs']]
    if node['merge'] == 'concat':
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    total = parts[0]
    for q in parts[1:]:
        total = total + q
    return total


def head_loss_and_gradient(head, out, labels):
    """The head's weighted loss (a float) and weighted gradient with respect to its node's output."""
    w = head['weight']
    if head['loss'] == 'mse':
        diff = out - labels
        return w * float(0.5 * (diff ** 2).sum(1).mean()), w * diff
    z = out - out.max(1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    return w * float(-(labels * log_p).sum(1).mean()), w * (np.exp(log_p) - labels)


def synthesizer_predict(p, key, h, context):
    g = h @ p[key + '.M'] + p[key + '.c']
    return g + context @ p[key + '.N'] if context is not None else g


def synthesizer_refit(p, key, h, context, target, lr_s):
    """One SGD step on 0.5 |g_hat - target|^2 at the synthesizer's current parameters."""
    B = h.shape[0]
    e = synthesizer_predict(p, key, h, context) - target
    p[key + '.M'] = p[key + '.M'] - lr_s * h.T @ e / B
    p[key + '.c'] = p[key + '.c'] - lr_s * e.mean(0)
    if context is not None:
        p[key + '.N'] = p[key + '.N'] - lr_s * context.T @ e / B


def node_step(p, node, x_in, h, g, lr):
    """A dense node's update with gradient g at its output; returns d W^T with the pre-update W."""
    B = h.shape[0]
    d = g * ACTIVATIONS[node['activation']][1](h)
    W = p[node['id'] + '.W']
    upstream = d @ W.T
    p[node['id'] + '.W'] = W - lr * x_in.T @ d / B
    p[node['id'] + '.b'] = p[node['id'] + '.b'] - lr * d.mean(0)
    return upstream


# ---------------------------------------------------------------- training

def batch_rows(t, rows, B):
    """Batch t: rows [(t mod n) B, (t mod n) B + B), n = rows // B, no shuffling."""
    r = (t % (rows // B)) * B
    return slice(r, r + B)


def apply_refits(p, pending, key, up_to, lr_s):
    """Apply, oldest first, the queued refits of batches s <= up_to."""
    queue = pending[key]
    while queue and queue[0][0] <= up_to:
        _, h, context, target = queue.pop(0)
        synthesizer_refit(p, key, h, context, target, lr_s)


def train_graph(cfg, x, y, params, steps, dtype=np.float64):
    """Train a graph case for `steps` batch steps; returns (parameters, losses, synthesizer_losses)."""
    x = np.asarray(x, dtype=dtype)
    y = {k: np.asarray(v, dtype=dtype) for k, v in y.items()}
    validate_graph(cfg, y)
    p = {k: np.array(v, dtype=dtype) for k, v in params.items()}
    B, lr, lr_s = cfg['batch'], cfg['lr'], cfg['lr_synthesizer']
    nodes, heads = cfg['nodes'], {h['id']: h for h in cfg['heads']}
    out_edges, cols, decoupled = edges_out(cfg), input_columns(cfg), interfaces_by_edge(cfg)
    forwards = interfaces_by_edge(cfg, FORWARD)
    pending = {synth_key(*e): [] for e in decoupled}  # (batch, h, context, target), oldest first
    pending.update({forward_key(*e): [] for e in forwards})  # (batch, x, None, h_u)
    losses, synthesizer_losses = [], []

    def context_of(iface, rows):
        return y[heads[iface['context']]['labels']][rows] if 'context' in iface and iface['kind'] in ('cdni', 'complete') else None

    for t in range(steps):
        rows = batch_rows(t, x.shape[0], B)
        # 0. every forward synthesizer's x_hat, from the data
        synthetic = {}
        for (u, v), iface in forwards.items():
            apply_refits(p, pending, forward_key(u, v), t - 1 - iface.get('delay', 0), lr_s)
            synthetic[u, v] = synthesizer_predict(p, forward_key(u, v), x[rows], None)
        # 1. forward, with the predictions of every decoupled edge
        outputs, inputs, predictions = {'input': x[rows]}, {}, {}
        for n in nodes:
            inputs[n['id']] = merge_inputs(n, outputs, synthetic)
            z = inputs[n['id']] @ p[n['id'] + '.W'] + p[n['id'] + '.b']
            outputs[n['id']] = ACTIVATIONS[n['activation']][0](z)
            for v in out_edges[n['id']]:
                if (n['id'], v) in decoupled:
                    iface, key = decoupled[n['id'], v], synth_key(n['id'], v)
                    apply_refits(p, pending, key, t - 1 - iface.get('delay', 0), lr_s)
                    predictions[n['id'], v] = synthesizer_predict(p, key, outputs[n['id']], context_of(iface, rows))
        # 2. heads: what each head sends back to its node is its weighted true gradient
        sent_back, loss = {}, 0.0
        for h in cfg['heads']:
            l, g = head_loss_and_gradient(h, outputs[h['node']], y[h['labels']][rows])
            loss += l
            sent_back[h['node'], h['id']] = g
        losses.append(loss)
        # 3. backward: a node's gradient sums its outgoing edges; it sends d W^T to each source node
        for n in reversed(nodes):
            u = n['id']
            g = None
            for v in out_edges[u]:
                if (u, v) in decoupled:
                    lam = lambda_at(decoupled[u, v], t)
                    part = predictions[u, v] if lam == 0 else lam * sent_back[u, v] + (1 - lam) * predictions[u, v]
                else:
                    part = sent_back[u, v]
                g = part if g is None else g + part
            upstream = node_step(p, n, inputs[u], outputs[u], g, lr)
            for s in n['inputs']:
                if s != 'input':
                    sent_back[s, u] = upstream[:, cols[s, u]]
        # 4. every decoupled edge's target is what its consumer sent back
        sl = 0.0
        for (u, v), iface in decoupled.items():
            target = sent_back[u, v]
            sl += float(0.5 * ((predictions[u, v] - target) ** 2).sum(1).mean())
            pending[synth_key(u, v)].append((t, outputs[u], context_of(iface, rows), target))
        # and every forward synthesizer's target is the real output of its edge's source
        for (u, v) in forwards:
            sl += float(0.5 * ((synthetic[u, v] - outputs[u]) ** 2).sum(1).mean())
            pending[forward_key(u, v)].append((t, x[rows], None, outputs[u]))
        synthesizer_losses.append(sl)
    for key in pending:
        apply_refits(p, pending, key, steps, lr_s)
    return p, losses, synthesizer_losses
