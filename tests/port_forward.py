"""``kubectl port-forward`` for a test pod (tests/pod.py).

Started inside the pod's network namespace (``nsenter --net``) with a listening socket the
test made in its own namespace, passed as a file descriptor: a socket keeps the namespace
it was made in, so this process accepts on the test's loopback and connects each client
to one port on the pod's loopback, copying bytes both ways (HTTP and WebSocket alike).

    nsenter --net=/proc/PID/ns/net python port_forward.py FD PORT
"""

from __future__ import annotations

import asyncio
import socket
import sys


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(fd: int, port: int) -> None:
    async def forward(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            pod_r, pod_w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_w.close()  # nothing listens in the pod yet: the client sees a reset
            return
        await asyncio.gather(_copy(client_r, pod_w), _copy(pod_r, client_w))

    listener = socket.socket(fileno=fd)
    server = await asyncio.start_server(forward, sock=listener)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
