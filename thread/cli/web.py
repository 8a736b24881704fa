"""``thread serve``: the HTTP API (and, later, the web app) over this ledger."""

from __future__ import annotations

from pathlib import Path

import click

from thread.cli import Refused, json_option, main, opened


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--tokens", "tokens_file", type=click.Path(exists=True, dir_okay=False,
                                                         path_type=Path),
              help="A JSON file from each bearer token to an identity; without it the API "
                   "answers everyone (loopback or a trusted network only).")
@json_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, tokens_file: Path | None,
          as_json: bool) -> None:
    """Serve the HTTP API (OpenAPI at /docs) until Ctrl-C; with --policy every request is
    decided for its token's identity."""
    import uvicorn

    from thread.access.policy import Policy, PolicyError
    from thread.web import create_app
    from thread.web.access import tokens_from_file

    policy_file = ctx.meta.get("thread.access", (None, None))[0]
    try:
        tokens = tokens_from_file(tokens_file) if tokens_file is not None else None
        policy = Policy.from_file(policy_file) if policy_file is not None else None
    except PolicyError as error:
        raise Refused(str(error)) from None
    if policy is not None and tokens is None:
        raise Refused("--policy needs --tokens: each request is decided for its token's "
                      "identity")
    with opened(ctx, create=True) as ledger:  # a bad --db is one line here, not at a request
        url = ctx.obj or ledger.store.name
    del url
    if not as_json:
        click.echo(f"serving {ctx.obj or 'thread.db'} on http://{host}:{port} (OpenAPI at "
                   f"/docs); Ctrl-C to stop")
    uvicorn.run(create_app(ctx.obj, tokens=tokens, policy=policy), host=host, port=port,
                log_level="warning")
