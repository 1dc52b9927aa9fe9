"""Turns a federation plan into consistent rows: ids, placement, schedules, backup history, capacity.

Every byte figure comes from the content model (simulator/content/model.py): each VM's content is made
from its golden image and data of its own, aged by its workload; its backups, in time order, record
its content as the workload changes it between them. Rows are drawn first (names, times, places), then
each VM's history is replayed through the model and the rows take its figures.
"""

from __future__ import annotations

import random
from datetime import datetime

from openovc.domain.ports.progress import SILENT, Progress
from openovc.simulator.federation import Federation
from openovc.simulator.generator import backups, clusters, content, datastores, vms, volumes
from openovc.simulator.generator.plan import FederationPlan
from openovc.simulator.generator.records import Draft


def build(plan: FederationPlan, now: datetime, rng: random.Random, progress: Progress = SILENT) -> Federation:
    """Every row of the federation the plan describes, as seen at `now`."""
    draft = Draft(plan, now, rng)
    progress.phase("Drawing the federation")
    # The order is the seed's contract: each step draws from `rng` in turn, so moving one changes the ids.
    clusters.draw_clusters(draft)
    clusters.draw_cluster_groups(draft)
    clusters.draw_external_stores(draft)
    datastores.draw_policies(draft)
    clusters.draw_standard_hosts(draft)
    datastores.draw_datastores(draft)
    vms.draw_vms(draft)
    volumes.draw_volumes(draft)
    backups.draw_backups(draft)
    content.replay_content(draft, progress)
    datastores.policy_rows(draft)
    datastores.datastore_rows(draft)
    vms.vm_rows(draft)
    volumes.volume_rows(draft)
    clusters.host_and_cluster_rows(draft)
    draft.ledger.forget_caches()
    draft.fed.content = draft.ledger
    return draft.fed
