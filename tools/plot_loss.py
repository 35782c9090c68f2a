#!/usr/bin/env python3
"""Loss curve of a training run (loss.csv of tools/train_torch.py, or CKPT.loss.csv of `ddim train`) as a PNG.

  python3 tools/plot_loss.py /work/runs/emoji16/loss.csv docs/loss.png
"""
import csv
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(src)))
    step = np.array([int(r['step']) for r in rows])
    loss = np.array([float(r['loss']) for r in rows])
    k = max(1, len(loss) // 200)
    smooth = np.convolve(loss, np.ones(k * 5) / (k * 5), mode='valid')
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    ax.plot(step, loss, color='#9db0ea', lw=0.5, label='loss per step (batch mean)')
    ax.plot(step[len(step) - len(smooth):], smooth, color='#3257d6', lw=1.8, label=f'moving average ({k * 5} steps)')
    ax.set_yscale('log')
    ax.set_xlabel('step')
    ax.set_ylabel('loss: mean over batch of sum over C,H,W')
    ax.grid(alpha=0.3, which='both')
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    print(f'wrote {out}: {len(loss)} steps, last moving average {smooth[-1]:.2f}')


if __name__ == '__main__':
    main()
