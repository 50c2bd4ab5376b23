"""SSH to a board with paramiko: host keys checked, commands quoted, files pushed and pulled.

Host keys come from the board's known_hosts file. A changed key is always refused; an unknown
key is refused unless the caller passes accept_new_host_key=True, which records it there
(like OpenSSH's StrictHostKeyChecking=accept-new). Every remote command is an argv list joined
with shlex.join, so paths and arguments with spaces or shell characters stay literal.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
from pathlib import Path

import paramiko

from ...errors import BoardError, last_line
from ..resources import SSHSpec

# paramiko logs a failed handshake with tracebacks from its own thread; the SSHError raised
# here says what failed, in one line
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False


class SSHError(BoardError):
    """SSH to a board failed; the message names the board and the cause."""


def _short(command: str, chars: int = 100) -> str:
    """A remote command line as an error quotes it: its start (the agent's lines are long)."""
    return command if len(command) <= chars else command[: chars - 3] + "..."


class SSHDriver:
    def __init__(self, board: str, spec: SSHSpec, accept_new_host_key: bool = False) -> None:
        self.board, self.spec, self.accept_new = board, spec, accept_new_host_key
        self._client: paramiko.SSHClient | None = None

    def _fail(self, cause: str) -> SSHError:
        return SSHError(f"board '{self.board}': SSH to {self.spec.where}: {cause}")

    def connect(self) -> SSHDriver:
        spec = self.spec
        client = paramiko.SSHClient()
        known = Path(spec.known_hosts)
        revoked = _load_known_hosts(client, known) if known.is_file() else set()
        if self.accept_new:
            known.parent.mkdir(parents=True, exist_ok=True)
            known.touch(exist_ok=True)
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        if spec.key_file and not Path(spec.key_file).expanduser().is_file():
            raise self._fail(f"key_file {spec.key_file} not found (or not a file)")
        try:
            client.connect(
                spec.host,
                port=spec.port,
                username=spec.user,
                key_filename=spec.key_file or None,
                timeout=spec.connect_timeout_s,
                banner_timeout=spec.connect_timeout_s,
                auth_timeout=spec.connect_timeout_s,
                allow_agent=False,
                look_for_keys=not spec.key_file,
            )
        except paramiko.BadHostKeyException as err:
            raise self._fail(
                f"host key mismatch ({err.key.get_name()} key differs from {spec.known_hosts}); "
                "refusing to connect"
            ) from None
        except paramiko.SSHException as err:
            if "not found in known_hosts" in str(err):
                raise self._fail(
                    f"unknown host key (not in {spec.known_hosts}); check it and add it, "
                    "or pass --accept-new-host-key"
                ) from None
            raise self._fail(str(err) or type(err).__name__) from None
        except TimeoutError:
            raise self._fail(
                f"unreachable (no answer within {spec.connect_timeout_s:.0f} s)"
            ) from None
        except paramiko.ssh_exception.NoValidConnectionsError as err:
            causes = sorted({e.strerror or str(e) for e in err.errors.values()})
            raise self._fail(f"unreachable ({'; '.join(causes)})") from None
        except OSError as err:
            raise self._fail(f"unreachable ({err.strerror or err})") from None
        server_key = client.get_transport().get_remote_server_key().get_base64()
        if server_key in revoked:
            client.close()
            raise self._fail(f"host key is marked @revoked in {spec.known_hosts}; refusing")
        if self.accept_new:
            client.save_host_keys(str(known))
        self._client = client
        return self

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> SSHDriver:
        return self if self._client else self.connect()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def client(self) -> paramiko.SSHClient:
        if self._client is None:
            self.connect()
        return self._client

    def run(
        self, argv: list[str], timeout: float = 60.0, check: bool = True
    ) -> tuple[int, str, str]:
        """Run `argv` on the board (quoted with shlex.join). Returns (exit code, stdout, stderr)."""
        return self.run_shell(shlex.join(argv), timeout, check)

    def run_shell(self, command: str, timeout: float = 60.0, check: bool = True):
        """Run a shell command line built by the caller from quoted parts."""
        try:
            _, out, err = self.client.exec_command(command, timeout=timeout)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
            code = out.channel.recv_exit_status()
        except TimeoutError:
            raise self._fail(f"`{_short(command)}` timed out after {timeout:.0f} s") from None
        except (paramiko.SSHException, OSError, EOFError) as err:
            raise self._fail(f"connection dropped ({err or type(err).__name__})") from None
        if code == -1:  # the channel closed without an exit status
            raise self._fail(f"connection dropped while running `{_short(command)}`")
        if check and code != 0:
            raise self._fail(
                f"`{_short(command)}` failed: {last_line(stderr or stdout, f'exit code {code}')}"
            )
        return code, stdout, stderr

    def upload(self, local: str | Path, remote: str) -> None:
        self.run(["mkdir", "-p", str(Path(remote).parent)])
        try:
            with self.client.open_sftp() as sftp:
                sftp.put(str(local), remote)
        except (paramiko.SSHException, OSError, EOFError) as err:
            raise self._fail(f"upload of {Path(local).name} failed ({err})") from None

    def download(self, remote: str, local: str | Path) -> None:
        try:
            with self.client.open_sftp() as sftp:
                sftp.get(remote, str(local))
        except (paramiko.SSHException, OSError, EOFError) as err:
            raise self._fail(f"download of {remote} failed ({err})") from None

    def remove_folder(self, path: str) -> None:
        """Remove a folder on the board, if still connected (best effort: cleaning up)."""
        if self._client is not None:
            with contextlib.suppress(SSHError):
                self.run(["rm", "-rf", "--", path], timeout=30, check=False)

    def stop_process(self, pid_file: str) -> None:
        """Stop the process whose pid `pid_file` holds on the board (best effort)."""
        if self._client is not None:
            quoted = shlex.quote(pid_file)
            with contextlib.suppress(SSHError):
                self.run_shell(f"kill $(cat {quoted}) 2>/dev/null; true", timeout=30, check=False)

    def start_detached(self, argv: list[str], log: str) -> int:
        """Start `argv` on the board in a session of its own; returns its pid (= pgid)."""
        self.run(["mkdir", "-p", str(Path(log).parent)])
        # only the detached command goes to the background, its output away from the channel
        line = f"setsid {shlex.join(argv)} > {shlex.quote(log)} 2>&1 < /dev/null & echo $!"
        _, out, _ = self.run_shell(line, timeout=30)
        return int(out.strip().splitlines()[-1])

    def kill_group(self, pgid: int) -> None:
        self.run_shell(f"kill -KILL -- -{int(pgid)} 2>/dev/null; true", timeout=30)

    def group_alive(self, pgid: int) -> bool:
        code, _, _ = self.run_shell(f"kill -0 -- -{int(pgid)} 2>/dev/null", check=False)
        return code == 0


def _load_known_hosts(client: paramiko.SSHClient, path: Path) -> set[str]:
    """Load a known_hosts file as OpenSSH reads it, with what paramiko lacks: `@cert-authority`
    lines (host certificates: not supported here, so they trust nothing) are skipped and
    `@revoked` keys are returned, to be refused. A line paramiko cannot parse is skipped."""
    keys, revoked = client.get_host_keys(), set()
    for line in path.read_text(errors="replace", encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("@cert-authority"):
            continue
        marker = line.startswith("@revoked")
        entry = _entry(line.split(None, 1)[1] if marker else line)
        if entry is None:
            continue
        if marker:
            revoked.add(entry.key.get_base64())
        else:
            for host in entry.hostnames:
                keys.add(host, entry.key.get_name(), entry.key)
    return revoked


def _entry(line: str):
    try:
        return paramiko.hostkeys.HostKeyEntry.from_line(line)
    except (paramiko.hostkeys.InvalidHostKey, ValueError, IndexError):
        return None
