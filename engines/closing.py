"""`Closing`: the context-manager half of anything with a ``close()``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Closing(ABC):
    """``with obj: ...`` calls ``obj.close()`` on the way out, exception or not."""

    @abstractmethod
    def close(self) -> None:
        """Release resources; the object cannot be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
