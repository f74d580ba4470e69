"""Starts ``phoenix serve`` without its OTLP/gRPC server, run by the peers' interpreter.

Phoenix binds its gRPC port on every interface (``[::]``) with no setting to turn it off or
bind it elsewhere; the benchmark only uses OTLP/HTTP, bound to 127.0.0.1 by ``PHOENIX_HOST``,
so the gRPC server is replaced by a no-op before Phoenix starts.
"""

from __future__ import annotations

import sys

from phoenix.server import grpc_server
from phoenix.server.main import main


async def _no_grpc(self: object) -> None:
    return None


async def _no_grpc_exit(self: object, *args: object) -> None:
    return None


grpc_server.GrpcServer.__aenter__ = _no_grpc  # type: ignore[method-assign]
grpc_server.GrpcServer.__aexit__ = _no_grpc_exit  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.argv = ["phoenix", "serve"]
    sys.exit(main())
