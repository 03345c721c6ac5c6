"""The few Prometheus metrics ``edgemood serve`` exposes, in the text exposition format.

Counters and histograms with labels, thread-safe, rendered on ``GET /metrics``. Small enough to
write here rather than add a dependency to the device.
"""

from __future__ import annotations

import threading
from collections import defaultdict

# Seconds: per-stage latencies run from ~0.1 ms (fusion) to seconds (a long clip's face stage).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    escaped = (
        (k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")) for k, v in pairs
    )
    return "{" + ",".join(f'{k}="{v}"' for k, v in escaped) + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}
        self._counters: dict[str, dict[tuple, float]] = defaultdict(dict)
        self._gauges: dict[str, dict[tuple, float]] = defaultdict(dict)
        self._hist: dict[str, dict[tuple, list[float]]] = defaultdict(dict)

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._counters[name][key] = self._counters[name].get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._gauges[name][tuple(sorted(labels.items()))] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            # per bucket counts, then sum and count
            state = self._hist[name].setdefault(key, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if value <= bound:
                    state[i] += 1
            state[-2] += value
            state[-1] += 1

    def value(self, name: str, **labels: str) -> float:
        """A counter's or gauge's current value (0 when never set)."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            return self._counters[name].get(key, self._gauges[name].get(key, 0.0))

    def render(self) -> str:
        lines = []
        with self._lock:
            for name in sorted(set(self._counters) | set(self._gauges) | set(self._hist)):
                kind, text = self._help.get(name, ("untyped", name))
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                for key, value in sorted(self._counters.get(name, {}).items()):
                    lines.append(f"{name}{_labels(key)} {value:g}")
                for key, value in sorted(self._gauges.get(name, {}).items()):
                    lines.append(f"{name}{_labels(key)} {value:g}")
                for key, state in sorted(self._hist.get(name, {}).items()):
                    for bound, count in zip(BUCKETS, state):
                        le = (*key, ("le", f"{bound:g}"))
                        lines.append(f"{name}_bucket{_labels(le)} {count:g}")
                    lines.append(f"{name}_bucket{_labels((*key, ('le', '+Inf')))} {state[-1]:g}")
                    lines.append(f"{name}_sum{_labels(key)} {state[-2]:g}")
                    lines.append(f"{name}_count{_labels(key)} {state[-1]:g}")
        return "\n".join(lines) + "\n"


def service_metrics() -> Metrics:
    metrics = Metrics()
    metrics.describe("edgemood_requests_total", "counter", "HTTP requests by endpoint and status")
    metrics.describe("edgemood_errors_total", "counter", "Clips that failed, by reason")
    metrics.describe("edgemood_clips_processed_total", "counter", "Clips processed, by source")
    metrics.describe("edgemood_stage_seconds", "histogram", "Latency per pipeline stage")
    metrics.describe(
        "edgemood_auth_failures_total", "counter", "Requests refused for a missing or wrong token"
    )
    metrics.describe("edgemood_model_info", "gauge", "The fusion model in use")
    return metrics
