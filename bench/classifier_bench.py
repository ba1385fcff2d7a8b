"""Benchmark the reply classifier: load time, replies per second on one core, memory growth.

Run: ``.venv/bin/python bench/classifier_bench.py [--runs 7] [--model PATH]``

Numbers printed:

* import time of ``dripper.readiness.classifier`` (paid once per worker process);
* model load time from a saved file (``Classifier.load(path)``), median of several loads;
* training time from the packaged corpus (what ``Classifier.load(None)`` costs when no file exists);
* replies per second over every corpus reply through ``classify`` (all layers), pinned to one
  core, median of several runs; and over the answers to the course's questions, each read with
  its question;
* RSS growth after loading the model, read from ``/proc/self/status`` (VmRSS), so no psutil.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pin_to_one_core() -> str:
    # Replies per second "on one core": keep the process, and numpy's threads, on one CPU.
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed passes over the corpus")
    parser.add_argument("--model", type=Path, help="a saved model file (default: train one)")
    args = parser.parse_args()
    pinned = pin_to_one_core()

    # The ``dripper`` package itself imports Flask, SQLAlchemy and Celery (the app factory); a
    # worker has paid for that already, so it is measured apart from the classifier's own cost.
    rss_start = rss_mb()
    started = time.perf_counter()
    import dripper  # noqa: F401

    package_s = time.perf_counter() - started
    rss_package = rss_mb()
    started = time.perf_counter()
    from dripper.readiness.classifier import Classifier, train
    from dripper.readiness.model import CORPUS_DIR, read_corpus

    import_s = time.perf_counter() - started
    rss_imported = rss_mb()

    examples = read_corpus(CORPUS_DIR)
    texts = [e.text for e in examples]
    # Answers read in their conversation: the same replies, each with the question it answers.
    asked = [e for e in examples if e.question]
    asked_texts, asked_questions = [e.text for e in asked], [e.question for e in asked]
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model
        train_s = float("nan")
        if path is None:
            path = Path(tmp) / "reply-model.npz"
            started = time.perf_counter()
            train(CORPUS_DIR, out=path)
            train_s = time.perf_counter() - started
        gc.collect()
        rss_before_load = rss_mb()
        loads = []
        classifier = None
        for _ in range(5):
            classifier = None
            gc.collect()
            started = time.perf_counter()
            classifier = Classifier.load(path)
            loads.append(time.perf_counter() - started)
        assert classifier is not None
        gc.collect()
        rss_loaded = rss_mb()
        size_mb = path.stat().st_size / 1e6

    classifier.classify_many(texts[:200])  # warm caches before timing
    # Wall-clock rates, and rates per second of this process's CPU time: on a machine shared
    # with other work, the second says what one core does when it is ours.
    rates, cpu_rates = [], []
    for _ in range(args.runs):
        started, cpu = time.perf_counter(), time.process_time()
        classifier.classify_many(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
        cpu_rates.append(len(texts) / (time.process_time() - cpu))
    in_context, in_context_cpu = [], []
    for _ in range(args.runs):
        started, cpu = time.perf_counter(), time.process_time()
        classifier.classify_many(asked_texts, asked_questions)
        in_context.append(len(asked) / (time.perf_counter() - started))
        in_context_cpu.append(len(asked) / (time.process_time() - cpu))
    single = []
    for text in texts[:500]:
        started = time.perf_counter()
        classifier.classify(text)
        single.append(time.perf_counter() - started)
    single.sort()
    long_text = ("I read it twice and thought about my brother. " * 40)[:1600]
    started = time.perf_counter()
    for _ in range(200):
        classifier.classify(long_text)
    long_ms = (time.perf_counter() - started) / 200 * 1000
    rss_after_run = rss_mb()

    print(f"classifier benchmark ({pinned}, Python {sys.version.split()[0]})")
    print(f"  corpus replies              {len(texts)}")
    print(
        f"  import dripper (app deps)   {package_s * 1000:8.0f} ms  (+{rss_package - rss_start:.0f} MB)"
    )
    print(
        f"  import the classifier       {import_s * 1000:8.0f} ms  (+{rss_imported - rss_package:.0f} MB)"
    )
    if train_s == train_s:  # not NaN
        print(f"  train from corpus           {train_s * 1000:8.0f} ms")
    print(f"  model file                  {size_mb:8.1f} MB")
    print(f"  load model (median of 5)    {statistics.median(loads) * 1000:8.0f} ms")
    print(f"  RSS growth after load       {rss_loaded - rss_before_load:8.1f} MB")
    print(f"  RSS growth after {args.runs} runs     {rss_after_run - rss_before_load:8.1f} MB")
    print(f"  replies/second (median {args.runs})  {statistics.median(rates):8.0f}")
    print(f"  replies/second (min, max)   {min(rates):8.0f} {max(rates):8.0f}")
    print(f"  replies/CPU-second (median) {statistics.median(cpu_rates):8.0f}")
    print(
        f"  with their question         {statistics.median(in_context):8.0f}"
        f"     ({len(asked)} answers to the course's questions, median of {args.runs})"
    )
    print(f"  with their question, CPU    {statistics.median(in_context_cpu):8.0f}")
    print(
        f"  one reply p50 / p99         {single[len(single) // 2] * 1e6:8.0f} us"
        f" / {single[int(len(single) * 0.99)] * 1e6:.0f} us"
    )
    print(f"  one 1,600-char reply        {long_ms:8.2f} ms")


if __name__ == "__main__":
    main()
