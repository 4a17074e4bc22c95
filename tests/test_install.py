"""`pip install .` (not only -e) gives a working package with envs/tasks/resources under fpo_locomotion only."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_installs_envs_and_tasks_under_the_package_namespace(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(REPO)],
                   check=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("fpo_locomotion-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top_level == {"fpo_locomotion"}, top_level
    assert "fpo_locomotion/resources/unitree_g1/g1_12dof.xml" in names
    for name in ("fpo", "ppo"):  # the shipped policies travel with the package
        assert {f"fpo_locomotion/resources/pretrained/{name}/{f}" for f in ("model.pt", "policy.onnx")} <= set(names)
    for module in ("envs/backend.py", "envs/mujoco_backend.py", "tasks/registry.py", "tasks/velocity/env.py",
                   "tasks/g1_flat/config.py"):
        assert f"fpo_locomotion/{module}" in names, module

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=600)
    probe = ("import fpo_locomotion, fpo_locomotion.envs.robots as r, fpo_locomotion.tasks as t; "
             "assert fpo_locomotion.__file__.startswith(%r), fpo_locomotion.__file__; "
             "assert t.__file__.startswith(%r) and r.__file__.startswith(%r); "
             "assert r.G1_12DOF_MODEL_PATH.is_file(); print(t.task_names())" % ((str(target),) * 3))
    out = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(target)}, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "bandit-multimodal" in out.stdout and "G1-Flat" in out.stdout
    assert not (target / "envs").exists() and not (target / "tasks").exists()
