"""What the task routes answer, around the read models of tasks/model.py and tasks/extension_store.py."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from services.assignment.tasks.extension_store import AwaitingDecision, ExtensionRequest
from services.assignment.tasks.model import TaskView


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class TaskList(_View):
    tasks: list[TaskView]


class DelegationView(_View):
    delegation_id: str
    parent_task_id: str
    children: list[TaskView]


class ExtensionList(_View):
    extensions: list[ExtensionRequest]


class AwaitingList(_View):
    extensions: list[AwaitingDecision]


class DecidedExtension(ExtensionRequest):
    """The request as decided, with its task as it stands after the decision."""

    task: TaskView


class WithdrawalView(_View):
    task: TaskView
    withdrawn_task_ids: list[str]
