"""Entry point of the ``fengkong`` command.

Each concept's commands live in their own module of this package and are registered
below with one line each.
"""

from __future__ import annotations

import click

from fengkong import __version__
from fengkong.cli.audit_cmd import audit
from fengkong.cli.cases_cmd import cases
from fengkong.cli.credit_cmd import credit
from fengkong.cli.db_cmd import db
from fengkong.cli.decide_cmd import decide
from fengkong.cli.demo_cmd import demo
from fengkong.cli.evaluate_cmd import evaluate
from fengkong.cli.features_cmd import features
from fengkong.cli.graph_cmd import graph
from fengkong.cli.keys_cmd import keys
from fengkong.cli.models_cmd import models
from fengkong.cli.prune_cmd import prune
from fengkong.cli.replay_cmd import replay
from fengkong.cli.rules_cmd import rules
from fengkong.cli.serve_cmd import serve
from fengkong.cli.share_cmd import share
from fengkong.cli.sim_cmd import sim


class _Main(click.Group):
    """The command group; a refused insecure file is a one-line error, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        from fengkong.storage.files import InsecureFile

        try:
            return super().invoke(ctx)
        except InsecureFile as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fengkong")
def main() -> None:
    """fengkong (风控): real-time risk decisions for credit and payment apps."""


# Command registration: one line per command module (keep sorted).
main.add_command(audit)
main.add_command(cases)
main.add_command(credit)
main.add_command(db)
main.add_command(decide)
main.add_command(demo)
main.add_command(evaluate)
main.add_command(features)
main.add_command(graph)
main.add_command(keys)
main.add_command(models)
main.add_command(prune)
main.add_command(replay)
main.add_command(rules)
main.add_command(serve)
main.add_command(share)
main.add_command(sim)
