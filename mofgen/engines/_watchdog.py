"""Run one external code so that it dies with the mofgen process that started it.

``python _watchdog.py PARENT_PID MEMORY_BYTES -- CMD...`` (run by path, importing nothing
of mofgen, so it starts in milliseconds). It is the leader of its own process group; the
code it starts, and whatever that code starts (console-script wrappers, MPI ranks), stay
in that group. When the parent that started it disappears — whatever killed it, SIGKILL
included — the kernel sends this process SIGTERM (``PR_SET_PDEATHSIG``), and a poll of the
parent id catches the rest; either way it kills the whole group. ``MEMORY_BYTES`` (0 for
none) caps the code's address space, so a runaway calculation fails with an error instead
of waking the kernel's OOM killer. The exit code is the code's own.
"""

import ctypes
import os
import resource
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1
POLL_S = 0.5


def _kill_group(*_args) -> None:
    os.killpg(0, signal.SIGKILL)  # the group: the code, its children and this process


def main(argv: list[str]) -> int:
    parent, memory = int(argv[0]), int(argv[1])
    command = argv[argv.index("--") + 1:]
    signal.signal(signal.SIGTERM, _kill_group)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the poll below still notices
    if os.getppid() != parent:  # the parent died before the signal was armed
        return 1
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        sys.stderr.write(f"{command[0]}: {exc.strerror}\n")
        return 127
    while True:
        try:
            return child.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:
                _kill_group()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
