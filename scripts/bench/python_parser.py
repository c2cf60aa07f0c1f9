"""Parser throughput of Python prometheus-client's text_string_to_metric_families, measured the
same way as exposition-bench (warm up, ~0.1 s batches, >= 1 s total). Prints `FILE BYTES MB/s`."""

import sys
import time

from prometheus_client.parser import text_string_to_metric_families


def parse_once(text: str) -> int:
    return sum(len(family.samples) for family in text_string_to_metric_families(text))


def main() -> None:
    for path in sys.argv[1:]:
        with open(path, "rb") as handle:
            body = handle.read()
        text = body.decode()
        checksum = 0
        iterations = 1
        while True:
            start = time.perf_counter()
            for _ in range(iterations):
                checksum += parse_once(text)
            if time.perf_counter() - start >= 0.1:
                break
            iterations *= 2
        total = 0.0
        runs = 0
        while total < 1.0:
            start = time.perf_counter()
            for _ in range(iterations):
                checksum += parse_once(text)
            total += time.perf_counter() - start
            runs += iterations
        print(f"{path} {len(body)} {len(body) * runs / total / 1e6:.1f}")
        print(f"{path}: {total / runs * 1e6:.0f} us/parse over {runs} parses (checksum {checksum % 1000})",
              file=sys.stderr)


if __name__ == "__main__":
    main()
