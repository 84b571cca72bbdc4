"""Several processes under ``accelerate launch`` (or ``torchrun``): who writes, how work is shared
out, and how decisions agree.

Every process runs the same program on the same data. Work is shared out (training batches
split row-wise, query batches for decoding) and results are gathered back in their original
order, so every process holds the same run and the same model. Files, checkpoints, progress
bars and printed logs are the main process's alone. A decision that depends on the clock (a
time budget) must be taken identically everywhere, or the processes diverge and deadlock in
their next collective: :func:`shared_time` is the main process's clock, read by all.

With one process (no launcher) every function here is a cheap no-op: nothing of HF Accelerate
or ``torch.distributed`` is set up.
"""
from __future__ import annotations

import os
import time
from typing import Callable, TypeVar

import pyterrier as pt
import torch

T = TypeVar("T")
R = TypeVar("R")


def launched() -> bool:
    """Whether this process is one of several (a launcher set ``WORLD_SIZE`` above 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def state():
    """The shared HF Accelerate state (set up on first use; the CPU when there is no GPU, so
    that ``accelerate launch --multi_gpu`` on a CPU machine runs on gloo), or ``None`` alone."""
    if not launched():
        return None
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def num_processes() -> int:
    s = state()
    return 1 if s is None else s.num_processes


def process_index() -> int:
    s = state()
    return 0 if s is None else s.process_index


def is_main() -> bool:
    """Whether this process writes files and logs (the only process, or rank 0)."""
    return process_index() == 0


def barrier() -> None:
    """Wait until every process gets here."""
    s = state()
    if s is not None:
        s.wait_for_everyone()


def broadcast(value: T) -> T:
    """The main process's ``value`` (any picklable object), on every process."""
    if not launched():
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]


def shared_time() -> float:
    """The main process's ``time.time()`` on every process: a budget read from it makes the
    same stop/replan decisions everywhere. A collective: call it at the same points on all."""
    s = state()
    if s is None:
        return time.time()
    from accelerate.utils import broadcast as broadcast_tensor

    now = torch.tensor([time.time()], dtype=torch.float64, device=s.device)
    return float(broadcast_tensor(now, from_process=0).item())


def shard_rows(rows: list[int]) -> tuple[list[int], float]:
    """This process's share of a batch (every ``num_processes``-th row) and its weight, the
    share of the batch's rows it holds; an empty share keeps one row at weight 0, so that every
    process runs the same forward and backward passes."""
    n, r = num_processes(), process_index()
    if n == 1:
        return rows, 1.0
    mine = rows[r::n]
    return (mine, len(mine) / len(rows)) if mine else (rows[:1], 0.0)


def in_batches(fn: Callable[[list[T]], list[R]], items: list[T], batch_size: int, desc: str = "",
               verbose: bool = False, unit: str = "batch") -> list[R]:
    """``fn`` over consecutive batches of ``items``, the batches shared out across processes
    (round robin); every process returns every result, in the items' order. Progress is shown by
    the main process."""
    starts = list(range(0, len(items), max(1, batch_size)))
    n = num_processes()
    done: list[tuple[int, list[R]]] = []
    for start in pt.tqdm(starts[process_index()::n], desc=desc, unit=unit, disable=not verbose or not is_main()):
        done.append((start, list(fn(items[start:start + batch_size]))))
    if n > 1:
        from accelerate.utils import gather_object

        done = gather_object(done)
    out: list[R] = []
    for _, results in sorted(done, key=lambda pair: pair[0]):
        out.extend(results)
    return out

