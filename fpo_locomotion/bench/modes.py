"""``fpo-loco bench modes``: does a policy keep every mode of a multimodal bandit, and do the shares hold as
training goes on?

For each bandit of ``BANDIT_FAMILY`` (or ``tasks``), algorithm and seed, one run trains to each budget in turn
and samples 1000 stochastic actions there: the share in each mode (the mode's bump pays >= a quarter of its
peak) and in any mode. A row passes when every mode holds at least ``min_share`` and all modes together at
least ``min_in_mode`` of the samples. Settings under test go in with ``--set train.fpo.KEY=VALUE``.
"""

from __future__ import annotations

import time

from fpo_locomotion.tasks.bandit_multimodal import BANDIT_FAMILY
from fpo_locomotion.viz_bandit import train_and_sample


def bench_modes(tasks: list[str] | None = None, algos: tuple[str, ...] = ("fpo", "ppo"), seeds: list[int] = (0, 1, 2),
                budgets: list[int] = (150, 600), overrides: tuple[str, ...] = (), min_share: float = 0.2,
                min_in_mode: float = 0.8) -> list[dict]:
    """Print one line per (task, algo, seed, budget) and a pass count per (task, algo, budget); return the rows."""
    rows, tasks = [], tasks or list(BANDIT_FAMILY)
    for task in tasks:
        for algo in algos:
            for seed in seeds:
                start = time.time()
                results = train_and_sample(algo, seed, sorted(budgets), task=task, overrides=overrides)
                for budget, (_, shares, in_mode) in zip(sorted(budgets), results):
                    passed = min(shares) >= min_share and in_mode >= min_in_mode
                    rows.append({"task": task, "algo": algo, "seed": seed, "budget": budget, "shares": shares,
                                 "in_mode": in_mode, "passed": passed})
                    print(f"{task:<17} {algo} seed {seed} it {budget:>4}: modes "
                          + " ".join(f"{s:4.0%}" for s in shares) + f" | in a mode {in_mode:4.0%} | "
                          f"{'pass' if passed else 'FAIL'}  ({time.time() - start:.0f} s)", flush=True)
    print(f"\nmode keeping (every mode >= {min_share:.0%}, all modes >= {min_in_mode:.0%}), seeds passed:")
    for task in tasks:
        for algo in algos:
            cells = []
            for budget in sorted(budgets):
                chosen = [r for r in rows if (r["task"], r["algo"], r["budget"]) == (task, algo, budget)]
                worst = min(min(r["shares"]) for r in chosen)
                cells.append(f"it {budget}: {sum(r['passed'] for r in chosen)}/{len(chosen)} "
                             f"(worst mode {worst:.0%}, worst in-mode {min(r['in_mode'] for r in chosen):.0%})")
            print(f"  {task:<17} {algo}: " + "; ".join(cells))
    return rows
