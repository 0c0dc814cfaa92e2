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
