"""Things that hold an X connection, a process or a screen, used with ``with``."""

from __future__ import annotations

from typing import Self


class Closing:
    """Mixin: ``with Thing(...) as thing:`` calls ``thing.close()`` on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
