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
#                               tiles (shaders/gemm.wgsl), "" for none)
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
