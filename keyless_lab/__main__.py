"""``python -m keyless_lab serve``: run a lab in the foreground and print what to export."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading

from .lab import SECRET_VARIABLES, Lab
from .state import PRESETS


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 1-65535, or 0 for any free port")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keyless_lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a lab until Ctrl+C")
    serve.add_argument("--preset", choices=PRESETS, default="fresh")
    serve.add_argument("--port", type=_port, default=0, help="port on 127.0.0.1 (default: any free port)")
    serve.add_argument("--host", metavar="NAME", help="also print the environment of a host (chat-app, chat-aca)")
    args = parser.parse_args(argv)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        lab = Lab(preset=args.preset, port=args.port)
    except (OSError, RuntimeError) as err:
        print(f"error: the lab could not start: {err}", file=sys.stderr)
        return 2
    env = lab.hosted(args.host) if args.host else lab.environment()
    print(
        f"# Go Keyless lab on {lab.url} (started in {lab.started_in * 1000:.0f} ms). Export this, then run your code:"
    )
    for name in sorted(env):
        # Secrets (a host's identity header) go to the terminal that asked, never to a log.
        print(f"export {name}={shlex.quote(env[name])}")
    for name in env.removed:
        print(f"unset {name}")
    if any(name in SECRET_VARIABLES for name in env):
        print("# (contains a host secret: do not paste it anywhere else)")
    sys.stdout.flush()

    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
