"""The libpostal server of a process pool: the pool's workers ask it, hold no model of their
own, and get libpostal's labels; a server that cannot answer says why, as a ``ModelError``."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest

from addressing import libpostal, libpostal_server, parallel
from addressing.errors import ModelError

pytestmark = pytest.mark.skipif("forkserver" not in mp.get_all_start_methods(),
                                reason="no fork server on this platform")

#: a string only libpostal reads (another country's), and what it labels in it
FOREIGN = "10 Downing St, London SW1A 2AA"
FOREIGN_LABELS = {("london", "city"), ("sw1a 2aa", "postcode")}


@pytest.fixture
def no_server():
    """Each test starts its own server and leaves none behind."""
    libpostal_server.stop()
    yield
    libpostal_server.stop()


def reading_in_worker(text: str) -> tuple[str, int, bool, set, bool]:
    """In a pool worker: ``text``, the worker's pid, whether it holds the model before and
    after asking for ``text``'s labels, and the labels."""
    before = libpostal.is_loaded()
    labels = libpostal_server.labels([(text, None)])[0]
    return text, os.getpid(), before, set(map(tuple, labels)), libpostal.is_loaded()


@pytest.mark.slow
def test_pool_workers_ask_one_server_and_hold_no_model(no_server):
    try:
        libpostal.model_dir()
    except ModelError as exc:
        pytest.skip(f"libpostal model not installed: {exc}")
    calls = [(FOREIGN,), ("asdf qwer",)] * 3
    got = [r for _, r in parallel.map_unordered(reading_in_worker, calls, workers=2)]
    assert len(got) == len(calls)
    assert all(not before and not after for _, _, before, _, after in got)
    assert all(labels >= FOREIGN_LABELS for text, _, _, labels, _ in got if text == FOREIGN)
    assert os.environ[libpostal_server.SERVER_ENV]


def test_a_server_without_a_model_says_so(no_server, tmp_path, monkeypatch):
    monkeypatch.setenv("LIBPOSTAL_DATA_DIR", str(tmp_path))  # an empty folder: no model there
    assert libpostal_server.start(parallel.worker_context())
    with pytest.raises(ModelError, match="LIBPOSTAL_DATA_DIR=.* is not a complete libpostal model"):
        libpostal_server.labels([(FOREIGN, None)])


def test_a_server_gone_is_a_model_error_naming_the_batch(no_server):
    assert libpostal_server.start(parallel.worker_context())
    libpostal_server._server.kill()
    libpostal_server._server.join()
    with pytest.raises(ModelError, match="libpostal server of this batch"):
        libpostal_server.labels([(FOREIGN, None)])


def test_a_stopped_server_leaves_no_address_behind(no_server):
    assert libpostal_server.start(parallel.worker_context())
    folder = os.path.dirname(os.environ[libpostal_server.SERVER_ENV].partition("\t")[0])
    assert os.path.isdir(folder)
    libpostal_server.stop()
    assert libpostal_server.SERVER_ENV not in os.environ
    assert not os.path.exists(folder)
