"""Waits (at most 10 minutes) until the machine's 1-minute load average drops below 0.5 per core
plus a margin, so that a timed job does not share the CPU with a build; says when it gave up."""
import os
import sys
import time

cores = os.cpu_count() or 1
deadline = time.time() + 600
while os.getloadavg()[0] > 0.3 * cores + 0.3:
    if time.time() > deadline:
        print(f"[bench] load {os.getloadavg()[0]:.2f}: timing anyway", file=sys.stderr)
        break
    time.sleep(5)
