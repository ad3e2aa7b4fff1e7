#!/usr/bin/env python3
"""A small load test of `lmbench serve` on loopback: REQUESTS short completions (max_tokens 8) from
CLIENTS concurrent clients, bounded by a deadline; prints requests/s and p50/p99 latency.

usage: scripts/serve-load.py BASE_URL [--clients 4] [--requests 40] [--max-tokens 8] [--deadline 300]
"""
import argparse
import json
import statistics
import threading
import time
import urllib.request


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=300)
    args = parser.parse_args()
    body = json.dumps({"prompt": "The capital of France is", "max_tokens": args.max_tokens}).encode()
    latencies, failures, lock = [], [], threading.Lock()
    remaining = [args.requests]
    start = time.monotonic()

    def client():
        while time.monotonic() - start < args.deadline:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            t = time.monotonic()
            try:
                request = urllib.request.Request(args.base + "/completions", body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=120) as reply:
                    json.load(reply)
                with lock:
                    latencies.append(time.monotonic() - t)
            except Exception as error:  # noqa: BLE001 - a load test counts every failure
                with lock:
                    failures.append(str(error))

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))] if latencies else float("nan")
    print(f"{len(latencies)} ok, {len(failures)} failed in {elapsed:.1f} s with {args.clients} clients: "
          f"{len(latencies) / elapsed:.2f} requests/s, p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    if failures:
        print("first failure:", failures[0])


if __name__ == "__main__":
    main()
