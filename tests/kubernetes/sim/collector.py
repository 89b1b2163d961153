"""The garbage collector: deletes objects whose owners are all gone (so a Job's pods,
Secret and Workload follow it), holds a Foreground-deleted owner until its
dependents are gone, and strips the references to an Orphan-deleted one."""

from __future__ import annotations

from .controller import Controller, unless_gone
from .store import POLICY_FINALIZERS, RESOURCES, Resource

_FOREGROUND = POLICY_FINALIZERS["Foreground"]
_ORPHAN = POLICY_FINALIZERS["Orphan"]

Item = tuple[Resource, dict]


class GarbageCollector(Controller):
    def reconcile(self) -> None:
        items = [(resource, obj) for resource in RESOURCES for obj in self.store.list(resource)]
        live = {obj["metadata"]["uid"] for _, obj in items}
        for resource, obj in items:
            meta = obj["metadata"]
            refs = meta.get("ownerReferences", [])
            with unless_gone():
                if refs and "deletionTimestamp" not in meta and not {r["uid"] for r in refs} & live:
                    self.store.delete(resource, meta["namespace"], meta["name"])
                elif _FOREGROUND in meta.get("finalizers", []):
                    self._finish_foreground((resource, obj), items)
                elif _ORPHAN in meta.get("finalizers", []):
                    self._orphan((resource, obj), items)

    @staticmethod
    def _dependents(owner: dict, items: list[Item]) -> list[Item]:
        uid = owner["metadata"]["uid"]
        return [(resource, obj) for resource, obj in items
                if any(ref["uid"] == uid for ref in obj["metadata"].get("ownerReferences", []))]

    def _finish_foreground(self, owner: Item, items: list[Item]) -> None:
        dependents = self._dependents(owner[1], items)
        for resource, obj in dependents:
            if "deletionTimestamp" not in obj["metadata"]:
                with unless_gone():
                    self.store.delete(resource, obj["metadata"]["namespace"],
                                      obj["metadata"]["name"])
        if not dependents:
            self._drop_finalizer(owner, _FOREGROUND)

    def _orphan(self, owner: Item, items: list[Item]) -> None:
        uid = owner[1]["metadata"]["uid"]
        for resource, obj in self._dependents(owner[1], items):
            obj["metadata"]["ownerReferences"] = [
                ref for ref in obj["metadata"]["ownerReferences"] if ref["uid"] != uid
            ]
            with unless_gone():
                self.store.replace(resource, obj)
        self._drop_finalizer(owner, _ORPHAN)

    def _drop_finalizer(self, owner: Item, finalizer: str) -> None:
        resource, obj = owner
        obj["metadata"]["finalizers"].remove(finalizer)
        self.store.replace(resource, obj)
