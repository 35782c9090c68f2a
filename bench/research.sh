#!/usr/bin/env bash
# The research experiments at a size worth reading, for a machine with a GPU (Node, the built CLI):
#   3. budget: a time-conditioned UNet (bench/research/time16.json, the bundled model's architecture),
#      a layered model trained per step and one trained end to end (bench/research/layered16.json:
#      num_block 10, ch 16 per step), each on emoji16 for the same number of image-gradient
#      evaluations, FD of 384 samples at 6 points;
#   1, 2. one-shot vs chain and the first step from pure noise, on the bundled model and the three
#      trained runs.
#   bench/research.sh OUTDIR RUNDIR
# env: NODE, EVALS (default 200000), ARM_SECONDS (default: no limit), POINTS, SAMPLES, TIME_BATCH, LAYERED_BATCH,
#      TIME_CONFIG, LAYERED_CONFIG, ONESHOT_N, FIRST_N (smaller settings for a dry run on SwiftShader: DDIM_GPU=software)
# Writes OUTDIR/budget.csv, oneshot.csv, firststep.csv, first.png; the runs' checkpoints go to RUNDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/research.sh OUTDIR RUNDIR}
RUNS=${2:?usage: bench/research.sh OUTDIR RUNDIR}
NODE=${NODE:-node}
EVALS=${EVALS:-200000}
mkdir -p "$OUT" "$RUNS"
export DDIM_GPU=${DDIM_GPU:-hardware}
limit=(); [ -n "${ARM_SECONDS:-}" ] && limit=(timeout "$ARM_SECONDS")
for arm in time layer end2end; do
  # Each arm alone, so a time limit cuts one arm and leaves the others; points already scored stay in its CSV.
  "${limit[@]}" "$NODE" bin/ddim.mjs research budget --arms "$arm" --data emoji16 --evals "$EVALS" --points "${POINTS:-6}" --samples "${SAMPLES:-384}" \
    --time-batch "${TIME_BATCH:-64}" --layered-batch "${LAYERED_BATCH:-16}" \
    --time-config "${TIME_CONFIG:-bench/research/time16.json}" --layered-config "${LAYERED_CONFIG:-bench/research/layered16.json}" --csv "$RUNS/budget-$arm.csv" --out-dir "$RUNS"
done
{ head -1 "$RUNS/budget-time.csv"; for arm in time layer end2end; do tail -n +2 "$RUNS/budget-$arm.csv"; done; } > "$OUT/budget.csv"
models=public/models/emoji16.safetensors
for arm in time layer end2end; do [ -f "$RUNS/$arm.safetensors" ] && models="$models,$RUNS/$arm.safetensors"; done
"$NODE" bin/ddim.mjs research oneshot --weights "$models" --num-block 10 --data emoji16 --n "${ONESHOT_N:-64}" --csv "$OUT/oneshot.csv"
"$NODE" bin/ddim.mjs research firststep --weights "$models" --num-block 10 --data emoji16 --n "${FIRST_N:-384}" --csv "$OUT/firststep.csv" --png "$OUT/first.png"
