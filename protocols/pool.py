"""Stopping a process pool on Ctrl-C / SIGTERM without hanging the interpreter's exit.

`ProcessPoolExecutor.shutdown(wait=False, cancel_futures=True)` leaves running workers alive, and
with `max_tasks_per_child` CPython's exit then joins a management thread that waits for workers it
will never restart: `kill PID` printed "interrupted" and the process never ended. Ending the
workers first lets the pool notice and the process exit at once.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Drop queued work, end the running workers and release the pool without waiting for it."""
    if hasattr(pool, "terminate_workers"):  # Python 3.14+: the public way (it shuts the pool down too)
        pool.terminate_workers()
        return
    workers = list((getattr(pool, "_processes", None) or {}).values())  # before 3.14 only the private map
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        if process.is_alive():
            process.terminate()
    for process in workers:
        process.join(timeout=5)
