# The seed's file counter: four processes add 1 a thousand times each to
# a number kept in a file.  @fasteners.interprocess_locked is replaced by
# psync's decorator; without it (--no-lock) updates are lost.
import multiprocessing
import os
import sys
import tempfile

import psync

MAX_COUNT_PER_PROCESS = 1000
NBR_PROCESSES = 4


def work(filename, max_count):
    for n in range(max_count):
        with open(filename, "r") as f:
            try:
                nbr = int(f.read())
            except ValueError as err:
                nbr = 0
        with open(filename, "w") as f:
            f.write(str(nbr + 1) + "\n")


@psync.locked("example.file_counter")
def locked_work_once(filename):
    work(filename, 1)


def locked_work(filename, max_count):
    for n in range(max_count):
        locked_work_once(filename)


def run_workers(target, filename):
    processes = []
    for p in range(NBR_PROCESSES):
        p = multiprocessing.Process(target=target,
                                    args=(filename, MAX_COUNT_PER_PROCESS))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        filename = os.path.join(d, "counter.txt")
        open(filename, "w").close()
        lock = "--no-lock" not in sys.argv
        run_workers(locked_work if lock else work, filename)
        expected = NBR_PROCESSES * MAX_COUNT_PER_PROCESS
        with open(filename) as f:
            got = int(f.read() or 0)
        print("file counter %s: expected %d, got %d"
              % ("under a psync lock" if lock else "without a lock",
                 expected, got))
