"""Where files live: issued documents (and, later, evidence) kept outside the web root under a
random key, on local disk (FILE_STORAGE_DIR, by default the instance folder's files/). One
small interface (put, get, delete) so that an S3-compatible store can stand in for the disk."""

import hashlib
import os
import secrets

from flask import current_app


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
        """The bytes stored under a key."""
        with open(self._path(key), "rb") as source:
            return source.read()

    def delete(self, key):
        """Remove a stored file (nothing if it is gone)."""
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass


def storage():
    """The configured file storage."""
    root = current_app.config.get("FILE_STORAGE_DIR") or os.path.join(
        current_app.instance_path, "files")
    return LocalStorage(root)
