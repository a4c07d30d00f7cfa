"""Graph cases: a chain case written as a graph, and random graph cases (docs/maths.md, "Graphs";
the unlocks: DESIGN.md, "Unlocks and mixing on graph edges").

`chain_as_graph(case)` rewrites a chain reference case as the graph it is: node `layer{i}`, one mse
head `head` of weight 1 on the last layer with label set `y`, and for each decoupled layer i an
interface on layer{i}->layer{i+1} (the last layer: layer{L-1}->head), cdni with context `head` when
the chain is conditioned. Keys `layer{i}.*` stay; `synth{i}.*` become `synth:{from}>{to}.*`.

`random_graph_case(seed, steps)` draws a structure and hyper-parameters from one generator
(`default_rng([seed, STRUCTURE_STREAM])`), the unlocks (forward and complete interfaces, lambda,
warm-up) from another (`default_rng([seed, UNLOCK_STREAM])`), then the data and initial weights the way the reference
files draw theirs (`default_rng(seed)`: a and b first, then each node's W in listed order), and
trains it in float64 for the answers.
"""
import numpy as np
from dni_graph_numpy import DECOUPLED, FORWARD, edges_out, forward_key, synth_key, train_graph, validate_graph

STRUCTURE_STREAM = 0x67726170  # 'grap': keeps structure draws apart from the data draws
UNLOCK_STREAM = 0x756E6C6B  # 'unlk': the unlocks, drawn apart so the structures and dni/cdni edges stay as they were
ACTIVATION_NAMES = ('sigmoid', 'tanh', 'relu', 'linear')
HIDDEN_WIDTHS = (4, 8, 12, 16, 24, 32)  # widths shared with the heads' nodes and the input, so sums happen
HEAD_KINDS = {  # head kind -> (loss, label set, node units, node activations)
    'sum': ('mse', 'sum', 12, ('sigmoid', 'linear')),
    'mod4': ('softmax-cross-entropy', 'mod4', 4, ('linear',)),
}


# ---------------------------------------------------------------- chains written as graphs

def chain_as_graph(case):
    """A chain case (config.sizes, activations, decoupled, conditioned, delay) as a graph case."""
    c = case['config']
    L = len(c['sizes']) - 1
    ids = [f'layer{i}' for i in range(L)]
    consumer = ids[1:] + ['head']
    nodes = [{'id': ids[i], 'units': c['sizes'][i + 1], 'activation': c['activations'][i],
              'inputs': [ids[i - 1] if i else 'input'], 'merge': 'concat'} for i in range(L)]
    kind = 'cdni' if c.get('conditioned') else 'dni'
    interfaces = [{'from': ids[i], 'to': consumer[i], 'kind': kind, 'delay': c['delay'],
                   **({'context': 'head'} if kind == 'cdni' else {})} for i in range(L) if c['decoupled'][i]]
    config = {'kind': 'graph', 'inputs': c['sizes'][0], 'batch': c['batch'], 'lr': c['lr'],
              'lr_synthesizer': c['lr_synthesizer'], 'steps': c['steps'], 'seed': c.get('seed'),
              'bits': c.get('bits'), 'nodes': nodes,
              'heads': [{'id': 'head', 'node': ids[-1], 'loss': 'mse', 'labels': 'y', 'weight': 1.0}],
              'interfaces': interfaces}
    out = {'case': case.get('case', '') + ' (as graph)', 'config': config, 'x': case['x'], 'y': {'y': case['y']}}
    for k in ('initial', 'final'):
        if k in case: out[k] = {chain_key_as_graph(key, ids, consumer): v for key, v in case[k].items()}
    for k in ('losses', 'synthesizer_losses'):
        if k in case: out[k] = case[k]
    return out


def chain_key_as_graph(key, ids, consumer):
    """`layer{i}.W` stays; `synth{i}.M` -> `synth:layer{i}>{consumer of layer i}.M`."""
    name, field = key.split('.')
    if name.startswith('synth'):
        i = int(name[len('synth'):])
        return f'{synth_key(ids[i], consumer[i])}.{field}'
    return key


# ---------------------------------------------------------------- data and initial parameters

def addition_data(rng, rows, bits):
    """x = bits of a and b (most significant first), y = {sum: low bits of a+b, mod4: onehot((a+b) mod 4)}."""
    a, b = rng.integers(0, 2 ** (bits - 1), rows), rng.integers(0, 2 ** (bits - 1), rows)
    to_bits = lambda v: ((v[:, None] >> np.arange(bits - 1, -1, -1)) & 1).astype(np.float64)
    s = a + b
    return np.hstack([to_bits(a), to_bits(b)]), {'sum': to_bits(s), 'mod4': np.eye(4)[s % 4]}


def initial_parameters(rng, cfg, label_sets):
    """Each node's W ~ N(0, 1/sqrt(fan_in)) in listed order, biases zero; synthesizers zero."""
    width = {'input': cfg['inputs'], **{n['id']: n['units'] for n in cfg['nodes']}}
    p = {}
    for n in cfg['nodes']:
        fan_in = sum(width[s] for s in n['inputs']) if n['merge'] == 'concat' else width[n['inputs'][0]]
        p[n['id'] + '.W'] = rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, n['units']))
        p[n['id'] + '.b'] = np.zeros(n['units'])
    heads = {h['id']: h for h in cfg['heads']}
    for i in cfg['interfaces']:
        if i['kind'] not in DECOUPLED: continue
        key, u = synth_key(i['from'], i['to']), width[i['from']]
        p[key + '.M'], p[key + '.c'] = np.zeros((u, u)), np.zeros(u)
        if 'context' in i:
            p[key + '.N'] = np.zeros((np.shape(label_sets[heads[i['context']]['labels']])[1], u))
    for i in cfg['interfaces']:  # a forward synthesizer reads the data
        if i['kind'] not in FORWARD: continue
        key, u = forward_key(i['from'], i['to']), width[i['from']]
        p[key + '.M'], p[key + '.c'] = np.zeros((cfg['inputs'], u)), np.zeros(u)
    return p


def draw_case_data(cfg, rows):
    """x, y and initial parameters of a graph config, drawn as the reference files draw theirs."""
    rng = np.random.default_rng(cfg['seed'])
    x, y = addition_data(rng, rows, cfg['bits'])
    return x, y, initial_parameters(rng, cfg, y)


# ---------------------------------------------------------------- random structures

def random_heads(rng, n_nodes):
    """1-3 heads; returns (node index -> head kind, heads [(kind, node index)]). The last node is a head's."""
    n_heads = int(rng.integers(1, 4))
    n_out = min(n_heads, n_nodes if n_nodes < 3 else n_nodes - 1)  # from 3 nodes on, one hidden at least
    out_at = sorted(set(int(i) for i in rng.choice(n_nodes - 1, n_out - 1, replace=False)) | {n_nodes - 1})
    kind_at = {i: str(rng.choice(list(HEAD_KINDS))) for i in out_at}
    heads = [(kind_at[i], i) for i in out_at]
    for _ in range(n_heads - n_out):  # more heads than head nodes: a second head on one of them
        i = out_at[int(rng.integers(len(out_at)))]
        heads.append((kind_at[i], i))
    return kind_at, heads


def random_sources(rng, candidates, width):
    """(merge, sources) for a node: a sum of 2-3 equal-width sources, or a concat of 1-3."""
    by_width = {}
    for c in candidates:
        by_width.setdefault(width[c], []).append(c)
    summable = [g for g in by_width.values() if len(g) >= 2]
    if summable and rng.random() < 0.5:
        group = summable[int(rng.integers(len(summable)))]
        k = int(rng.integers(2, min(3, len(group)) + 1))
        return 'sum', [str(s) for s in rng.choice(group, k, replace=False)]
    k = int(rng.integers(1, min(3, len(candidates)) + 1))
    return 'concat', [str(s) for s in rng.choice(candidates, k, replace=False)]


def connect_dead_ends(rng, nodes, width, heads):
    """Make every node reach a head: a node nothing consumes joins a later node's sources.
    Returns False when that is impossible (no later concat node, nor a sum node of its width)."""
    with_head = {h['node'] for h in heads}
    for i in reversed(range(len(nodes))):
        u = nodes[i]['id']
        if u in with_head or any(u in n['inputs'] for n in nodes[i + 1:]): continue
        later = [n for n in nodes[i + 1:] if n['merge'] == 'concat' or width[n['inputs'][0]] == width[u]]
        if not later: return False
        n = later[int(rng.integers(len(later)))]
        n['inputs'].insert(int(rng.integers(len(n['inputs']) + 1)), u)
    return True


def random_interfaces(rng, cfg):
    """About half the edges u->v (v a node or a head) decoupled: dni or cdni (a random head's labels), delay 0-2."""
    interfaces, head_ids = [], [h['id'] for h in cfg['heads']]
    for u, vs in edges_out(cfg).items():
        for v in vs:
            if rng.random() < 0.5: continue
            kind = str(rng.choice(['dni', 'cdni']))
            iface = {'from': u, 'to': v, 'kind': kind, 'delay': int(rng.integers(0, 3))}
            if kind == 'cdni': iface['context'] = head_ids[int(rng.integers(len(head_ids)))]
            interfaces.append(iface)
    return interfaces


def random_unlocks(rng, cfg):
    """The paper's other unlocks on some edges into a node (DESIGN.md, "Unlocks and mixing on graph
    edges"): about a third of the dni/cdni ones become complete (a cdni keeps its context), about a
    fifth of the backprop ones forward (delay 0-2); each edge with a backward synthesizer then
    mixes the true gradient in with probability 0.3 (lambda 0.25, 0.5 or 1) and warms up with
    probability 0.3 (0 to steps + 5 steps, so some warm-ups outlast the run)."""
    heads = {h['id'] for h in cfg['heads']}
    listed = {(i['from'], i['to']): i for i in cfg['interfaces']}
    for u, vs in edges_out(cfg).items():
        for v in vs:
            if v in heads: continue
            i = listed.get((u, v))
            if i is not None and rng.random() < 0.35:
                i['kind'] = 'complete'
            elif i is None and rng.random() < 0.2:
                cfg['interfaces'].append({'from': u, 'to': v, 'kind': 'forward', 'delay': int(rng.integers(0, 3))})
    for i in cfg['interfaces']:
        if i['kind'] not in DECOUPLED: continue
        if rng.random() < 0.3: i['lambda'] = float(rng.choice([0.25, 0.5, 1.0]))
        if rng.random() < 0.3: i['warmup'] = int(rng.integers(0, cfg['steps'] + 6))


def random_structure(rng, inputs):
    """Nodes and heads of a random graph in which every node reaches a head."""
    while True:
        n_nodes = int(rng.integers(1, 6))
        kind_at, head_list = random_heads(rng, n_nodes)
        width, nodes = {'input': inputs}, []
        for i in range(n_nodes):
            if i in kind_at:
                _, _, units, acts = HEAD_KINDS[kind_at[i]]
            else:
                units = int(rng.choice(HIDDEN_WIDTHS)) if rng.random() < 0.7 else int(rng.integers(4, 33))
                acts = tuple(ACTIVATION_NAMES)
            merge, sources = random_sources(rng, ['input'] + [n['id'] for n in nodes], width)
            nodes.append({'id': f'n{i}', 'units': units, 'activation': str(rng.choice(acts)),
                          'inputs': sources, 'merge': merge})
            width[f'n{i}'] = units
        heads = []
        for j, (kind, i) in enumerate(head_list):
            loss, labels, _, _ = HEAD_KINDS[kind]
            heads.append({'id': f'{kind}_{j}', 'node': f'n{i}', 'loss': loss, 'labels': labels,
                          'weight': float(rng.choice([0.5, 1.0, 2.0]))})
        if connect_dead_ends(rng, nodes, width, heads):
            return nodes, heads


def random_graph_config(seed, steps=30):
    """A random graph config (structure, interfaces, sizes, rates) and its number of data rows."""
    rng = np.random.default_rng([seed, STRUCTURE_STREAM])
    bits = 12
    nodes, heads = random_structure(rng, 2 * bits)
    batch = int(rng.integers(4, 11))
    rows = batch * int(rng.integers(-(-40 // batch), 120 // batch + 1))
    cfg = {'kind': 'graph', 'inputs': 2 * bits, 'batch': batch,
           'lr': round(float(rng.uniform(0.05, 0.3)), 2),
           'lr_synthesizer': round(float(rng.uniform(0.001, 0.01)), 4),
           'steps': steps, 'seed': seed, 'bits': bits, 'nodes': nodes, 'heads': heads, 'interfaces': []}
    cfg['interfaces'] = random_interfaces(rng, cfg)
    random_unlocks(np.random.default_rng([seed, UNLOCK_STREAM]), cfg)
    return cfg, rows


def tame(cfg, x, y, initial, final, losses):
    """Training that neither diverges nor swings (where float32 drifts from float64): finite, no
    parameter above 20 in magnitude, and no batch's loss above twice that batch's loss at the
    initial parameters (the batches differ too much for a comparison with the first batch)."""
    if not (np.isfinite(losses).all() and all(np.isfinite(v).all() for v in final.values())): return False
    frozen = dict(cfg, lr=0.0, lr_synthesizer=0.0)
    at_start = train_graph(frozen, x, y, initial, min(cfg['steps'], len(x) // cfg['batch']))[1]
    swing = max((l / at_start[t % len(at_start)] for t, l in enumerate(losses)), default=1.0)
    return bool(swing <= 2 and max(np.abs(v).max() for v in final.values()) <= 20)


def random_graph_case(seed, steps=30):
    """A complete graph case: config, x, y, initial and the float64 answers.
    The learning rate is halved until training is tame (see `tame`)."""
    cfg, rows = random_graph_config(seed, steps)
    x, y, initial = draw_case_data(cfg, rows)
    validate_graph(cfg, y)
    for _ in range(10):
        final, losses, synthesizer_losses = train_graph(cfg, x, y, initial, steps)
        if tame(cfg, x, y, initial, final, losses) and np.isfinite(synthesizer_losses).all(): break
        cfg['lr'] /= 2
    else:
        raise ArithmeticError(f'random graph {seed}: not tame even at lr {cfg["lr"]}')
    return {'case': f'random-graph-{seed}', 'config': cfg, 'x': x.tolist(),
            'y': {k: v.tolist() for k, v in y.items()},
            'initial': {k: v.tolist() for k, v in initial.items()}, 'losses': losses,
            'synthesizer_losses': synthesizer_losses, 'final': {k: v.tolist() for k, v in final.items()}}


def describe(cfg):
    """The structure in a few lines, for debugging."""
    lines = [f"inputs {cfg['inputs']}, batch {cfg['batch']}, lr {cfg['lr']}, lr_s {cfg['lr_synthesizer']}, "
             f"steps {cfg['steps']}, seed {cfg['seed']}"]
    for n in cfg['nodes']:
        joined = (' + ' if n['merge'] == 'sum' else ' | ').join(n['inputs'])
        lines.append(f"  {n['id']:>6} = {n['activation']}({joined}) [{n['units']}]")
    for h in cfg['heads']:
        lines.append(f"  {h['id']:>6} : {h['loss']}({h['node']}, {h['labels']}) x {h['weight']}")
    decoupled = {(i['from'], i['to']): i for i in cfg['interfaces']}
    for u, vs in edges_out(cfg).items():
        for v in vs:
            i = decoupled.get((u, v))
            what = 'backprop' if i is None else i['kind'] + (f"[{i['context']}]" if 'context' in i else '') + f" delay {i.get('delay', 0)}"
            if i is not None and ('lambda' in i or 'warmup' in i): what += f" lambda {i.get('lambda', 0)} warmup {i.get('warmup', 0)}"
            lines.append(f'  {u} -> {v}: {what}')
    return '\n'.join(lines)
