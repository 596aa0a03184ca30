"""The service's micro-batcher (serving/batching.py): concurrent calls joined into one call of
the function, each caller given exactly its own rows' outputs, errors to every caller."""

import threading

import numpy as np
import pytest

from serving.batching import MicroBatcher


def _double(rows):
    return {"twice": rows["x"] * 2, "name": rows["name"]}


def test_concurrent_calls_share_rounds_and_each_gets_its_own_rows():
    seen = []

    def fn(rows):
        seen.append(len(rows["x"]))
        return _double(rows)

    batcher = MicroBatcher(fn, wait_s=0.05)
    start = threading.Barrier(8)
    results = {}

    def client(i):
        rows = {"x": np.arange(i * 10, i * 10 + i + 1), "name": np.array([f"c{i}"] * (i + 1), dtype=object)}
        start.wait()
        results[i] = batcher(rows)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        np.testing.assert_array_equal(results[i]["twice"], np.arange(i * 10, i * 10 + i + 1) * 2)
        assert list(results[i]["name"]) == [f"c{i}"] * (i + 1)
    assert batcher.calls == 8 and batcher.rounds < 8 and sum(seen) == sum(range(1, 9))


def test_one_caller_is_one_call_and_zero_wait_is_unbatched():
    batcher = MicroBatcher(_double, wait_s=0.001)
    out = batcher({"x": np.array([1, 2]), "name": np.array(["a", "b"], dtype=object)})
    assert out["twice"].tolist() == [2, 4] and batcher.rounds == 1
    direct = MicroBatcher(_double, wait_s=0)
    assert direct({"x": np.array([3]), "name": np.array(["c"], dtype=object)})["twice"].tolist() == [6]
    with pytest.raises(ValueError):
        MicroBatcher(_double, wait_s=-1)


def test_an_error_reaches_every_caller_of_its_round_and_the_next_round_works():
    calls = []

    def fn(rows):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("model failed")
        return _double(rows)

    batcher = MicroBatcher(fn, wait_s=0.05)
    start = threading.Barrier(3)
    errors = []

    def client():
        start.wait()
        try:
            batcher({"x": np.array([1]), "name": np.array(["a"], dtype=object)})
        except RuntimeError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors and all(e == "model failed" for e in errors)
    assert batcher({"x": np.array([5]), "name": np.array(["b"], dtype=object)})["twice"].tolist() == [10]
