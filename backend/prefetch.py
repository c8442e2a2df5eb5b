"""Read ahead: an iterator run in a background thread into a bounded queue.

    with Prefetch(source.frames(start, end), size=8) as frames:
        for index, frame in frames:
            ...                      # the next frames decode meanwhile

Decoding (OpenCV), resampling crops and the backbone (ONNX Runtime, torch) release the GIL, so on
two cores the reader's decoding overlaps the consumer's work. At most `size` items wait in the
queue (the reader blocks when it is full), so memory stays flat in the clip's length: `size`
decoded frames, plus the one the reader waits to queue and the one being consumed.

Errors: whatever the iterator raises in the reader thread (e.g. `BackendError(VIDEO_CORRUPT)`)
is raised again, the same exception object, in the consumer when it reaches that point of the
sequence. Leaving the `with` block early (break, an exception, a cancel: `KeyboardInterrupt`)
stops the reader: it closes the iterator (so e.g. a video capture is released in its `finally`)
and the thread is joined before `__exit__` returns. size = 0 reads in the caller's thread, as a
plain loop would (no thread).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_END = object()  # the iterator is exhausted
_POLL_S = 0.05  # how often a blocked reader looks whether it should stop


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetch:
    """Context manager and iterator over `items`, read up to `size` ahead in a daemon thread."""

    def __init__(self, items: Iterable, size: int = 8) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.items, self.size = items, size
        self._queue: queue.Queue = queue.Queue(maxsize=max(size, 1))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = False

    def __enter__(self) -> Prefetch:
        if self.size > 0:
            self._thread = threading.Thread(target=self._read, name="prefetch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _put(self, item) -> bool:
        """Queue `item`, waiting while the queue is full; False when asked to stop meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        iterator = iter(self.items)
        try:
            for item in iterator:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as error:  # handed to the consumer, raised there
            self._put(_Failure(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator's `finally` (releasing the capture) runs in this thread

    def __iter__(self) -> Iterator:
        if self.size == 0:
            yield from self.items
            return
        if self._thread is None:
            raise RuntimeError("use Prefetch in a `with` block")
        while not self._done:
            item = self._queue.get()
            if item is _END:
                self._done = True
                return
            if isinstance(item, _Failure):
                self._done = True
                raise item.error
            yield item

    def close(self) -> None:
        """Stop the reader and wait for it (idempotent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            close = getattr(self.items, "close", None) if self.size == 0 else None
            if close is not None:
                close()
            return
        while thread.is_alive():
            try:  # free a reader blocked on a full queue
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=_POLL_S)

    @property
    def alive(self) -> bool:
        """Whether the reader thread is running (tests)."""
        return self._thread is not None and self._thread.is_alive()
