"""Long work split over forked processes: whether it is worth it, and the child's side of the split."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn


def usable_cores() -> int:
    """How many cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def child_main(work: Callable[[], object], out: int) -> NoReturn:
    """In a forked child: run `work`, send what it returns pickled through the pipe `out`, and exit, with
    status 1 when it raised (its traceback on stderr). An interrupted parent ends it, without a traceback."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        gc.disable()  # the process ends with the work: nothing to collect
        result = work()
        with os.fdopen(out, "wb") as stream:
            pickle.dump(result, stream, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)
