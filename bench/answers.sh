#!/usr/bin/env bash
# The seed question's experiments (README, Answers), on the CPU with PyTorch: the layered models of
# the research variant trained by tools/train_layered_torch.py (the engine's objectives, checked
# against the reference's layered golden by its --check), then measured by tools/answers_torch.py.
#   layer, end2end           the bundled layer16 / end2end16: ch 16, 1M image-gradient evaluations each
#   e2e_correction           end to end with the correction term (detached): each step's residual is the
#                            noise loss on the chain's own input (noise supervision, the chain kept)
#   e2e_teacher              end to end with teacher forcing: every step runs on the true x_t (no chain in between)
#   e2e_gtA, e2e_gtB         end to end on ground truth A (Markov forward noising, fresh noise per step) and
#                            B (independent noise per t) instead of D (one shared noise)
#   e2e_ch8                  end to end with 4x fewer parameters per sub-model (the seed's hypothesis (1))
#   layer_ch8                the layer loss with 4x fewer parameters (the seed's "smaller model")
#   e2e_globalclip           end to end with one gradient-norm clip over the chain (the engine's end2end mode;
#                            the others clip per sub-model)
# Two runs at a time, one thread each; every run resumes where it stopped.
#   bench/answers.sh [RUNS]          (default /work/runs)
#   then tools/answers_torch.py measures every run (public/answers: the Research tab's and the README's numbers)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-/work/runs}
PY=${PYTHON:-/usr/bin/python3}
EVALS=${EVALS:-500000}
mkdir -p "$RUNS"
train() {   # name evals flags...
  local name=$1 evals=$2; shift 2
  nice -n 5 "$PY" tools/train_layered_torch.py --run-dir "$RUNS/$name" --evals "$evals" --eval-every 100000 "$@" > "$RUNS/$name.log" 2>&1
}
# The bundled models (1M evaluations each), then the ablations.
( train layer 1000000 --mode layer; train e2e_correction "$EVALS" --mode end2end --correction detach; train e2e_teacher "$EVALS" --mode end2end --teacher-forcing; train e2e_ch8 "$EVALS" --mode end2end --ch 8; train e2e_gtB "$EVALS" --mode end2end --ground-truth B ) &
( train end2end 1000000 --mode end2end; train e2e_gtA "$EVALS" --mode end2end --ground-truth A; train layer_ch8 "$EVALS" --mode layer --ch 8; train e2e_globalclip "$EVALS" --mode end2end --clip-scope global ) &
wait
"$PY" tools/train_layered_torch.py --run-dir "$RUNS/layer" --export public/models/layer16.safetensors
"$PY" tools/train_layered_torch.py --run-dir "$RUNS/end2end" --export public/models/end2end16.safetensors
"$PY" tools/answers_torch.py --runs "$RUNS"
