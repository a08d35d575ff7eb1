"""Peak memory of a whole process tree: what a machine must hold.

A Beam run on DirectRunner is a parent and one worker process per core;
each one's own high-water mark says nothing of their sum. `run` starts a
command and samples, every `interval` seconds, the summed RSS of it and
all its descendants (from /proc), keeping the largest sum. Used by
bench/ingest.py and by the hostile-input tests (tests/conftest.py,
`run_measured`).
"""

import os
import subprocess
import threading
import time
from typing import List, NamedTuple, Optional


class Measured(NamedTuple):
  returncode: int
  seconds: float
  peak_rss: int  # Bytes: the largest sampled sum over the tree.
  stdout: str
  stderr: str


def tree_rss(pid: int) -> int:
  """Sum of VmRSS (bytes) of pid and all its descendants, from /proc."""
  total, stack = 0, [pid]
  while stack:
    p = stack.pop()
    try:
      with open(f'/proc/{p}/status') as f:
        for line in f:
          if line.startswith('VmRSS:'):
            total += int(line.split()[1]) * 1024
      for tid in os.listdir(f'/proc/{p}/task'):
        with open(f'/proc/{p}/task/{tid}/children') as f:
          stack.extend(int(c) for c in f.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
      continue
  return total


def run(
  cmd: List[str],
  cwd: Optional[str] = None,
  env: Optional[dict] = None,
  interval: float = 0.05,
  timeout: Optional[float] = None,
) -> Measured:
  """Runs cmd to its end; its wall time and the tree's peak summed RSS."""
  start = time.perf_counter()
  proc = subprocess.Popen(
    cmd,
    cwd=cwd,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  peak = [0]

  def sample():
    while proc.poll() is None:
      peak[0] = max(peak[0], tree_rss(proc.pid))
      time.sleep(interval)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  try:
    out, err = proc.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    proc.kill()
    out, err = proc.communicate()
    raise
  seconds = time.perf_counter() - start
  sampler.join()
  return Measured(proc.returncode, seconds, peak[0], out, err)
