"""Benchmark (not a test): the event loop while a storage call hangs (a hung NFS mount).

    python bench/storage_hang.py [--rounds 5] [--hang 1.5] [--timeout 0.5]

A ticker on the loop sleeps 10 ms at a time and records the gap between its wake-ups,
once while ``StorageService.list`` runs into a listing that hangs for --hang seconds
(the service answers 503 after --timeout), and once over the same span with nothing in
flight (the baseline). Rounds alternate, so machine noise hits both alike; the result
is the ratio of the median of each round's longest gap. Target: <= 2x. Also printed:
how long the 503 took, against the --timeout it should take.

The test suite checks the behaviour (the 503 comes while the listing still hangs, and
the loop runs meanwhile: tests/test_storage_units.py); this measures how free the loop is.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_ray_dev.storage import StorageService  # noqa: E402
from jupyter_ray_dev.storage.backends.local import LocalBackend  # noqa: E402
from jupyter_ray_dev.storage.errors import StorageUnreachable  # noqa: E402


async def gaps_while(work, span: float) -> list[float]:
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    try:
        await asyncio.gather(work(), asyncio.sleep(span))
    finally:
        tick.cancel()
    return gaps


async def main_async(args) -> int:
    def hang(self, *_args):
        time.sleep(args.hang)
        return [], None

    LocalBackend._list_page = hang  # this process only: a listing that hangs like NFS
    answers: list[float] = []
    hung_max: list[float] = []
    idle_max: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        service = StorageService([{"name": "t", "url": folder}], timeout=args.timeout,
                                 list_process=False)

        async def hung_listing() -> None:
            started = time.monotonic()
            try:
                await service.list("t", "")
            except StorageUnreachable:
                answers.append(time.monotonic() - started)
            else:
                raise SystemExit("the hung listing answered: the bench measures nothing")

        async def nothing() -> None:
            pass

        span = args.timeout * 1.5
        for _ in range(args.rounds):
            idle_max.append(max(await gaps_while(nothing, span)))
            hung_max.append(max(await gaps_while(hung_listing, span)))
            await asyncio.sleep(args.hang)  # the hung thread ends before the next round
        await service.close()

    ratio = statistics.median(hung_max) / statistics.median(idle_max)
    ok = ratio <= 2
    print(f"loop while a listing hangs: longest gap median {statistics.median(hung_max) * 1000:.1f}"
          f" ms, idle baseline {statistics.median(idle_max) * 1000:.1f} ms -> {ratio:.2f}x "
          f"(target <= 2x) {'OK' if ok else 'MISSED'}")
    late = statistics.median(answers) / args.timeout
    print(f"503 after {statistics.median(answers) * 1000:.0f} ms (median) for a "
          f"{args.timeout * 1000:.0f} ms timeout -> {late:.2f}x (target 1.0x, within 10%) "
          f"{'OK' if late <= 1.1 else 'MISSED'}; the listing hangs {args.hang * 1000:.0f} ms")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hang", type=float, default=1.5)
    parser.add_argument("--timeout", type=float, default=0.5)
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
