"""libpostal in a process of its own, which the worker processes of a batch ask for the few
strings that need it.

The model takes seconds and about 2 GB to load, while the rules parser and usaddress read
nearly every US order; so the workers of a process pool neither wait for it before their
first chunk nor hold a copy each. The pool starts one server (``start``), which loads the
model at the lowest CPU priority: in the time the workers leave idle (the input still being
split), and at full speed once a worker waits for it. A worker sends a chunk's strings that
need libpostal in one request (``labels``). Loading the model only on the first request lost
the time the split leaves; loading it at normal priority took a core from the workers of a
batch that never needs it (``benchmarks/end_to_end.py --orders 60000``, with and without
``--no-libpostal-orders``). A process without a server (one worker, a flow's threads, a Dask
worker) loads the model itself, once, on first use.

The server listens on a Unix socket in a private folder, with a random key that only the
process that started it and that process's children have (in their environment). It exits
with the process that started it, however that one ends.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing as mp
import os
import secrets
import shutil
import tempfile
import threading
from multiprocessing.connection import Client, Connection, Listener, wait

from addressing import libpostal
from addressing.errors import ModelError

#: the environment variable naming the server of this process tree: "<socket path>\t<key hex>"
SERVER_ENV = "ADDRESSING_LIBPOSTAL_SERVER"
#: the nice value the server loads the model at, before any worker asks: the lowest priority
#: there is, so that it never slows a worker that is cleaning
PRELOAD_NICE = 19
#: seconds ``start`` waits for a new server to listen (a forked one takes milliseconds, a
#: spawned one the time Python takes to import this module)
START_TIMEOUT_S = 60.0

Labels = list[tuple[str, str]]
log = logging.getLogger(__name__)

_lock = threading.Lock()
#: the server this process started, if any
_server: mp.process.BaseProcess | None = None
#: this process's connection to the server, and the server it is to
_client: tuple[str, Connection] | None = None
#: true in the server process itself: it parses, it does not ask
_serving = False


def start(ctx: mp.context.BaseContext) -> bool:
    """Start this process's server (once; again if it died) as a process of ``ctx``, and put
    its address in this process's environment, from which workers started afterwards take it.
    False, with a warning logged, when it does not start: workers then load the model
    themselves, as a process without a server does."""
    global _server
    with _lock:
        if _server is not None and _server.is_alive():
            return True
        folder = tempfile.mkdtemp(prefix="addressing-libpostal-")
        address, key = os.path.join(folder, "socket"), secrets.token_bytes(32)
        ready_r, ready_w = ctx.Pipe(duplex=False)
        # this process's environment (where the model is), not the fork server's older one
        environ = {k: v for k, v in os.environ.items() if k != SERVER_ENV}
        proc = ctx.Process(target=_serve, args=(address, key, ready_w, environ), name="libpostal-server",
                           daemon=True)
        try:
            proc.start()
            ready_w.close()
            up = ready_r.poll(START_TIMEOUT_S) and ready_r.recv()
        except (OSError, EOFError) as exc:
            up = False
            log.warning("libpostal server did not start (%s); workers load the model themselves", exc)
        finally:
            ready_r.close()
        if not up:
            with contextlib.suppress(Exception):
                proc.kill()
            shutil.rmtree(folder, ignore_errors=True)
            os.environ.pop(SERVER_ENV, None)
            return False
        atexit.register(shutil.rmtree, folder, True)
        os.environ[SERVER_ENV] = f"{address}\t{key.hex()}"
        _server = proc
        return True


def stop() -> None:
    """Stop this process's server, if it started one (a long-lived caller that wants its
    memory back); the next pool starts another."""
    global _server
    with _lock:
        _drop_connection()
        if _server is not None:
            _server.kill()
            _server.join()
            _server = None
        spec = os.environ.pop(SERVER_ENV, None)
        if spec:
            shutil.rmtree(os.path.dirname(spec.partition("\t")[0]), ignore_errors=True)


def labels(requests: list[tuple[str, str | None]]) -> list[Labels]:
    """libpostal's labels of each ``(text, country)``: from this process tree's server when
    there is one, else from the model in this process. ``ModelError`` when the model cannot
    be loaded, or the server has gone; ``LibpostalFailed`` when libpostal raised in the server
    (in this process, its own error)."""
    spec = os.environ.get(SERVER_ENV)
    if not requests or not spec or _serving:
        return libpostal.parse_many(requests)
    with _lock:
        conn = _connection(spec)
        try:
            conn.send(requests)
            status, value = conn.recv()
        except (OSError, EOFError) as exc:
            _drop_connection()
            raise ModelError(f"the libpostal server of this batch has gone ({exc or type(exc).__name__}); "
                             "run the batch again") from exc
    if status == "model":
        raise ModelError(value)
    if status != "ok":
        raise LibpostalFailed(value)
    return value


class LibpostalFailed(RuntimeError):
    """libpostal raised on a string of a request (the server's message says which error)."""


def _connection(spec: str) -> Connection:
    global _client
    if _client is not None and _client[0] == spec:
        return _client[1]
    _drop_connection()
    address, _, key = spec.partition("\t")
    try:
        conn = Client(address, family="AF_UNIX", authkey=bytes.fromhex(key))
    except (OSError, EOFError, ValueError, mp.AuthenticationError) as exc:
        raise ModelError(f"cannot reach the libpostal server of this batch at {address} ({exc}); "
                         f"run the batch again, or unset {SERVER_ENV}") from exc
    _client = (spec, conn)
    return conn


def _drop_connection() -> None:
    global _client
    if _client is not None:
        with contextlib.suppress(OSError):
            _client[1].close()
    _client = None


def _serve(address: str, key: bytes, ready: Connection, environ: dict[str, str]) -> None:
    """The server process: listen, say so, load the model at the lowest priority, answer every
    connection on a thread of its own until the parent process ends."""
    global _serving
    _serving = True
    os.environ.clear()
    os.environ.update(environ)
    listener = Listener(address, family="AF_UNIX", authkey=key)
    ready.send(True)
    ready.close()
    parsing = threading.Lock()  # one parse at a time: libpostal's C library does not promise thread safety

    def answer(conn: Connection) -> None:
        with conn:
            while True:
                try:
                    requests = conn.recv()
                except (OSError, EOFError):
                    return
                try:
                    with parsing:  # after the model's load (again, if it failed)
                        reply = ("ok", libpostal.parse_many(requests))
                except ModelError as exc:
                    reply = ("model", str(exc))
                except Exception as exc:  # noqa: BLE001 - the asking worker raises it as its own
                    reply = ("failed", f"{type(exc).__name__}: {exc}")
                conn.send(reply)

    def accept() -> None:
        while True:
            try:
                conn = listener.accept()
            except (EOFError, mp.AuthenticationError):
                continue  # a caller without the key, or one that went away at once
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    def preload() -> None:
        # at the lowest priority: the model loads in what the workers leave idle (this process's
        # CPU while the input is split), and at full speed once a worker waits for it
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, 0, PRELOAD_NICE)  # this thread only, on Linux
        with parsing, contextlib.suppress(ModelError):  # a request that finds no model says so
            libpostal.load()

    threading.Thread(target=accept, daemon=True).start()
    threading.Thread(target=preload, daemon=True).start()
    parent = mp.parent_process()
    if parent is not None:
        wait([parent.sentinel])
    else:  # started by other means than multiprocessing: serve until killed
        threading.Event().wait()
