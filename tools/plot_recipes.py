#!/usr/bin/env python3
"""The recipe search (bench/recipes.sh) on one chart and as a table: FD of DDIM eta 1 at 20 steps
against image-gradient evaluations for every arm in RUNS, where each arm's curve crosses FD 20 and
FD 10, and the plain-DDIM points (FD, share of noise samples).

  python3 tools/plot_recipes.py /work/runs/recipes docs/recipes.png > docs/recipes.md
"""
import csv
import os
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def crossing(rows, level):
    """Evaluations where FD first drops to `level`, linear between measured points (None if not yet)."""
    prev = None
    for r in rows:
        fd, ev = float(r['fd_eta1_20']), int(r['evals'])
        if fd <= level:
            if prev is None:
                return ev
            (e0, f0) = prev
            return round(e0 + (ev - e0) * (f0 - level) / (f0 - fd))
        prev = (ev, fd)
    return None


def main():
    runs, out = sys.argv[1], sys.argv[2]
    arms = sorted(d for d in os.listdir(runs) if os.path.exists(os.path.join(runs, d, 'curve.csv')))
    fig, ax = plt.subplots(figsize=(7.5, 4), dpi=110)
    print('| arm | evaluations measured | FD (eta 1, 20 steps) at the last point | reaches FD 20 at | reaches FD 10 at |')
    print('|---|---|---|---|---|')
    plain = []
    for arm in arms:
        rows = list(csv.DictReader(open(os.path.join(runs, arm, 'curve.csv'))))
        if not rows:
            continue
        ax.plot([int(r['evals']) for r in rows], [float(r['fd_eta1_20']) for r in rows], marker='o', ms=3, label=arm)
        last = rows[-1]
        c20, c10 = crossing(rows, 20), crossing(rows, 10)
        print(f"| {arm} | {last['evals']} | {float(last['fd_eta1_20']):.2f} | {c20 if c20 else '-'} | {c10 if c10 else '-'} |")
        plain += [(arm, r) for r in rows if r['fd_ddim_20']]
    if plain:
        print('\n| arm | evaluations | plain DDIM 20 steps: FD | noise share | plain DDIM 50 steps: FD | noise share |')
        print('|---|---|---|---|---|---|')
        for arm, r in plain:
            print(f"| {arm} | {r['evals']} | {float(r['fd_ddim_20']):.2f} | {100 * float(r['noise_ddim_20']):.1f}% | {float(r['fd_ddim_50']):.2f} | {100 * float(r['noise_ddim_50']):.1f}% |")
    ax.set_xlabel('image-gradient evaluations (steps x batch)')
    ax.set_ylabel('FD, DDIM eta 1, 20 steps (384 samples)')
    ax.set_yscale('log')
    ax.grid(alpha=0.3, which='both')
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)


if __name__ == '__main__':
    main()
