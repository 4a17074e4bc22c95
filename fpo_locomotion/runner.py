"""rsl_rl's ``OnPolicyRunner`` with what it lacks: a progress bar, atomic checkpoints that load with
``weights_only=True`` and carry the run's identity (task, algo, dims), RNG state and resume at the next
iteration. Algorithm, rollouts and update are rsl_rl's (or FPO's) own.
"""

from __future__ import annotations

import io
import os
import random
import statistics
import warnings
from contextlib import redirect_stdout

import torch
from rsl_rl.env import VecEnv
from rsl_rl.runners import OnPolicyRunner
from rsl_rl.utils.logger import Logger
from tqdm import tqdm

from fpo_locomotion.checkpoints import check_checkpoint_fits, load_checkpoint, newest_checkpoint
from fpo_locomotion.errors import CheckpointError


class ProgressLogger(Logger):
    """rsl_rl's logger with a tqdm bar; its full statistics block is printed every ``print_interval`` iterations."""

    def __init__(self, *args, print_interval: int = 25, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.print_interval = print_interval
        self.bar: tqdm | None = None

    last_times: tuple[float, float] = (0.0, 0.0)
    """(collect, learn) seconds of the last iteration."""

    def log(self, it: int, start_it: int, total_it: int, collect_time: float, learn_time: float, **kwargs) -> None:
        self.last_times = (collect_time, learn_time)
        captured = io.StringIO()
        with redirect_stdout(captured):
            super().log(it=it, start_it=start_it, total_it=total_it, collect_time=collect_time,
                        learn_time=learn_time, **kwargs)
        if self.writer is None:
            return
        if self.bar is None:
            self.bar = tqdm(total=total_it, initial=start_it, unit="it", dynamic_ncols=True)
        if (it - start_it) % self.print_interval == 0 or it == total_it - 1:
            self.bar.write(captured.getvalue())
        steps = self.cfg["num_steps_per_env"] * self.num_envs * self.gpu_world_size
        postfix = {"steps/s": f"{steps / (collect_time + learn_time):.0f}",
                   "learn": f"{learn_time / (collect_time + learn_time):.0%}"}
        if self.rewbuffer:
            postfix["reward"] = f"{statistics.mean(self.rewbuffer):.3f}"
            postfix["ep_len"] = f"{statistics.mean(self.lenbuffer):.0f}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def stop_logging_writer(self) -> None:
        super().stop_logging_writer()
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.flush()


class FpoRunner(OnPolicyRunner):
    """``OnPolicyRunner`` + progress bar + atomic, self-describing, ``weights_only`` checkpoints.

    ``run_info`` (task, algo, observation and action dims, configs as plain dicts) is written into every
    checkpoint so that play/export/resume can check a checkpoint against the task they are given.
    """

    def __init__(self, env: VecEnv, train_cfg: dict, run_info: dict, log_dir: str | None = None,
                 device: str = "cpu") -> None:
        super().__init__(env, train_cfg, log_dir=log_dir, device=device)
        self.run_info = run_info
        self.logger = ProgressLogger(
            log_dir=log_dir, cfg=self.cfg, env_cfg=self.env.cfg, num_envs=self.env.num_envs,
            is_distributed=self.is_distributed, gpu_world_size=self.gpu_world_size,
            gpu_global_rank=self.gpu_global_rank, device=self.device,
            print_interval=train_cfg.get("print_interval", 25),
        )

    def save(self, path: str, infos: dict | None = None) -> None:
        """Write the checkpoint to ``path`` atomically (temp file + rename): a killed run never leaves half a file.

        Weights that are not finite are never written: the previous checkpoint stays the newest.
        """
        saved = self.alg.save()
        if not all(torch.isfinite(t).all() for t in saved["actor_state_dict"].values() if t.is_floating_point()):
            warnings.warn(f"Non-finite actor weights at iteration {self.current_learning_iteration}: "
                          f"checkpoint {path} not written.", stacklevel=2)
            return
        saved["iter"] = self.current_learning_iteration
        saved["infos"] = {**self.run_info, **(infos or {})}
        saved["rng_state"] = {"torch": torch.get_rng_state(), "python": random.getstate()}
        saved["log_totals"] = {"timesteps": self.logger.tot_timesteps, "time": self.logger.tot_time}
        tmp = f"{path}.tmp"
        try:
            torch.save(saved, tmp)
            os.replace(tmp, path)
        except (OSError, RuntimeError) as e:  # torch.save reports a full disk as RuntimeError
            if os.path.exists(tmp):
                os.remove(tmp)
            last = newest_checkpoint(os.path.dirname(path) or ".")
            raise CheckpointError(f"Could not write checkpoint {path} ({e}); the last good checkpoint is "
                                  f"{os.path.basename(last) if last else 'none'}. "
                                  "Free disk space and continue with --resume.") from None
        self.logger.save_model(path, self.current_learning_iteration)

    def load(self, path: str, load_cfg: dict | None = None, strict: bool = True, map_location: str | None = None) -> dict:
        """Load a checkpoint written by :meth:`save`; training continues at the iteration after the saved one."""
        loaded = load_checkpoint(path, map_location=map_location or self.device)
        check_checkpoint_fits(loaded["infos"], self.run_info, path)
        if self.alg.load(loaded, load_cfg, strict):
            self.current_learning_iteration = loaded["iter"] + 1
            torch.set_rng_state(loaded["rng_state"]["torch"])
            random.setstate(loaded["rng_state"]["python"])
            self.logger.tot_timesteps = loaded["log_totals"]["timesteps"]
            self.logger.tot_time = loaded["log_totals"]["time"]
        return loaded["infos"]
