"""The rules commands: publish, rollback, freeze, lists, validate (on a database file)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from fengkong.cli.main import main


def test_cli_publish_freeze_list_rollback(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    env = {"FENGKONG_TOKEN_SECRET": "s" * 32}
    r = CliRunner()
    rs_file = tmp_path / "r.toml"
    rs_file.write_text('[[rules]]\nname = "big"\nwhen = "amount > 100"\naction = "review"\n')
    out = r.invoke(main, ["rules", "publish", "--default", "--db", db], env=env)
    assert out.exit_code == 0, out.output
    out = r.invoke(main, ["rules", "publish", str(rs_file), "--db", db, "--comment", "c"], env=env)
    assert "published r2" in out.output
    out = r.invoke(main, ["rules", "rollback", "--db", db], env=env)
    assert "live: r1" in out.output
    out = r.invoke(
        main,
        ["rules", "freeze", "--user", "u1", "--reason", "x", "--ttl", "2h", "--db", db],
        env=env,
    )
    assert "frozen user=u1: block" in out.output, out.output
    out = r.invoke(
        main,
        [
            "rules",
            "list",
            "add",
            "blocked_phones",
            "13912345678",
            "--tokenise",
            "phone",
            "--ttl",
            "7d",
            "--db",
            db,
        ],
        env=env,
    )
    assert out.exit_code == 0, out.output
    out = r.invoke(main, ["rules", "list", "show", "blocked_phones", "--db", db], env=env)
    assert out.output.startswith("tk_phone_")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nname = "x"\nwhen = "user.amount_zscore_3d > 1"\naction = "block"\n')
    out = r.invoke(main, ["rules", "validate", str(bad)], env=env)
    assert out.exit_code == 1 and "user.amount_zscore_30d" in out.output
