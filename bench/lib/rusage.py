#!/usr/bin/env python3
"""Runs a command and reports what it cost, as JSON on the last line of stderr.

    rusage.py COMMAND [ARG...]

- wall: seconds from fork to exit (monotonic clock);
- maxrss_kb: the peak resident set size, from wait4()'s rusage (the kernel's own high-water
  mark: exact, whenever the peak happened, like GNU time's "Maximum resident set size");
- anon_kb: the peak of RssAnon (memory private to the process, without the pages of the
  executable and libraries, which are shared and can be dropped), sampled every 10 ms from
  /proc/PID/status, so a briefer peak can be missed;
- user, sys: CPU seconds;
- status: the exit status.

Node's child_process does not return a child's rusage; this does it with os.wait4. The
command's stdout and stderr pass through unchanged.
"""
import json
import os
import sys
import time


def anon_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    argv = sys.argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    peak_anon = 0
    while True:
        done, status, ru = os.wait4(pid, os.WNOHANG)
        if done == pid:
            break
        peak_anon = max(peak_anon, anon_kb(pid))
        time.sleep(0.01)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    report = {"wall": wall, "maxrss_kb": ru.ru_maxrss, "anon_kb": peak_anon, "user": ru.ru_utime, "sys": ru.ru_stime, "status": code}
    sys.stderr.write("\n" + json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
