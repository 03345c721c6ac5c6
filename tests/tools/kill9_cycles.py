"""kill -9 the watch-folder service at random moments, restart it, count lost or duplicated clips.

    python tests/tools/kill9_cycles.py [SEED] [CYCLES]

Each cycle drops 3 clips (one in four corrupt) into the watch folder, waits a random 0.25-0.6 s,
kills the service with SIGKILL and starts it again. Uses the tests' server helper
(``tests/live_service.py``); works in /tmp/edgemood-kill9. Needs the ``[serve]`` and ``[test]``
extras.
"""

from __future__ import annotations

import random
import shutil
import signal
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from conftest import ANGRY, HAPPY, SAD  # noqa: E402
from live_service import Server, filed  # noqa: E402


def main(seed: int = 11, cycles: int = 30) -> int:
    work = Path("/tmp/edgemood-kill9")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    server = Server(work, settle_s=0.2)
    rng = random.Random(seed)
    dropped, mid_clip = [], 0
    try:
        for cycle in range(cycles):
            for i, source in enumerate((ANGRY, HAPPY, SAD)):
                corrupt = (cycle + i) % 4 == 0
                name = f"c{cycle}_{i}_bad.mp4" if corrupt else f"c{cycle}_{i}.flac"
                if corrupt:
                    (server.watch / name).write_bytes(b"\0" * 2000)
                else:
                    shutil.copy(source, server.watch / name)
                dropped.append(name)
            time.sleep(rng.uniform(0.25, 0.6))
            mid_clip += any((server.watch / "processing").iterdir())
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
            server.start()
        deadline = time.monotonic() + 120
        while len(filed(server.watch)) < len(dropped) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.stop()
    names = filed(server.watch)
    results = len(list((server.watch / "results").glob("*.json")))
    lost = len(set(dropped) - set(names))
    duplicated = len(names) - len(set(names)) + len(set(names) - set(dropped))
    print(
        f"{cycles} kill -9 cycles ({mid_clip} with a clip in processing/): {len(dropped)} clips "
        f"dropped, {len(names)} filed, {lost} lost, {duplicated} duplicated, {results} results"
    )
    return 0 if lost == duplicated == 0 and results == len(dropped) else 1


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:3])))
