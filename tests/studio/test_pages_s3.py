"""The studio over object storage: a root on an S3 server (moto, 127.0.0.1) serves the runs
page, a run's report and an episode as a local folder does; the runs page lists the bucket
again only after its time to live (each listing is a round trip per run)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

import sim
import sim.studio.app as studio_app
from sim.studio.app import create_app
from sim.studio.config import StudioConfig
from tests.studio.studio_runs import bargaining


def test_runs_on_s3_read_like_local_ones(
    s3_bucket: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, bucket = s3_bucket
    sim.run(bargaining(), workers=0, out=server.uri(bucket, "studio/bargain"))
    listings = []
    real_find = studio_app.find_runs
    monkeypatch.setattr(studio_app, "find_runs", lambda *a: listings.append(a) or real_find(*a))
    client = TestClient(create_app(StudioConfig(root=server.uri(bucket, "studio"))))

    runs = client.get("/")
    assert runs.status_code == 200 and 'href="/runs/bargain"' in runs.text
    assert "studio-bargain" in runs.text and "9/9" in runs.text  # name, progress from S3
    assert client.get("/").status_code == 200 and len(listings) == 1  # within its TTL
    run = client.get("/runs/bargain")
    assert run.status_code == 200 and "discount" in run.text
    episode = re.search(r'href="(/runs/bargain/episodes/[^"]+)"', run.text)
    assert episode is not None
    page = client.get(episode.group(1))
    assert page.status_code == 200 and 'class="turn' in page.text
