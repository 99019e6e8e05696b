"""Where a run lives: a local folder or object storage, behind one small interface.

`Location.of(out)` takes a local path or a URI that pyarrow's filesystems understand (``s3://``,
``gs://``, ``abfs://``, ``hdfs://``, ``file://``; an S3-compatible server through
``s3://bucket/prefix?endpoint_override=host:port&scheme=http``). Credentials come from the usual
environment and config files of each machine; a URI's ``user:secret@`` part and secret-looking query
values are redacted wherever the location is shown or recorded.

Object stores have no atomic rename, so nothing here relies on one outside local disks: data files
are written once under unique names, and small records (manifest, commit records, the lease) are
single writes, which object stores make visible whole. Every filesystem failure becomes a
`StoreError`: one line naming the location and what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import pyarrow.fs as pafs

JSON_READS = 4
SECRET_QUERY_KEYS = re.compile(r"secret|password|token|key|credential|signature", re.IGNORECASE)

_HINTS = (
    ("NO_SUCH_BUCKET", "the bucket does not exist: create it first"),
    ("NoSuchBucket", "the bucket does not exist: create it first"),
    ("ACCESS_DENIED", "access denied: check the credentials in the environment or config files"),
    ("AccessDenied", "access denied: check the credentials in the environment or config files"),
    ("NETWORK_CONNECTION", "the storage endpoint cannot be reached: check it is up, then re-run"),
    ("Could not connect", "the storage endpoint cannot be reached: check it is up, then re-run"),
    ("No space left", "the disk is full: free space, then re-run (finished shards are kept)"),
    ("Read-only file system", "the destination is read-only: choose another --out"),
    ("Permission denied", "no permission to write there: choose another --out"),
    ("Not a directory", "a part of the path is a file: choose another --out"),
)


class StoreError(Exception):
    """A filesystem or object-store failure, as one line naming the location and what to do."""


def redact(uri: str) -> str:
    """``uri`` without credentials: no ``user:secret@`` and no secret-looking query values."""
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [
        (k, "***" if SECRET_QUERY_KEYS.search(k) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe=":*"), ""))


def explain(error: BaseException) -> str:
    """A failure's message with a hint on what to do, on one line."""
    text = " ".join(str(error).split()) or type(error).__name__
    hint = next((h for needle, h in _HINTS if needle in text), None)
    if len(text) > 240:
        text = text[:237] + "..."
    return f"{text} ({hint})" if hint else text


@dataclass(frozen=True)
class Location:
    """A run's root: a filesystem and the path of the run inside it."""

    spec: str = field(repr=False)
    """The location as given (it may carry credentials: pass it on, never show or record it)."""
    fs: pafs.FileSystem = field(repr=False)
    root: str
    local: bool

    @classmethod
    def of(cls, out: str | os.PathLike[str] | Location) -> Location:
        """The location of ``out`` (a path, a URI, or a `Location`)."""
        if isinstance(out, Location):
            return out
        spec = os.fspath(out)
        if "://" not in spec or spec.startswith("file://"):
            local = Path(spec.removeprefix("file://")).expanduser().resolve()
            return cls(str(local), pafs.LocalFileSystem(), local.as_posix(), True)
        try:
            filesystem, root = pafs.FileSystem.from_uri(spec)
        except (pafs.ArrowInvalid, OSError, ValueError) as error:
            raise StoreError(f"{redact(spec)}: not a usable location: {explain(error)}") from None
        return cls(spec, filesystem, root.rstrip("/"), isinstance(filesystem, pafs.LocalFileSystem))

    @property
    def uri(self) -> str:
        """The location as it may be shown and recorded (credentials redacted)."""
        return redact(self.spec)

    def name(self, rel: str = "") -> str:
        """How to name ``rel`` inside this location in a message."""
        return f"{self.uri.split('?', 1)[0].rstrip('/')}/{rel}" if rel else self.uri

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def _fail(self, action: str, rel: str, error: BaseException) -> StoreError:
        return StoreError(f"{self.name(rel)}: cannot {action}: {explain(error)}")

    # --- reading ---

    def read_bytes(self, rel: str) -> bytes:
        """The object's bytes; FileNotFoundError when it does not exist."""
        try:
            with self.fs.open_input_stream(self.path(rel)) as stream:
                return stream.read()
        except FileNotFoundError:
            raise
        except OSError as error:
            if _missing(error):
                raise FileNotFoundError(self.name(rel)) from None
            raise self._fail("read", rel, error) from None

    def read_json(self, rel: str) -> Any | None:
        """A JSON object's value, None when it does not exist; ValueError when it stays
        unreadable over `JSON_READS` reads (a store may serve an object while it is rewritten:
        moto's S3 server was seen to)."""
        for attempt in range(1, JSON_READS + 1):
            try:
                data = self.read_bytes(rel)
            except FileNotFoundError:
                return None
            try:
                return json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                if attempt == JSON_READS:
                    raise ValueError(f"{self.name(rel)}: unreadable ({error})") from None
                time.sleep(0.05 * attempt)
        return None

    def exists(self, rel: str = "") -> bool:
        try:
            return self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound
        except OSError as error:
            raise self._fail("look up", rel, error) from None

    def is_file(self, rel: str = "") -> bool:
        try:
            return self.fs.get_file_info(self.path(rel)).type == pafs.FileType.File
        except OSError as error:
            raise self._fail("look up", rel, error) from None

    def files(self, rel: str = "", recursive: bool = False) -> dict[str, int]:
        """Files under ``rel`` (paths relative to the root) and their sizes; {} when none."""
        selector = pafs.FileSelector(self.path(rel), allow_not_found=True, recursive=recursive)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as error:
            if _missing(error):
                return {}
            raise self._fail("list", rel, error) from None
        prefix = len(self.root) + 1
        return {
            info.path[prefix:]: info.size
            for info in infos
            if info.type == pafs.FileType.File and info.path.startswith(self.root + "/")
        }

    # --- writing ---

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a new object under a name no other writer uses (no rename needed anywhere)."""
        try:
            if self.local:
                Path(self.path(rel)).parent.mkdir(parents=True, exist_ok=True)
            with self.fs.open_output_stream(self.path(rel)) as stream:
                stream.write(data)
        except OSError as error:
            raise self._fail("write", rel, error) from None

    def write_atomic(self, rel: str, data: bytes) -> None:
        """Replace ``rel`` whole: readers see the old object or the new one, never a part.

        Local disks: a private temporary file renamed over the target. Object stores: one write,
        which becomes visible only when complete.
        """
        if not self.local:
            self.write_bytes(rel, data)
            return
        target = Path(self.path(rel))
        temporary = _temporary(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            os.replace(temporary, target)
        except OSError as error:
            with contextlib.suppress(OSError):  # never created (the folder could not be)
                temporary.unlink(missing_ok=True)
            raise self._fail("write", rel, error) from None

    def write_json(self, rel: str, value: Any) -> None:
        self.write_atomic(rel, json.dumps(value, indent=2).encode("utf-8"))

    def create_exclusive(self, rel: str, data: bytes) -> bool:
        """Create ``rel`` with ``data`` only if absent; False when it exists. Atomic on local disks
        (a hard link of a complete file); on object stores a check then a write (callers confirm
        by reading back)."""
        if not self.local:
            if self.exists(rel):
                return False
            self.write_bytes(rel, data)
            return True
        target = Path(self.path(rel))
        temporary = _temporary(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            os.link(temporary, target)  # appears whole, or fails if it exists: never half-written
        except FileExistsError:
            return False
        except OSError as error:
            raise self._fail("write", rel, error) from None
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
        return True

    def delete(self, rel: str) -> None:
        """Delete one object; nothing happens when it is already gone."""
        try:
            self.fs.delete_file(self.path(rel))
        except FileNotFoundError:
            pass
        except OSError as error:
            if not _missing(error):
                raise self._fail("delete", rel, error) from None


def child_uri(base: str, name: str) -> str:
    """``base/name`` for a folder or a URI (a URI's query stays at the end)."""
    root, sep, query = base.partition("?")
    return f"{root.rstrip('/')}/{name}{sep}{query}"


def _temporary(target: Path) -> Path:
    """A private ``*.tmp`` name beside ``target`` (a re-run deletes leftovers of this form)."""
    return target.with_name(f"{target.name}.{os.getpid()}.{uuid4().hex[:8]}.tmp")


def _missing(error: OSError) -> bool:
    text = str(error)
    return any(s in text for s in ("Path does not exist", "NoSuchKey", "NO_SUCH_KEY", "404"))
