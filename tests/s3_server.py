"""A real S3-protocol server for the tests: moto's standalone server (`moto_server`) as its own
process on loopback, with request signatures checked. Moto checks SigV4 signatures and IAM
policies once its first few unauthenticated calls are spent: those create the service's IAM user,
its policy and its access key; every later call, the service's included, must be signed with
that key. (MinIO has no package on the registries this project may use; moto's server does.)

Its state lives in memory: a restart empties it, so a test that takes the store away freezes the
process (SIGSTOP) and lets it go on (SIGCONT) instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from app.core.embedded import free_port

REGION = "us-east-1"
# For each of two users: create_user, create_policy, attach_user_policy, create_access_key. Then
# every call must be signed, and is checked against the caller's policy.
_BOOTSTRAP_CALLS = 8


@dataclass
class S3Server:
    url: str
    bucket: str
    #: The service's key: allowed its bucket only. (Not the action list of docs/object-storage.md:
    #: moto checks permissions by operation name, `s3:ListObjectsV2`, where AWS checks
    #: `s3:ListBucket`; that policy is AWS's, not proven here.)
    access_key: str
    secret_key: str
    #: The tests' own key, allowed everything (to make the bucket, look into it, spoil it).
    admin: tuple[str, str]
    proc: subprocess.Popen[bytes]

    def client(self) -> Any:
        return _client("s3", self.url, *self.admin)

    def keys(self, prefix: str = "") -> list[str]:
        client = self.client()
        try:
            listed = client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
            return [item["Key"] for item in listed.get("Contents", [])]
        finally:
            client.close()

    def unfinished_uploads(self) -> int:
        client = self.client()
        try:
            return len(client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))
        finally:
            client.close()

    def env(self, prefix: str) -> dict[str, str]:
        """The service's settings for this server, uploads under `prefix`."""
        return {
            "WHISPER_JOBS_UPLOAD_STORE": f"s3://{self.bucket}/{prefix}",
            "WHISPER_JOBS_S3_ENDPOINT_URL": self.url,
            "WHISPER_JOBS_S3_REGION": REGION,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The server stops answering (connections hang) for the block."""
        self.proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.proc.send_signal(signal.SIGCONT)


@contextmanager
def s3_server(log: Path, bucket: str = "whisper-jobs-test") -> Iterator[S3Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_BOOTSTRAP_CALLS)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [Path(sys.executable).with_name("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        _wait_listening(port, proc)
        admin = _user(url, "tests", ["s3:*"], "*")
        service = _user(url, "whisper-jobs", ["s3:*"], f"arn:aws:s3:::{bucket}*")
        server = S3Server(url, bucket, *service, admin, proc)
        client = server.client()
        client.create_bucket(Bucket=bucket)
        client.close()
        yield server
    finally:
        proc.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)


def _client(service: str, url: str, key: str, secret: str) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _user(url: str, name: str, actions: list[str], resource: str) -> tuple[str, str]:
    """Four unauthenticated bootstrap calls: an IAM user allowed `actions`, and its key."""
    iam = _client("iam", url, "bootstrap", "bootstrap")
    try:
        iam.create_user(UserName=name)
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}],
        }
        policy = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))
        iam.attach_user_policy(UserName=name, PolicyArn=policy["Policy"]["Arn"])
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        iam.close()
