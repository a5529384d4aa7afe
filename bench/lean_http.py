"""A load driver's HTTP/1.1 client: keep-alive connections written and read by hand, one request at a time on each.

The benchmarks run on the same two cores as what they measure; a general client (httpx) spent about as much CPU
per request (1.2 ms) as intake's whole submit transaction, which the driver then took from the server. This one
spends about 0.1 ms. It speaks only what the benchmarks need: a JSON POST, an answer with Content-Length.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class LeanClient:
    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[Connection]] = defaultdict(list)

    async def post_json(self, url: str, body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, answer body) of one POST; a connection is reused once its answer has been read whole."""
        parts = urlsplit(url)
        address = (parts.hostname or "127.0.0.1", parts.port or 80)
        payload = json.dumps(body).encode()
        head = "".join(
            [
                f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n",
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n",
                *(f"{name}: {value}\r\n" for name, value in headers.items()),
                "\r\n",
            ]
        )
        idle = self._idle[address]
        reader, writer = idle.pop() if idle else await asyncio.open_connection(*address)
        writer.write(head.encode() + payload)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await reader.readexactly(length)
        idle.append((reader, writer))
        return int(status_line.split()[1]), answer

    def close(self) -> None:
        for connections in self._idle.values():
            for _, writer in connections:
                writer.close()
        self._idle.clear()
