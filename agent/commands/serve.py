"""`dissect serve`: the embedded model as an OpenAI-compatible endpoint on this machine."""
from __future__ import annotations

import signal

from agent.llm import default_model_for


def cmd_serve(args, settings) -> int:
    from agent.llm.local import serve_openai

    parallel = args.parallel or settings.digest.concurrency
    server = serve_openai(settings, host=args.host, port=args.port, parallel=parallel)
    base = server.listening_address.rstrip("/") + "/v1"
    model = settings.llm.model or default_model_for(settings.llm.backend)
    print(f"serving {model} at {base} (Ctrl-C stops)", flush=True)
    print(f"use it with: DISSECT_BACKEND=openai OPENAI_BASE_URL={base} DISSECT_MODEL=local", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="serve the embedded (or a local GGUF) model over an OpenAI-compatible API")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--parallel", type=int, help="concurrent request slots (default: concurrency setting)")
    p.set_defaults(func=cmd_serve)
