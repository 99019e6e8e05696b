"""An S3-compatible server on 127.0.0.1 (moto), for runs written to ``s3://``.

`S3Server` runs moto in this process, so stopping and starting it again on the same port keeps
its buckets: a test can take the server away mid-run and bring it back, as an outage would.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    """moto's S3 server on 127.0.0.1:``port``; `uri` names a run location in a bucket on it."""

    port: int = field(default_factory=free_port)
    _server: Any = None

    def start(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not one log line per request

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def create_bucket(self, name: str | None = None) -> str:
        import boto3

        name = name or f"runs-{uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1").create_bucket(
            Bucket=name
        )
        return name

    def uri(self, bucket: str, prefix: str) -> str:
        """An ``s3://`` URI that carries the endpoint (credentials come from the environment)."""
        query = f"endpoint_override=127.0.0.1:{self.port}&scheme=http&region=us-east-1"
        return f"s3://{bucket}/{prefix}?{query}"


@pytest.fixture(scope="session")
def s3_server():
    """One moto S3 server for the test session."""
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh bucket on the session's S3 server: ``(server, bucket name)``."""
    return s3_server, s3_server.create_bucket()
