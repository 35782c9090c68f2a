#!/usr/bin/env bash
# On a machine with a GPU, Node 20+ and PyTorch: the engine (Dawn, `ddim bench`) against PyTorch
# (tools/bench_torch.py) on the same models in the same run, then the ratio per row against each of
# PyTorch's three modes: eager fp32 (torch-eager.json), CUDA graphs + cudnn.benchmark + fused Adam fp32
# (torch-graphs.json, the anchor of issue 23's targets) and the same under bf16 autocast
# (torch-graphs-bf16.json, the anchor of the tensor tier).
#   bench/gpu.sh OUTDIR        (env: NODE, PYTHON, CONFIGS=tiny,bundled,small,cifar10, BATCHES=1,8,64, ITERS=20,
#                               MODES="eager graphs graphs-bf16",
#                               PROFILE=small:64 for the per-kernel profile of one config at one batch, "" for none,
#                               TILES=small:64 to time that config and batch with every GEMM on 64- and on 128-row
#                               tiles (shaders/gemm.wgsl), "" for none,
#                               TIERS="f16 matrix-emulated": the precision tiers to check against fp32 on the adapter
#                               (Dawn's unsafe feature toggles on): eps of the bundled model per tier, relative L2
#                               to fp32 and f16 against matrix-emulated (the same values by design), then
#                               `ddim bench --precision` per tier into tiers/; "" for none,
#                               TTQ_STEPS=4000 to also train emoji16 from scratch per tier (fp32 and TIERS) and
#                               score it (time-to-quality), "" (default) for none)
# Writes more than 8 files with TIERS or TTQ_STEPS: a lent machine returns 8, so tar OUTDIR there.
# Needs the built CLI (npm run build:cli) and the `webgpu` package beside it; DDIM_GPU=hardware
# picks the real adapter, whose name the engine's table prints first.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/gpu.sh OUTDIR}
NODE=${NODE:-node}
PYTHON=${PYTHON:-python3}
CONFIGS=${CONFIGS:-tiny,bundled,small,cifar10}
MODES=${MODES:-eager graphs graphs-bf16}
BATCHES=${BATCHES:-1,8,64}
ITERS=${ITERS:-20}
PROFILE=${PROFILE-small:64}
TILES=${TILES-small:64}
TIERS=${TIERS-f16 matrix-emulated}
TTQ_STEPS=${TTQ_STEPS-}
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
  for R in 64 128; do
    DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs bench --configs "${TILES%%:*}" --batches "${TILES##*:}" --iters "$ITERS" --gemm-rows "$R" --json "$OUT/engine-rows$R.json"
  done
fi
if [ -n "$TIERS" ]; then
  mkdir -p "$OUT/tiers"
  # One input for every tier: x ~ N(0, 1) [8, 3, 16, 16] and t spread over [0, 1000), as safetensors.
  "$PYTHON" - "$OUT/tiers/input.safetensors" <<'PY'
import json, struct, sys, random
random.seed(0)
x = [random.gauss(0, 1) for _ in range(8 * 3 * 16 * 16)]
t = [float(37 + 125 * i) for i in range(8)]
header = {'x': {'dtype': 'F32', 'shape': [8, 3, 16, 16], 'data_offsets': [0, 4 * len(x)]},
          't': {'dtype': 'F32', 'shape': [8], 'data_offsets': [4 * len(x), 4 * (len(x) + len(t))]}}
h = json.dumps(header).encode()
h += b' ' * (-len(h) % 8)
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<Q', len(h)) + h + struct.pack(f'<{len(x) + len(t)}f', *x, *t))
PY
  for T in fp32 $TIERS; do
    DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs --gpu-features unsafe forward --weights public/models/emoji16.safetensors \
      --input "$OUT/tiers/input.safetensors" --out "$OUT/tiers/eps-$T.safetensors" --precision "$T"
    DDIM_GPU=${DDIM_GPU:-hardware} "$NODE" bin/ddim.mjs --gpu-features unsafe bench --configs "$CONFIGS" --batches "$BATCHES" \
      --iters "$ITERS" --precision "$T" --json "$OUT/tiers/engine-$T.json"
  done
  "$PYTHON" - "$OUT/tiers" fp32 $TIERS <<'PY'
import json, math, struct, sys
def eps(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    meta = json.loads(b[8:8 + n])['eps']
    lo, hi = meta['data_offsets']
    return struct.unpack(f'<{(hi - lo) // 4}f', b[8 + n + lo:8 + n + hi])
d, tiers = sys.argv[1], sys.argv[2:]
ref = eps(f'{d}/eps-fp32.safetensors')
got = {t: eps(f'{d}/eps-{t}.safetensors') for t in tiers}
print('\nprecision tiers on this adapter, bundled model, eps of 8 inputs (README contract: relative L2 <= 3e-3):')
for t in tiers[1:]:
    e = got[t]
    rel = math.sqrt(sum((a - b) ** 2 for a, b in zip(e, ref)) / sum(b * b for b in ref))
    print(f'  {t:<16} relative L2 to fp32 {rel:.3e}')
if 'f16' in got and 'matrix-emulated' in got:
    diff = max(abs(a - b) for a, b in zip(got['f16'], got['matrix-emulated']))
    print(f'  f16 vs matrix-emulated: max |diff| {diff:.3e} (the same values by design: 0 expected)')
for t in tiers:
    rows = json.load(open(f'{d}/engine-{t}.json'))['rows']
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
  "$PYTHON" - "$OUT"/engine-rows64.json "$OUT"/engine-rows128.json <<'PY'
import json, sys
r64, r128 = (json.load(open(p))['rows'][0] for p in sys.argv[1:3])
print(f"\nGEMM row tiles, {r64['config']} at batch {r64['batch']}: forward 64 rows {r64['forward_ms']:.3f} ms, 128 rows {r128['forward_ms']:.3f} ms "
      f"({r64['forward_ms'] / r128['forward_ms']:.2f}x); training step {r64['train_step_ms']:.3f} / {r128['train_step_ms']:.3f} ms "
      f"({r64['train_step_ms'] / r128['train_step_ms']:.2f}x)")
PY
fi
