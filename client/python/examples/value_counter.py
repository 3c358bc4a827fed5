# The seed's multiprocessing.Value example done right: Value has no
# atomic increment, so "value.value += 1" from four processes loses
# updates; psync.Counter.add is atomic, no lock needed.
import multiprocessing

import psync

MAX_COUNT_PER_PROCESS = 1000
NBR_PROCESSES = 4


def work(counter, max_count):
    for n in range(max_count):
        counter.add(1)


if __name__ == "__main__":
    counter = psync.Counter()
    processes = [multiprocessing.Process(target=work,
                                         args=(counter, MAX_COUNT_PER_PROCESS))
                 for _ in range(NBR_PROCESSES)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    print("Counter.add: expected %d, got %d"
          % (NBR_PROCESSES * MAX_COUNT_PER_PROCESS, counter.get()))
