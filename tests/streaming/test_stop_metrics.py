"""The stop line's metrics count what the job did, even what the runner has not committed yet."""

import json
from types import SimpleNamespace

from streaming.runner import print_metrics


def counter(namespace, name, committed, attempted):
    key = SimpleNamespace(metric=SimpleNamespace(namespace=namespace, name=name))
    return SimpleNamespace(key=key, committed=committed, attempted=attempted)


class Result:
    def metrics(self):
        counters = [
            counter("firewatch.write", "rows_written", 3, 5),  # the last bundle wrote 2 rows, not committed yet
            counter("firewatch.write", "rows_written", 4, 4),  # another step
            counter("firewatch.score", "frames", None, 7),
            counter("beam", "elements", 1, 9),
        ]
        return SimpleNamespace(query=lambda: {"counters": counters, "distributions": []})


def test_stop_line_counts_uncommitted_rows(capsys):
    print_metrics(Result())
    line = capsys.readouterr().out.strip()
    assert line.startswith("firewatch stream: metrics ")
    summary = json.loads(line.removeprefix("firewatch stream: metrics "))
    assert summary["firewatch.write/rows_written"] == 9 and summary["firewatch.score/frames"] == 7
    assert "beam/elements" not in summary
