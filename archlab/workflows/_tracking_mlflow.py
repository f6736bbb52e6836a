"""The MLflow sink: each (candidate, seed, rung) run an MLflow run, a study a parent run.

Runs are found again by their ``archlab.run_id`` tag (the store's id and the run's id), so a
rerun that resumes continues the same MLflow runs and never makes a second one
(docs/training.md, "Tracking"). Only the tracking client is used (``mlflow.tracking``), never
the fluent API's process-wide active run. Each call runs under archlab's own MLflow settings
(short HTTP timeouts, no run URLs printed on stdout; see archlab.workflows._mlflow_http), and a
failed call is raised as one short :class:`ArchlabError` naming what went wrong.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from archlab._version import __version__
from archlab.errors import ArchlabError
from archlab.train.tracking import tracked_metrics
from archlab.train.workspace import git_commit
from archlab.workflows._mlflow_http import check_scheme, mlflow_env, reason

if TYPE_CHECKING:
    from archlab.space import NetSpec
    from archlab.stats.study import StudyOutcome
    from archlab.store import RunRecord
    from archlab.train.plan import RunPlan

EXPERIMENT = "archlab"
RUN_TAG = "archlab.run_id"
RESUMED_TAG = "archlab.resumed_after_epoch"  # set on each resume, the newest one kept
# archlab's run status -> MLflow's terminal status.
END_STATUS = {"finished": "FINISHED", "diverged": "FAILED", "failed": "FAILED",
              "interrupted": "KILLED"}  # fmt: skip

P = ParamSpec("P")
R = TypeVar("R")


def _scoped(
    method: Callable[Concatenate[MlflowSink, P], R],
) -> Callable[Concatenate[MlflowSink, P], R]:
    """Run a sink method under archlab's MLflow settings; a failure said in a few words."""

    @functools.wraps(method)
    def call(self: MlflowSink, *args: P.args, **kwargs: P.kwargs) -> R:
        with mlflow_env(self.uri):
            try:
                return method(self, *args, **kwargs)
            except ArchlabError:
                raise
            except Exception as exc:  # the client's, the server's or the network's
                raise ArchlabError(reason(exc, self.uri)) from exc

    return call


class MlflowSink:
    """Sends runs to an MLflow tracking URI; built only after the URI answered (see open)."""

    name = "MLflow"

    def __init__(self, uri: str, *, store: str, workdir: str | None) -> None:
        self.uri, self.store, self.workdir = uri, store, workdir
        try:  # an mlflow that fails to import is refused here too, in one line
            check_scheme(uri)
            with mlflow_env(uri):
                from mlflow.tracking import MlflowClient

                self.client = MlflowClient(tracking_uri=uri)
                found = self.client.get_experiment_by_name(EXPERIMENT)
                self.experiment = (
                    found.experiment_id if found else self.client.create_experiment(EXPERIMENT)
                )
        except Exception as exc:  # any client error: a malformed, unreachable or refused URI
            raise ArchlabError(
                f"output.mlflow {uri!r} cannot be used: {reason(exc, uri)}"
            ) from None
        self.parent: str | None = None  # a study's run, parent of every run sent after it
        self.study: str | None = None
        self._runs: dict[int, str] = {}  # archlab run id -> MLflow run id
        self._last: dict[int, int] = {}  # archlab run id -> last epoch sent

    def _find(self, key: str) -> Any:
        found = self.client.search_runs(
            [self.experiment], filter_string=f"tags.`{RUN_TAG}` = '{key}'", max_results=1
        )
        return found[0] if found else None

    def _open(self, key: str, name: str, tags: dict[str, str], params: dict[str, str]) -> Any:
        """The MLflow run tagged ``key``, made (with tags and params) if there is none."""
        found = self._find(key)
        if found is not None:
            return found
        tags = {RUN_TAG: key, "archlab.version": __version__, "archlab.store": self.store, **tags}
        if self.parent is not None:
            tags["mlflow.parentRunId"] = self.parent
        created = self.client.create_run(self.experiment, tags=tags, run_name=name)
        from mlflow.entities import Param

        self.client.log_batch(
            created.info.run_id, params=[Param(k, v[:6000]) for k, v in params.items()]
        )
        return created

    def _run(self, store_id: str, run: RunRecord, spec: NetSpec, plan: RunPlan) -> Any:
        tags = {"archlab.candidate": spec.name, "archlab.seed": str(run.seed),
                "archlab.rung": str(run.rung),
                "archlab.git_commit": git_commit() or "unknown"}  # fmt: skip
        if self.study is not None:
            tags["archlab.study"] = self.study
        found = self._open(f"{store_id}:{run.id}", f"{spec.name}-s{run.seed}-r{run.rung}", tags,
                           _params(spec, plan, run))  # fmt: skip
        self._runs[run.id] = found.info.run_id
        sent = self.client.get_metric_history(found.info.run_id, "val_error")
        # Epochs after the stored ones are trained again: sent again, the newer value last.
        self._last[run.id] = min(max((m.step for m in sent), default=0), run.epochs_done)
        return found

    @_scoped
    def run_started(self, store_id: str, run: RunRecord, spec: NetSpec, plan: RunPlan) -> None:
        """Open (or reopen, when resuming) the run's MLflow run."""
        found = self._run(store_id, run, spec, plan)
        if found.info.status != "RUNNING":
            self.client.update_run(found.info.run_id, status="RUNNING")
        if run.epochs_done:  # a resume: metrics go on after the stored epochs (step = epoch)
            self.client.set_tag(found.info.run_id, RESUMED_TAG, str(run.epochs_done))

    @_scoped
    def epoch(self, run_id: int, metrics: Mapping[str, Any]) -> None:
        """Log an epoch's metrics at step = epoch, once."""
        from mlflow.entities import Metric

        epoch = int(metrics["epoch"])
        if run_id not in self._runs or epoch <= self._last[run_id]:
            return
        now = int(time.time() * 1000)
        values = tracked_metrics(metrics)
        self.client.log_batch(
            self._runs[run_id], metrics=[Metric(k, v, now, epoch) for k, v in values.items()]
        )
        self._last[run_id] = epoch

    @_scoped
    def run_ended(
        self,
        store_id: str,
        run: RunRecord,
        spec: NetSpec,
        plan: RunPlan,
        history: Sequence[Mapping[str, Any]],
    ) -> None:
        """Send the epochs not sent yet, the exported best model, and the final status."""
        if run.id not in self._runs:  # skipped as stored: complete it unless it is already
            found = self._run(store_id, run, spec, plan)
            if found.info.status in ("FINISHED", "FAILED") and self._last[run.id] >= len(history):
                del self._runs[run.id]  # complete already: nothing to send
                return
        for metrics in history:
            self.epoch(run.id, metrics)
        mlflow_id = self._runs.pop(run.id)
        if run.status == "finished":
            self._log_model(mlflow_id, run.id)
        self.client.set_terminated(mlflow_id, status=END_STATUS.get(run.status, "FAILED"))

    def _log_model(self, mlflow_id: str, run_id: int) -> None:
        from archlab.workflows.export import export_run

        with tempfile.TemporaryDirectory(prefix="archlab-mlflow-") as tmp:
            try:
                export_run(self.store, run_id=run_id, workdir=self.workdir, out=tmp)
            except ArchlabError as exc:  # e.g. no checkpoint of its best epoch: say so there
                self.client.set_tag(mlflow_id, "archlab.export", str(exc)[:5000])
                return
            self.client.log_artifacts(mlflow_id, tmp, artifact_path="model")

    @_scoped
    def study_started(self, store_id: str, name: str, definition: Mapping[str, Any]) -> None:
        """Open (or reopen) the study's parent run; runs sent from now on are its children."""
        params = {"question": str(definition.get("question", "")),
                  "alpha": str(definition.get("alpha")), "rope": str(definition.get("rope")),
                  "min_seeds": str(definition.get("seeds")),
                  "max_seeds": str(definition.get("max_seeds"))}  # fmt: skip
        found = self._open(f"{store_id}:study:{name}", f"study {name}", {"archlab.study": name},
                           params)  # fmt: skip
        self.parent, self.study = found.info.run_id, name
        if found.info.status != "RUNNING":
            self.client.update_run(found.info.run_id, status="RUNNING")

    @_scoped
    def study_ended(self, outcome: StudyOutcome, stop: str) -> None:
        """The verdict table (markdown, figure, JSON) as artifacts, the verdicts as tags."""
        from archlab.report.verdict_section import study_lines

        if self.parent is None:
            return
        with tempfile.TemporaryDirectory(prefix="archlab-mlflow-") as tmp:
            out = Path(tmp)
            text = "\n".join(study_lines(outcome, out)) + "\n"
            (out / "verdict.md").write_text(text, encoding="utf-8")
            verdict = json.dumps(outcome.to_dict(), indent=2, default=str)
            (out / "verdict.json").write_text(verdict, encoding="utf-8")
            self.client.log_artifacts(self.parent, tmp, artifact_path="verdict")
        self.client.set_tag(self.parent, "archlab.stop", stop)
        self.client.set_tag(self.parent, "archlab.best", str(outcome.best or "none"))
        for row in outcome.state.rows:  # tag keys take letters, digits and _-. / only
            key = re.sub(r"[^\w\-. /]", "", f"verdict.{row.a} vs {row.b}")
            self.client.set_tag(self.parent, key, row.verdict)
        done = stop != "runs failed"
        self.client.set_terminated(self.parent, status="FINISHED" if done else "KILLED")

    def close(self) -> None:
        """Nothing held open: every call went to the client already."""


def _params(spec: NetSpec, plan: RunPlan, run: RunRecord) -> dict[str, str]:
    """The spec (JSON where nested), the seed and the resolved recipe as flat MLflow params."""
    params = {"spec.name": spec.name, "seed": str(run.seed)}
    for key, value in spec.to_dict().items():
        nested = isinstance(value, list | tuple | dict)
        params[f"spec.{key}"] = json.dumps(value) if nested else str(value)
    config = plan.run_config(rung=run.rung, stop_epoch=run.budget_epochs)
    for section, table in config.items():
        if isinstance(table, dict):
            for key, value in table.items():
                params[f"{section}.{key}"] = str(value)
        else:
            params[section] = str(table)
    return params
