"""Where files live: issued documents and case files, outside the web root under random keys,
on local disk (FILE_STORAGE_DIR, by default the instance folder's files/) or, when S3_BUCKET is
set, in an S3-compatible object store; one small interface (put, put_stream, get, delete)."""

import hashlib
import os
import secrets

from flask import current_app


class Missing(KeyError):
    """No file under this key (removed behind the app's back)."""


class LocalStorage:
    """Files under one folder, two levels by key (ab/abcdef…), never served directly."""

    def __init__(self, root):
        self.root = root

    def _path(self, key):
        if not key.isalnum():  # keys are ours: hex only, never a path
            raise KeyError(key)
        return os.path.join(self.root, key[:2], key)

    def put(self, data):
        """Store bytes under a new random key: (key, size, sha256)."""
        key = secrets.token_hex(20)
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".part", "wb") as out:
            out.write(data)
        os.replace(path + ".part", path)  # whole or not at all
        return key, len(data), hashlib.sha256(data).hexdigest()

    def put_stream(self, stream, chunk=64 * 1024):
        """Store a file object's bytes as they are read, a chunk at a time (never whole in
        memory): (key, size, sha256)."""
        key = secrets.token_hex(20)
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with open(path + ".part", "wb") as out:
            while True:
                block = stream.read(chunk)
                if not block:
                    break
                digest.update(block)
                size += len(block)
                out.write(block)
        os.replace(path + ".part", path)
        return key, size, digest.hexdigest()

    def get(self, key):
        """The bytes stored under a key; Missing when there are none."""
        try:
            with open(self._path(key), "rb") as source:
                return source.read()
        except (FileNotFoundError, KeyError) as error:
            raise Missing(key) from error

    def delete(self, key):
        """Remove a stored file (nothing if it is gone)."""
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass


class S3Storage:
    """Files in an S3-compatible object store (MinIO, Ceph, a cloud's), one object per key;
    uploads go up in parts as they are read (boto3's managed transfer), never whole in memory."""

    def __init__(self, bucket, client):
        self.bucket, self.client = bucket, client

    @classmethod
    def from_config(cls, config):
        """The store S3_BUCKET names, at S3_ENDPOINT_URL with S3_ACCESS_KEY / S3_SECRET_KEY."""
        import boto3

        client = boto3.client(
            "s3", endpoint_url=config.get("S3_ENDPOINT_URL") or None,
            aws_access_key_id=config.get("S3_ACCESS_KEY") or None,
            aws_secret_access_key=config.get("S3_SECRET_KEY") or None,
            region_name=config.get("S3_REGION") or "us-east-1")
        return cls(config["S3_BUCKET"], client)

    def put(self, data):
        """Store bytes under a new random key: (key, size, sha256)."""
        key = secrets.token_hex(20)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        return key, len(data), hashlib.sha256(data).hexdigest()

    def put_stream(self, stream, chunk=64 * 1024):
        """Store a file object's bytes as they are read: (key, size, sha256)."""
        key = secrets.token_hex(20)
        counted = _Counting(stream)
        self.client.upload_fileobj(counted, self.bucket, key)
        return key, counted.size, counted.digest.hexdigest()

    def get(self, key):
        """The bytes stored under a key; Missing when there are none."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as error:
            raise Missing(key) from error

    def delete(self, key):
        """Remove a stored object."""
        self.client.delete_object(Bucket=self.bucket, Key=key)


class _Counting:
    """A file object read through, counting and hashing what passes."""

    def __init__(self, stream):
        self.stream, self.size, self.digest = stream, 0, hashlib.sha256()

    def read(self, size=-1):
        block = self.stream.read(size)
        self.size += len(block)
        self.digest.update(block)
        return block


def storage():
    """The configured file storage: an object store when S3_BUCKET is set, else the disk."""
    config = current_app.config
    if config.get("S3_BUCKET"):
        # One client per app and bucket (making one costs milliseconds; boto3 clients are
        # safe to share between threads).
        key = ("zongzhi.s3", config["S3_BUCKET"], config.get("S3_ENDPOINT_URL"))
        found = current_app.extensions.get(key)
        if found is None:
            found = current_app.extensions[key] = S3Storage.from_config(config)
        return found
    root = config.get("FILE_STORAGE_DIR") or os.path.join(current_app.instance_path, "files")
    return LocalStorage(root)
