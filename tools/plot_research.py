#!/usr/bin/env python3
"""Charts of the research experiments' CSVs (bench/research.sh, `ddim research oneshot|budget --csv`) as PNGs.

  python3 tools/plot_research.py budget.csv oneshot.csv docs/research.png
Left: experiment 3, FD against training seconds per arm (parameters in the legend).
Right: experiment 1, MSE of the one-shot x0 (dashed) and of the chain (solid) against t, per model.
"""
import csv
import sys
from collections import defaultdict

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

COLORS = ['#3257d6', '#d6573a', '#2f9e5b', '#9b4fd6', '#c79a10']
ARMS = {'time': 'time-conditioned', 'layer': 'layered, layer loss', 'end2end': 'layered, end to end'}


def main():
    budget_csv, oneshot_csv, out = sys.argv[1:4]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=110)
    arms = defaultdict(list)
    for r in csv.DictReader(open(budget_csv)):
        arms[r['arm']].append(r)
    for i, (arm, rows) in enumerate(arms.items()):
        a.plot([float(r['train_seconds']) for r in rows], [float(r['fd']) for r in rows], 'o-', color=COLORS[i],
               label=f"{ARMS.get(arm, arm)} ({int(rows[0]['parameters']):,} params)")
    a.set_xlabel('training seconds (sampling for the points not counted)')
    a.set_ylabel('FD of 8x8-pooled pixels (lower is better)')
    # The measure's scale (README, Evaluation): clamped Gaussian noise scores 95.78 at 384 samples.
    a.axhline(95.78, color='#888888', ls=':', lw=1, label='clamped Gaussian noise (95.78)')
    a.grid(alpha=0.3, which='both')
    a.legend(fontsize=8)
    a.set_title('3. same image-gradient evaluations per arm', fontsize=10)
    models = defaultdict(list)
    for r in csv.DictReader(open(oneshot_csv)):
        models[r['model']].append(r)
    for i, (name, rows) in enumerate(models.items()):
        t = [int(r['t']) for r in rows]
        b.plot(t, [float(r['one_shot_mse']) for r in rows], '--', color=COLORS[i % len(COLORS)], label=f'{name}: one-shot x0')
        b.plot(t, [float(r['chain_mse']) for r in rows], '-', color=COLORS[i % len(COLORS)], label=f'{name}: chain')
    b.set_xlabel('t of the noised held-out image')
    b.set_ylabel('MSE per value vs the clean image')
    b.set_yscale('log')
    b.grid(alpha=0.3, which='both')
    b.legend(fontsize=7)
    b.set_title('1. one-shot x0 vs the chain from x_t', fontsize=10)
    fig.tight_layout()
    fig.savefig(out)
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
