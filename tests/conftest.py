"""Session fixtures: one real SecantusDB and one real moto server per test run, shared and reset between tests.

Tests that need a pristine server of their own (restarts, crashes) start one with the same context managers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pymongo
import pytest

from local.aws import LocalAws
from local.services import MotoServer, SecantusDB

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecantusDB]:
    with SecantusDB(log_dir=tmp_path_factory.mktemp("logs")) as server:
        yield server


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with MotoServer(log_dir=tmp_path_factory.mktemp("logs")) as server:
        yield server


@pytest.fixture
def mongo_client(mongo_server: SecantusDB) -> Iterator[pymongo.MongoClient]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_server.uri, serverSelectionTimeoutMS=5000)
    yield client
    client.close()


@pytest.fixture
def mongo_db(mongo_client: pymongo.MongoClient, request: pytest.FixtureRequest) -> Iterator[pymongo.database.Database]:
    """A database of the test's own, dropped afterwards."""
    name = "t_" + re.sub(r"\W", "_", request.node.name)[:50]
    mongo_client.drop_database(name)
    yield mongo_client[name]
    mongo_client.drop_database(name)


@pytest.fixture
def local_aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """The AWS endpoint with nothing in it (reset before each test that asks for it); boto3 in this process and
    in the subprocesses it starts is pointed at it through the environment."""
    moto_server.reset()
    aws = LocalAws(moto_server.endpoint_url, region="us-east-1", stage="test")
    for name, value in aws.environment().items():
        monkeypatch.setenv(name, value)
    return aws
