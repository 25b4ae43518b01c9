"""Secrets (issue #13): private credential files, masked URIs, the dashboard's Host check."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from mofgen.cli import main
from mofgen.hostcheck import ENV_HOSTS, allowed_hosts, host_allowed, install_host_check
from mofgen.launchers.templates import write_worker_files
from mofgen.stores.connection import mask_uri

PASSWORD = "p@ss:w'rd/%40x"
URI = f"mongodb://alice:{PASSWORD}@db.cluster.example:27017/mofgen?authSource=admin"


def test_worker_files_are_private_and_the_uri_survives_the_shell(tmp_path):
    out = tmp_path / "fw"
    out.mkdir()
    stale = out / "my_launchpad.yaml"
    stale.write_text("old")
    stale.chmod(0o644)  # a file from an older mofgen: rewritten, and narrowed
    files = write_worker_files(out, URI)
    assert len(files) == 1 + 3 * 4
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path.name, oct(mode))
        assert "alice:p@ss" in path.read_text()  # every one of them holds the credential
    script = (out / "rlaunch_local_cpu.sh").read_text().splitlines()
    export = next(line for line in script if line.startswith("export MOFGEN_DB="))
    echoed = subprocess.run(["bash", "-c", f'{export}; printf %s "$MOFGEN_DB"'],
                            capture_output=True, text=True, check=True).stdout
    assert echoed == URI  # quoted for the shell: the quote in the password does not break it


@pytest.mark.parametrize("uri, shown", [
    ("mongodb://u:p@ss@host:27017/db", "mongodb://u:***@host:27017/db"),
    ("mongodb://u:a:b@c@h/db?x=1", "mongodb://u:***@h/db?x=1"),
    ("mongodb://u:p%40ss@h", "mongodb://u:***@h"),
    ("mongodb+srv://admin:S3cr/t!@@cluster.example.net/db", "mongodb+srv://admin:***@"
     "cluster.example.net/db"),
    (URI, "mongodb://alice:***@db.cluster.example:27017/mofgen?authSource=admin"),
    ("mongodb://u:@h", "mongodb://u:***@h"),
    ("mongodb://user@host/db", "mongodb://user@host/db"),
    ("mongodb://host/db", "mongodb://host/db"),
    ("/data/mofgen", "/data/mofgen"),
])
def test_masking_hides_every_password_character(uri, shown):
    assert mask_uri(uri) == shown


@pytest.mark.parametrize("command", ["status", "export"])
def test_error_lines_never_show_the_password(command, capsys):
    uri = "mongodb://u:hunter2@secret@127.0.0.1:1/db"  # unescaped '@': an invalid URI
    extra = ["--campaign", "c", "--out", "/nonexistent/x"] if command == "export" else []
    assert main([command, "--db", uri, *extra]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hunter2" not in err and "secret" not in err
    assert "u:***@127.0.0.1:1" in err


# ------------------------------------------------------------------ dashboard Host header
@pytest.mark.parametrize("header, ok", [
    ("127.0.0.1:8050", True), ("localhost:8050", True), ("LOCALHOST", True),
    ("[::1]:8050", True), ("localhost.", True),
    ("evil.example:8050", False), ("127.0.0.1.evil.example", False), ("", False),
    (None, False), ("localhost@evil.example", False), ("mofgen.lab.org", True),
])
def test_host_header_against_loopback_and_configured_names(monkeypatch, header, ok):
    monkeypatch.setenv(ENV_HOSTS, "mofgen.lab.org, other.org")
    assert host_allowed(header, allowed_hosts("127.0.0.1")) is ok


def test_bind_address_is_allowed_but_a_wildcard_is_not_a_name(monkeypatch):
    monkeypatch.delenv(ENV_HOSTS, raising=False)
    assert "10.1.2.3" in allowed_hosts("10.1.2.3")
    assert allowed_hosts("0.0.0.0") == allowed_hosts(None) == {"127.0.0.1", "localhost", "::1"}


def test_the_real_dashboard_with_the_check_installed_refuses_other_hosts(db, monkeypatch):
    from mofgen.dashboard.app import create_app

    monkeypatch.setenv(ENV_HOSTS, "mofgen.lab.org")
    app = create_app(db)
    install_host_check(app, bind_host="127.0.0.1")
    client = app.test_client()
    assert client.get("/api/campaigns", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    assert client.get("/api/campaigns", headers={"Host": "mofgen.lab.org"}).status_code == 200
    refused = client.get("/api/campaigns", headers={"Host": "rebind.evil.example:8050"})
    assert refused.status_code == 421 and b"unknown host" in refused.data


def test_create_app_checks_the_host_header_itself(db):
    from mofgen.dashboard.app import create_app

    client = create_app(db).test_client()
    assert client.get("/api/campaigns", headers={"Host": "evil.example"}).status_code == 421


def test_dashboard_port_in_use_is_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["dashboard", "--db", str(tmp_path / "none"), "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Address already in use" in err
    assert not os.path.exists(tmp_path / "none")
