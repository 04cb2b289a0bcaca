"""Run by the fork server's tests as ``python -m tests.libs.devtools.forkchild ACTION``:
reports what a fresh process would see, then exits or waits for a signal."""

from __future__ import annotations

import json
import os
import sys
import time


def open_descriptors() -> list[int]:
    return sorted(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) > 2)


def main() -> int:
    listed = open_descriptors()
    report = {
        "argv": sys.argv[1:],
        "env": os.environ.get("FORKCHILD_VALUE"),
        "stranger": os.environ.get("FORKCHILD_STRANGER"),
        "leader": os.getpgid(0) == os.getpid() == os.getsid(0),
        "stdin": sys.stdin.read(),
        "descriptors": listed[:-1],  # the last is the listing's own
        "name": __name__,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    action = sys.argv[1]
    if action == "wait":
        try:
            for _ in range(600):  # bounded: a minute
                time.sleep(0.1)
        except KeyboardInterrupt:
            sys.stdout.write("interrupted\n")
            sys.stdout.flush()
            return 3
    if action == "fail":
        raise RuntimeError("deliberate")
    return 7


if __name__ == "__main__":
    sys.exit(main())
