"""Time of the closed-form edit's linear solve: a general solve against the Cholesky solve that
DOME, MEMIT and ROME use (:func:`pt_genret.updates.editing.spd_solve`), side by side.

The matrix is what the edit solves with: a key covariance ``n0·E[k kᵀ] + K1 K1ᵀ`` plus the
ridge, of the decoder FFN width ``d_ff``, against ``K1 Rᵀ`` of the model width. Keys are
seeded random non-negative vectors (post-activation keys are mostly non-negative).

    python benchmarks/closed_form_solve.py --widths 1536 6144 --repeats 3
"""
from __future__ import annotations

import argparse
import time

import torch

from pt_genret.updates.editing import spd_solve


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", type=int, nargs="+", default=[1536, 6144], help="decoder FFN widths d_ff")
    p.add_argument("--hidden", type=int, default=384, help="model width (columns of the right-hand side)")
    p.add_argument("--keys", type=int, default=4000, help="old keys in the covariance")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    gen = torch.Generator().manual_seed(42)
    print(f"device {args.device}, {torch.get_num_threads()} threads, float64, best of {args.repeats}")
    print("| d_ff | general solve (s) | Cholesky (s) | Cholesky ÷ general | max relative difference |")
    print("|---|---|---|---|---|")
    for width in args.widths:
        keys = torch.relu(torch.randn(args.keys, width, generator=gen, dtype=torch.float64))
        a = keys.T @ keys
        a += 1e-4 * (torch.trace(a) / width) * torch.eye(width, dtype=torch.float64)
        b = torch.randn(width, args.hidden, generator=gen, dtype=torch.float64)
        a, b = a.to(args.device), b.to(args.device)
        sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
        general = best_of(lambda: (torch.linalg.solve(a, b), sync()), args.repeats)
        cholesky = best_of(lambda: (spd_solve(a, b), sync()), args.repeats)
        x, y = torch.linalg.solve(a, b), spd_solve(a, b)
        diff = ((x - y).abs().max() / x.abs().max()).item()
        print(f"| {width} | {general:.3f} | {cholesky:.3f} | {cholesky / general:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
