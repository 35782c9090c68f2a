#!/usr/bin/env bash
# Issue 11's recipe search: FD against image-gradient evaluations for today's recipe and its
# alternatives, each arm a resumable run of tools/train_torch.py (PyTorch on the CPU, the engine's
# recipe and parameter names) that measures the EMA weights every EVAL_EVERY steps into
# RUNS/<arm>/curve.csv (DDIM eta 1 at 20 steps; plain DDIM at 20 and 50 steps with the share of
# noise samples every PLAIN_EVERY steps). Rerun to continue every arm where it stopped; an arm with no
# run folder yet starts from its last state in the repository: its loss log and curve in
# docs/recipes/<arm>/, and its checkpoint from the git history (STATE_COMMIT, the last commit that
# held docs/recipes/<arm>/checkpoint.pt: 18 MB each, kept out of the working tree since issue 22), so
# the search continues across machines without the checkouts carrying them.
#
#   bench/recipes.sh [RUNS] [STEPS]        (defaults: /work/runs/recipes, 3000)
#   python3 tools/plot_recipes.py RUNS docs/recipes/recipes.png > docs/recipes/table.md
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-/work/runs/recipes}
STEPS=${2:-3000}
EVAL_EVERY=${EVAL_EVERY:-250}
PLAIN_EVERY=${PLAIN_EVERY:-1000}
THREADS=${THREADS:-1}
PY=${PYTHON:-/usr/bin/python3}
ARMS=${ARMS:-"baseline emawarm emawarm_minsnr fast fast_minsnr fast_minsnr_cosine"}
# The commit whose docs/recipes/<arm>/checkpoint.pt is each arm's last state (baseline: step 5,750;
# emawarm: step 3,000; fast_minsnr: step 31,000, the bundled model's branch point).
STATE_COMMIT=${STATE_COMMIT:-513b8b0}

B32_EVAL="--eval-every 500 --eval-plain-every 2000 --save-every 500"
flags_of() {
  local previous="--batch 64 --lr 1e-3 --warmup 500 --lr-decay none --loss-weight none"   # the recipe before the search
  case "$1" in
    baseline)          echo "$previous --no-ema-warmup" ;;                 # lr 1e-3, warmup 500, EMA 0.999, linear betas
    emawarm)           echo "$previous" ;;
    emawarm_minsnr)    echo "$previous --loss-weight min_snr --snr-gamma 5" ;;
    emawarm_cosine)    echo "$previous --beta-schedule cosine" ;;
    emawarm_lr2e3cos)  echo "$previous --lr 2e-3 --lr-decay cosine --decay-steps 6000" ;;
    emawarm_b128)      echo "$previous --batch 128" ;;
    emawarm_ch64)      echo "$previous --config {\"ch\":64,\"out_ch\":3,\"ch_mult\":[1,2,2],\"num_res_blocks\":1,\"attn_resolutions\":[8],\"dropout\":0.0,\"in_channels\":3,\"resolution\":16,\"resamp_with_conv\":true}" ;;
    # Half the batch: twice the updates per image-gradient evaluation; measured every 16,000 evaluations
    fast)              echo "--batch 32 --lr 2e-3 --warmup 200 --lr-decay cosine --decay-steps 10000 --loss-weight none $B32_EVAL" ;;
    fast_minsnr_cosine) echo "--batch 32 --lr 2e-3 --warmup 200 --lr-decay cosine --decay-steps 10000 --loss-weight min_snr --snr-gamma 5 --beta-schedule cosine $B32_EVAL" ;;
    fast_minsnr)       echo "--batch 32 --lr 2e-3 --warmup 200 --lr-decay cosine --decay-steps 10000 --loss-weight min_snr --snr-gamma 5 $B32_EVAL" ;;   # the engine's and train_torch.py's default
    *) echo "unknown arm $1" >&2; exit 2 ;;
  esac
}

for arm in $ARMS; do
  echo "== $arm to step $STEPS"
  if [ ! -e "$RUNS/$arm/checkpoint.pt" ] && git cat-file -e "$STATE_COMMIT:docs/recipes/$arm/checkpoint.pt" 2>/dev/null; then
    mkdir -p "$RUNS/$arm" && cp docs/recipes/"$arm"/*.csv "$RUNS/$arm/"
    git show "$STATE_COMMIT:docs/recipes/$arm/checkpoint.pt" > "$RUNS/$arm/checkpoint.pt"
  fi
  # shellcheck disable=SC2046
  nice -n 10 "$PY" tools/train_torch.py --run-dir "$RUNS/$arm" --steps "$STEPS" --threads "$THREADS" \
    --eval-every "$EVAL_EVERY" --eval-plain-every "$PLAIN_EVERY" --save-every "$EVAL_EVERY" $(flags_of "$arm")
done
