"""What a learner sees when something is set up wrong: one line that says what and how to fix it,
never a traceback — missing or malformed Azure settings, a taken port, a lab that cannot start, a
notebook opened from another folder.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyless_lab import SettingsError
from keyless_lab.__main__ import main as serve_main
from keyless_lab.target import REPO, LabStartError, Target, find_settings_file

# The module, not the function the package re-exports under the same name.
connect_module = importlib.import_module("keyless_lab.target")
connect = connect_module.connect

AZURE_SETTINGS = {
    "AZURE_OPENAI_ENDPOINT": "https://oai-keyless.openai.azure.com/",
    "AZURE_OPENAI_CHAT_DEPLOYMENT": "chat",
    "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000001",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000002",
    "AZURE_RESOURCE_GROUP": "rg-keyless",
}


def missing(name: str) -> str:
    return f"Missing required environment variable: {name} — set it in .env or run with KEYLESS_TARGET=lab"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory outside the workbook, with no .env on the way up (the workbook's own is hidden)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(connect_module, "REPO", None)
    return tmp_path


@pytest.fixture
def azure_env(monkeypatch: pytest.MonkeyPatch, elsewhere: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("KEYLESS_TARGET", "azure")
    for name, value in AZURE_SETTINGS.items():
        monkeypatch.setenv(name, value)
    yield monkeypatch


@pytest.mark.parametrize(
    ("change", "message"),
    [
        *(({name: None}, missing(name)) for name in AZURE_SETTINGS),
        ({"AZURE_OPENAI_ENDPOINT": "   "}, missing("AZURE_OPENAI_ENDPOINT")),
        (
            {"AZURE_OPENAI_ENDPOINT": "http://oai-keyless.openai.azure.com/"},
            "AZURE_OPENAI_ENDPOINT must start with https:// (got 'http://oai-keyless.openai.azure.com/') — "
            "copy it from `azd env get-values`",
        ),
        (
            {"AZURE_OPENAI_ENDPOINT": "oai-keyless.openai.azure.com"},
            "AZURE_OPENAI_ENDPOINT must start with https:// (got 'oai-keyless.openai.azure.com') — "
            "copy it from `azd env get-values`",
        ),
        ({"KEYLESS_TARGET": "bogus"}, "KEYLESS_TARGET must be 'lab' or 'azure', not 'bogus' — fix it in .env"),
        ({"KEYLESS_TARGET": "Azure "}, None),  # case and spaces forgiven
    ],
    ids=lambda v: "-".join(f"{k}={v[k]}" for k in v) if isinstance(v, dict) else None,
)
def test_azure_settings_errors_are_one_actionable_line(
    azure_env: pytest.MonkeyPatch, change: dict[str, str | None], message: str | None
) -> None:
    for name, value in change.items():
        if value is None:
            azure_env.delenv(name)
        else:
            azure_env.setenv(name, value)
    if message is None:
        target = connect()
        assert target.name == "azure" and target.lab is None
        assert target.settings["AZURE_OPENAI_API_VERSION"] == "2024-10-21"
        return
    with pytest.raises(SettingsError) as caught:
        connect()
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_a_settings_error_is_one_line_in_ipython(capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    result = shell.run_cell(
        f"from keyless_lab import SettingsError\nraise SettingsError({missing('AZURE_TENANT_ID')!r})"
    )
    shown = capsys.readouterr().out.strip()
    assert isinstance(result.error_in_exec, SettingsError)
    assert shown == f"SettingsError: {missing('AZURE_TENANT_ID')}"
    assert "Traceback" not in shown


def test_serve_on_a_taken_port_says_so_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "keyless_lab", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"error: the lab could not start: Port {port} on 127.0.0.1 is already in use — "
        "choose another or use 0 for any free port\n"
    )


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_refuses_a_port_that_is_no_port(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        serve_main(["serve", "--port", port])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        f"python -m keyless_lab serve: error: argument --port: '{port}' is not a port: "
        "use 1-65535, or 0 for any free port"
    )
    assert "Traceback" not in err


def no_temp_dir(*args: object, **kwargs: object) -> str:
    # What tempfile raises when no candidate folder can be written (TMPDIR, /tmp, /var/tmp, cwd).
    raise FileNotFoundError(2, "No usable temporary directory found in ['/nowhere', '/tmp', '/var/tmp']")


def test_lab_that_cannot_start_is_one_line_from_connect(monkeypatch: pytest.MonkeyPatch, elsewhere: Path) -> None:
    monkeypatch.setenv("KEYLESS_TARGET", "lab")
    monkeypatch.setattr(tempfile, "mkdtemp", no_temp_dir)
    with pytest.raises(LabStartError) as caught:
        connect()
    assert str(caught.value) == (
        "The local lab could not start: [Errno 2] No usable temporary directory found in "
        "['/nowhere', '/tmp', '/var/tmp'] — set TMPDIR to a folder you can write to and run this cell again"
    )
    assert caught.value._render_traceback_() == [f"LabStartError: {caught.value}"]


def test_lab_that_cannot_start_is_one_line_from_serve(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "mkdtemp", no_temp_dir)
    assert serve_main(["serve"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: the lab could not start: [Errno 2] No usable temporary directory found in "
        "['/nowhere', '/tmp', '/var/tmp']\n"
    )


def test_tmpdir_pointing_at_a_file_is_survived(tmp_path: Path) -> None:
    """TMPDIR naming a file is skipped by Python's tempfile; the lab starts in the next usable folder."""
    not_a_folder = tmp_path / "tmpdir-is-a-file"
    not_a_folder.write_text("")
    code = "from keyless_lab import Lab\nwith Lab() as lab: print(lab.url)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**_inherited(), "TMPDIR": str(not_a_folder)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("https://127.0.0.1:")


def _inherited() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}


# --- a notebook opened from another folder --------------------------------------------------------


def test_the_workbooks_own_settings_are_found_from_any_folder(tmp_path: Path) -> None:
    workbook = tmp_path / "workbook"
    (workbook / "notebooks").mkdir(parents=True)
    (workbook / ".env").write_text("KEYLESS_TARGET=azure\n")
    somewhere = tmp_path / "Downloads" / "copy"
    somewhere.mkdir(parents=True)
    assert find_settings_file(workbook / "notebooks", workbook) == workbook / ".env"
    assert find_settings_file(somewhere, workbook) == workbook / ".env"
    # A .env nearer the notebook still wins, as python-dotenv's own search does.
    (somewhere / ".env").write_text("KEYLESS_TARGET=lab\n")
    assert find_settings_file(somewhere, workbook) == somewhere / ".env"
    assert find_settings_file(tmp_path / "Downloads", None) is None


def test_workbook_files_resolve_from_any_folder(elsewhere: Path) -> None:
    assert REPO is not None and (REPO / "keyless_lab").is_dir()
    target = Target("azure", {}, repo=REPO)
    assert target.file("pyproject.toml") == REPO / "pyproject.toml"
    assert not Path("pyproject.toml").exists()  # the working directory is elsewhere


def test_a_workbook_file_that_is_not_there_is_one_actionable_line(elsewhere: Path) -> None:
    target = Target("azure", {}, repo=REPO)
    with pytest.raises(SettingsError) as caught:
        target.file("infra/nothing.bicep")
    hint = "open the notebook from the workbook's notebooks/ folder"
    assert str(caught.value) == f"infra/nothing.bicep is not in the workbook at {REPO} — {hint}"
    detached = Target("azure", {}, repo=None)
    with pytest.raises(SettingsError, match="is not in the workbook at this installation"):
        detached.file("infra/main.bicep")


def test_connect_from_a_deleted_folder_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    monkeypatch.setenv("KEYLESS_TARGET", "azure")
    for name, value in AZURE_SETTINGS.items():
        monkeypatch.setenv(name, value)
    assert connect().name == "azure"
