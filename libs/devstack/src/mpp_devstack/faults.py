"""Outages on demand for fault tests: a TCP gate in front of a real server.

`TcpGate` forwards a loopback port to a real PostgreSQL (or a Kafka bootstrap address). `close()` is what a
client sees when the server goes away: new connections are refused (ECONNREFUSED) and the open ones are cut
(reset). `open()` brings it back on the same port. The server behind it keeps running, so other tests sharing it
are not disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from mpp_devstack._proc import free_port


@dataclass
class TcpGate:
    target_host: str
    target_port: int
    port: int = 0
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)
    _pipes: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set, init=False, repr=False)

    @property
    def is_open(self) -> bool:
        return self._server is not None

    async def open(self) -> TcpGate:
        """Listen (again) on the gate's port and forward every connection to the target."""
        if self._server is None:
            self.port = self.port or free_port()
            self._server = await asyncio.start_server(
                self._forward, "127.0.0.1", self.port, reuse_address=True
            )
        return self

    async def close(self) -> None:
        """Refuse new connections and cut the open ones, as a server that went away."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            if isinstance(transport, asyncio.WriteTransport):
                transport.abort()  # a reset, not a polite end of stream
        for pipe in list(self._pipes):
            pipe.cancel()
        for pipe in list(self._pipes):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pipe
        self._pipes.clear()
        self._writers.clear()

    async def _forward(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update({client_writer, server_writer})
        pipes = {
            asyncio.create_task(_pipe(client_reader, server_writer)),
            asyncio.create_task(_pipe(server_reader, client_writer)),
        }
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            for writer in (client_writer, server_writer):
                writer.transport.abort()
                self._writers.discard(writer)
            self._pipes.difference_update(pipes)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
