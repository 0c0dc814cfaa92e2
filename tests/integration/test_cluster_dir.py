import os
import shutil
import subprocess
import sys
from pathlib import Path

from infra import REPO_ROOT


def test_cluster_dir_is_the_same_in_every_process(tmp_path):
    private = tmp_path / "home"
    private.mkdir(mode=0o700)  # like a checkout under /root: the postgres user cannot pass
    os.chmod(private, 0o700)
    code = (
        "import sys; from pathlib import Path; from infra.local.postgres import cluster_dir_for; "
        "print(cluster_dir_for(Path(sys.argv[1])))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code, str(private / ".vidpipe" / "pg")],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(runs) == 1
    (chosen,) = runs
    shutil.rmtree(Path(chosen).parent)  # the fallback folder it made in the temp dir


def _cluster_root() -> Path:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="vidpipe-test-auth-"))
    os.chmod(root, 0o755)  # noqa: S103  # the postgres user must reach the data dir
    return root


def _refused(url: str) -> str:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        return str(exc)
    return ""


def test_the_local_postgres_trusts_no_local_user():
    """Every local user can reach 127.0.0.1: without the password (in a 0600 file in the data
    directory), no connection, not even as the superuser."""
    from infra.local.postgres import PASSWORD_FILE, PostgresCluster

    root = _cluster_root()
    cluster = PostgresCluster(root / "data", fsync=False)
    try:
        cluster.start()
        assert (root / "data" / PASSWORD_FILE).stat().st_mode & 0o777 == 0o600
        assert "password" in _refused(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
        assert "password" in _refused(f"postgresql://postgres:guess@127.0.0.1:{cluster.port}/postgres")
        assert _refused(cluster.admin_url) == ""
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def test_a_cluster_made_when_local_users_were_trusted_is_secured_at_start():
    from infra.local.postgres import PostgresCluster, _run, pg_bin

    root = _cluster_root()
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    _run([pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-instructions"])
    cluster = PostgresCluster(data, fsync=False)
    try:
        cluster.start()
        assert cluster.password is not None
        assert "password" in _refused(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
        assert _refused(cluster.admin_url) == ""
        cluster.stop()
        cluster.start()  # and it stays so
        assert "password" in _refused(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
