#!/usr/bin/env bash
# On a machine with a GPU, Node 20+ and PyTorch: the engine (Dawn, `ddim bench`) against PyTorch
# (tools/bench_torch.py) on the same models in the same run, then the ratio per row against each of
# PyTorch's three modes: eager fp32 (torch-eager.json), CUDA graphs + cudnn.benchmark + fused Adam fp32
# (torch-graphs.json, the anchor of issue 23's targets) and the same under bf16 autocast
# (torch-graphs-bf16.json, the anchor of the tensor tier).
#   bench/gpu.sh OUTDIR        (env: NODE, PYTHON, CONFIGS=tiny,bundled,small,cifar10, BATCHES=1,8,64, ITERS=20,
#                               MODES="eager graphs graphs-bf16" ("" for the engine alone),
#                               PROFILE=small:64 for the per-kernel profile of one config at one batch, "" for none,
#                               TILES="small:64 bundled:1 cifar10:1" to time each config:batch with the tiles chosen
#                               per shape and with every GEMM on each tile of shaders/gemm.wgsl (GEMM_TILES), "" for none,
#                               NORM="small:64 bundled:1 cifar10:1" to time each config:batch with the GroupNorm
#                               outputs normalised on load by their convolutions and written (--norm-on-load), "" for none,
#                               TIERS="f16 matrix-emulated matrix": the precision tiers to check on the adapter (Dawn's
#                               unsafe feature toggles on): the bundled model's eps and one training step per tier,
#                               each against fp32 (relative L2), f16 and matrix against matrix-emulated (f16: the
#                               same values by design; matrix: the same operands, another summation order), then
#                               `ddim bench --precision` per tier into tiers/; "" for none,
#                               TTQ_STEPS=4000 to also train emoji16 from scratch per tier (fp32 and TIERS) and
#                               score it (time-to-quality), "" (default) for none,
#                               EMOJI32_STEPS=N to train the 32 px emoji model (EMOJI32_CONFIG=small, a preset or a
#                               config.json; EMOJI32_LR=1e-3: the default 2e-3 spiked small's loss at step 1,500 on
#                               2026-12-04; EMOJI32_BATCH=32) and write its EMA weights as F16 (emoji32.safetensors, under the 16 MiB a
#                               lent machine returns per file), its loss log, and its FD at 20 and 50 steps; "" for none)
# Writes more than 8 files with TIERS, TTQ_STEPS or EMOJI32_STEPS: a lent machine returns 8, each at most
# 16 MiB, so tar OUTDIR there, leaving emoji32.safetensors (13 MB for small in F16) out of the tar.
# Needs the built CLI (npm run build:cli) and the `webgpu` package beside it; DDIM_GPU=hardware
# picks the real adapter, whose name the engine's table prints first.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/gpu.sh OUTDIR}
NODE=${NODE:-node}
PYTHON=${PYTHON:-python3}
CONFIGS=${CONFIGS:-tiny,bundled,small,cifar10}
MODES=${MODES-eager graphs graphs-bf16}
BATCHES=${BATCHES:-1,8,64}
ITERS=${ITERS:-20}
PROFILE=${PROFILE-small:64}
TILES=${TILES-small:64 bundled:1 cifar10:1}
TILE_SHAPES="32x32 64x64 128x64"
NORM=${NORM-small:64 bundled:1 cifar10:1}
TIERS=${TIERS-f16 matrix-emulated matrix}
TTQ_STEPS=${TTQ_STEPS-}
EMOJI32_STEPS=${EMOJI32_STEPS-}
EMOJI32_CONFIG=${EMOJI32_CONFIG:-small}
EMOJI32_LR=${EMOJI32_LR:-1e-3}
EMOJI32_BATCH=${EMOJI32_BATCH:-32}
torch_flags() {
  case $1 in
    eager) echo "--mode eager" ;;
    graphs) echo "--mode graphs" ;;
    graphs-bf16) echo "--mode graphs --amp bf16" ;;
    *) echo "bench/gpu.sh: unknown PyTorch mode '$1' in MODES (known: eager graphs graphs-bf16)" >&2; return 2 ;;
  esac
}
for M in $MODES; do torch_flags "$M" >/dev/null; done
mkdir -p "$OUT"
DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs bench --configs "$CONFIGS" --batches "$BATCHES" --iters "$ITERS" --json "$OUT/engine.json"
if [ -n "$PROFILE" ]; then
  DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs bench --configs "${PROFILE%%:*}" --batches "${PROFILE##*:}" --iters 5 --profile --json "$OUT/profile.json"
fi
if [ -n "$TILES" ]; then
  mkdir -p "$OUT/tiles"
  for CB in $TILES; do
    DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs bench --configs "${CB%%:*}" --batches "${CB##*:}" --iters "$ITERS" --json "$OUT/tiles/${CB/:/-}-per-shape.json"
    for T in $TILE_SHAPES; do
      DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs bench --configs "${CB%%:*}" --batches "${CB##*:}" --iters "$ITERS" --gemm-tile "$T" --json "$OUT/tiles/${CB/:/-}-$T.json"
    done
  done
fi
if [ -n "$NORM" ]; then
  mkdir -p "$OUT/norm"
  for CB in $NORM; do
    for N in on off; do
      DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs bench --configs "${CB%%:*}" --batches "${CB##*:}" --iters "$ITERS" --norm-on-load "$N" --json "$OUT/norm/${CB/:/-}-$N.json"
    done
  done
fi
if [ -n "$TIERS" ]; then
  mkdir -p "$OUT/tiers"
  # One forward input and one training batch for every tier, as safetensors: x and noise ~ N(0, 1),
  # x0 uniform in [-1, 1], t spread over [0, 1000) (integers, as train-step wants them).
  "$PYTHON" - "$OUT/tiers" <<'PY'
import json, struct, sys, random
random.seed(0)
def write(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        header[name] = {'dtype': 'F32', 'shape': shape, 'data_offsets': [offset, offset + 4 * len(values)]}
        blobs.append(struct.pack(f'<{len(values)}f', *values))
        offset += 4 * len(values)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
n = 8 * 3 * 16 * 16
t = [float(37 + 125 * i) for i in range(8)]
write(f'{sys.argv[1]}/input.safetensors', {'x': ([8, 3, 16, 16], [random.gauss(0, 1) for _ in range(n)]), 't': ([8], t)})
write(f'{sys.argv[1]}/batch.safetensors', {'x0': ([8, 3, 16, 16], [random.uniform(-1, 1) for _ in range(n)]),
                                           'noise': ([8, 3, 16, 16], [random.gauss(0, 1) for _ in range(n)]), 't': ([8], t)})
PY
  # A tier that fails (the matrix backend's first run on a GPU) is reported, and the rest goes on.
  for T in fp32 $TIERS; do
    run() { DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs --gpu-features unsafe "$@" --precision "$T" || echo "tier $T: ddim $1 failed"; }
    run forward --weights public/models/emoji16.safetensors --input "$OUT/tiers/input.safetensors" --out "$OUT/tiers/eps-$T.safetensors"
    run train-step --weights public/models/emoji16.safetensors --batch "$OUT/tiers/batch.safetensors" --out "$OUT/tiers/step-$T.safetensors"
    run bench --configs "$CONFIGS" --batches "$BATCHES" --iters "$ITERS" --json "$OUT/tiers/engine-$T.json"
  done
  "$PYTHON" - "$OUT/tiers" fp32 $TIERS <<'PY'
import json, math, os, struct, sys
def tensors(path, prefix):
    if not os.path.exists(path): return None
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    out = {}
    for name, meta in json.loads(b[8:8 + n]).items():
        if name.startswith(prefix) and name != '__metadata__':
            lo, hi = meta['data_offsets']
            out[name] = struct.unpack(f'<{(hi - lo) // 4}f', b[8 + n + lo:8 + n + hi])
    return out
def norm(a):
    return math.sqrt(sum(x * x for x in a))
def rel(a, b, floor=0.0):
    return norm([x - y for x, y in zip(a, b)]) / max(norm(b), floor)
d, tiers = sys.argv[1], sys.argv[2:]
eps = {t: tensors(f'{d}/eps-{t}.safetensors', 'eps') for t in tiers}
grads = {t: tensors(f'{d}/step-{t}.safetensors', 'grad/') for t in tiers}
loss = {t: tensors(f'{d}/step-{t}.safetensors', 'loss') for t in tiers}
print('\nprecision tiers on this adapter, the bundled model (README contract: eps relative L2 <= 3e-3 of fp32,')
print('loss and every gradient <= 1e-2), 8 inputs:')
pairs = [(t, 'fp32') for t in tiers[1:]] + [(a, b) for a, b in [('f16', 'matrix-emulated'), ('matrix', 'matrix-emulated')] if a in tiers and b in tiers]
for a, b in pairs:
    if not (eps[a] and eps[b] and grads[a] and grads[b]):
        print(f'  {a} vs {b}: missing output (see the errors above)')
        continue
    # A gradient's error relative to the larger of its norm and 1e-3 of the largest (some are zero in
    # exact arithmetic, such as the attention's key biases), as the suite's contract.
    floor = 1e-3 * max(norm(v) for v in grads[b].values())
    g = max((rel(grads[a][k], grads[b][k], floor), k) for k in grads[b])
    same = all(eps[a]['eps'][i] == eps[b]['eps'][i] for i in range(len(eps[b]['eps'])))
    print(f"  {a:<16} vs {b:<16} eps {rel(eps[a]['eps'], eps[b]['eps']):.3e}{' (identical)' if same else ''}, "
          f"loss {rel(loss[a]['loss'], loss[b]['loss']):.3e}, worst gradient {g[0]:.3e} ({g[1]})")
for t in tiers:
    p = f'{d}/engine-{t}.json'
    if os.path.exists(p):
        rows = json.load(open(p))['rows']
        print(f'  {t:<16} ' + '  '.join(f"{r['config']} b{r['batch']}: fwd {r['forward_ms']:.3f} ms, step {r['train_step_ms']:.3f} ms" for r in rows))
PY
fi
if [ -n "$TTQ_STEPS" ]; then
  for T in fp32 $TIERS; do
    start=$(date +%s%N)
    DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs --gpu-features unsafe train --data emoji16 --steps "$TTQ_STEPS" \
      --out "$OUT/tiers/emoji16-$T.safetensors" --precision "$T" --log-every 500
    echo "time-to-quality $T: $TTQ_STEPS steps in $(( ($(date +%s%N) - start) / 1000000 )) ms wall"
    DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs eval --weights "$OUT/tiers/emoji16-$T.safetensors" --data emoji16 --steps 20 --eta 0,1
  done
fi
if [ -n "$EMOJI32_STEPS" ]; then
  # The full checkpoint (weights, EMA, Adam: 103 MB for small) is too big to come back and is deleted
  # once converted; the EMA weights come back as F16, with the loss log beside them.
  start=$(date +%s%N)
  DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs train --data emoji32 --config "$EMOJI32_CONFIG" --lr "$EMOJI32_LR" --batch "$EMOJI32_BATCH" \
    --steps "$EMOJI32_STEPS" --out "$OUT/emoji32-checkpoint.safetensors" --log-every 250
  echo "emoji32: $EMOJI32_STEPS steps of $EMOJI32_CONFIG in $(( ($(date +%s%N) - start) / 1000000 )) ms wall"
  "$NODE" bin/ddim.mjs convert --in "$OUT/emoji32-checkpoint.safetensors" --out "$OUT/emoji32.safetensors" --dtype f16
  rm "$OUT/emoji32-checkpoint.safetensors"
  DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs eval --weights "$OUT/emoji32.safetensors" --data emoji32 --steps 20,50 --eta 0,1 --no-ddpm
fi
for M in $MODES; do
  # shellcheck disable=SC2046
  "$PYTHON" tools/bench_torch.py --configs "$CONFIGS" --batches "$BATCHES" --iters "$ITERS" $(torch_flags "$M") --json "$OUT/torch-$M.json"
done
for M in $MODES; do
"$PYTHON" - "$OUT/engine.json" "$OUT/torch-$M.json" <<'PY'
import json, sys
engine, torch = (json.load(open(p)) for p in sys.argv[1:3])
print(f"\nengine: {engine['adapter']}, fp32   PyTorch: {torch['device']} (torch {torch['torch']}), mode {torch['mode']}, {torch['amp']}; {engine['iters']} runs each")
print('config   batch   forward: engine ms  torch ms  torch/engine   train step: engine ms  torch ms  torch/engine   step/forward: engine  torch')
ref = {(r['config'], r['batch']): r for r in torch['rows']}
for r in engine['rows']:
    t = ref[(r['config'], r['batch'])]
    print(f"{r['config']:<8}{r['batch']:>6}{r['forward_ms']:>20.3f}{t['forward_ms']:>10.3f}{t['forward_ms'] / r['forward_ms']:>14.2f}"
          f"{r['train_step_ms']:>23.3f}{t['train_step_ms']:>10.3f}{t['train_step_ms'] / r['train_step_ms']:>14.2f}"
          f"{r['train_step_ms'] / r['forward_ms']:>23.2f}{t['train_step_ms'] / t['forward_ms']:>7.2f}")
PY
done
if [ -n "$TILES" ]; then
  "$PYTHON" - "$OUT/tiles" $TILES -- $TILE_SHAPES <<'PY'
import json, sys
out, rest = sys.argv[1], sys.argv[2:]
pairs, shapes = rest[:rest.index('--')], rest[rest.index('--') + 1:]
print('\nGEMM tiles (ms; in brackets the per-shape choice over that tile everywhere: above 1, the rule wins)')
for cb in pairs:
    key = cb.replace(':', '-')
    base = json.load(open(f'{out}/{key}-per-shape.json'))['rows'][0]
    cells = []
    for t in shapes:
        r = json.load(open(f'{out}/{key}-{t}.json'))['rows'][0]
        cells.append(f"{t}: fwd {r['forward_ms']:.3f} ({r['forward_ms'] / base['forward_ms']:.2f}x) step {r['train_step_ms']:.3f} ({r['train_step_ms'] / base['train_step_ms']:.2f}x)")
    print(f"{cb:<12} per shape: fwd {base['forward_ms']:.3f} step {base['train_step_ms']:.3f} | " + ' | '.join(cells))
PY
fi
if [ -n "$NORM" ]; then
  "$PYTHON" - "$OUT/norm" $NORM <<'PY'
import json, sys
out, pairs = sys.argv[1], sys.argv[2:]
print('\nGroupNorm outputs normalised on load vs written (ms; in brackets written / on load: above 1, on load wins)')
for cb in pairs:
    key = cb.replace(':', '-')
    on, off = (json.load(open(f'{out}/{key}-{n}.json'))['rows'][0] for n in ('on', 'off'))
    print(f"{cb:<12} fwd {on['forward_ms']:.3f} vs {off['forward_ms']:.3f} ({off['forward_ms'] / on['forward_ms']:.2f}x)  "
          f"step {on['train_step_ms']:.3f} vs {off['train_step_ms']:.3f} ({off['train_step_ms'] / on['train_step_ms']:.2f}x)  "
          f"fwd MB written {on['forward_mb_written']:.2f} vs {off['forward_mb_written']:.2f}")
PY
fi
